import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { UnavailableError } from './errors.ts';
import type { Delivery, OutgoingMessage, SubscribeOptions, Subscription, Transport } from './ports.ts';
import { fullTopicName, pulsarSettings, type PulsarOptions, type PulsarSettings } from './pulsar-options.ts';

export interface PulsarWebSocketOptions extends PulsarOptions {
  pingIntervalMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

type Settings = PulsarSettings & Required<Pick<PulsarWebSocketOptions, 'pingIntervalMs' | 'reconnectMinMs' | 'reconnectMaxMs'>>;

/**
 * A socket that reconnects with exponential backoff and detects dead peers with pings.
 * Subclasses say what to do with an open socket and with each frame.
 */
abstract class ReconnectingSocket {
  protected socket: WebSocket | null = null;
  private closed = false;
  private attempt = 0;
  private pinger: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private opened: Promise<void>;
  private resolveOpened!: () => void;

  constructor(
    protected readonly url: string,
    protected readonly settings: Settings,
  ) {
    this.opened = this.newOpenedPromise();
    this.connect();
  }

  /** Resolves once the socket is open (now or after a reconnect); rejects after `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    if (this.closed) throw new UnavailableError(`connection to ${this.url} is closed`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UnavailableError(`Pulsar not reachable at ${this.url} within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.opened, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.pinger) clearInterval(this.pinger);
    this.socket?.close();
    this.socket = null;
  }

  protected send(frame: object): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  protected abstract onOpen(): void;
  protected abstract onFrame(frame: Record<string, unknown>): void;
  protected abstract onDisconnect(reason: string): void;

  private newOpenedPromise(): Promise<void> {
    return new Promise<void>((resolve) => (this.resolveOpened = resolve));
  }

  private connect(): void {
    if (this.closed) return;
    const headers = this.settings.token ? { Authorization: `Bearer ${this.settings.token}` } : undefined;
    const socket = new WebSocket(this.url, { headers, handshakeTimeout: 10_000 });
    this.socket = socket;
    let alive = true;
    socket.on('open', () => {
      this.attempt = 0;
      this.onOpen();
      this.resolveOpened();
      this.pinger = setInterval(() => {
        if (!alive) return socket.terminate(); // no pong since the last ping: the peer is gone
        alive = false;
        socket.ping();
      }, this.settings.pingIntervalMs);
      this.pinger.unref();
    });
    socket.on('pong', () => (alive = true));
    socket.on('message', (data) => {
      try {
        this.onFrame(JSON.parse(data.toString()));
      } catch (error) {
        this.settings.log?.('pulsar: unreadable frame', { url: this.url, error: (error as Error).message });
      }
    });
    socket.on('error', (error) => this.settings.log?.('pulsar: socket error', { url: this.url, error: error.message }));
    socket.on('close', (code, reason) => {
      if (this.pinger) clearInterval(this.pinger);
      if (this.socket === socket) this.socket = null;
      const wasOpen = this.attempt === 0;
      if (wasOpen) this.opened = this.newOpenedPromise();
      this.onDisconnect(`closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`);
      if (this.closed) return;
      const delay = Math.min(this.settings.reconnectMaxMs, this.settings.reconnectMinMs * 2 ** this.attempt++);
      this.retry = setTimeout(() => this.connect(), delay * (0.5 + Math.random() / 2));
      this.retry.unref();
    });
  }
}

/** One topic's producer: each send waits for the broker's receipt. */
class Producer extends ReconnectingSocket {
  private readonly pending = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();

  async publish(message: OutgoingMessage): Promise<void> {
    await this.ready(this.settings.sendTimeoutMs);
    const context = randomUUID();
    const receipt = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(context);
        reject(new UnavailableError(`no receipt from Pulsar for ${this.url} within ${this.settings.sendTimeoutMs} ms`));
      }, this.settings.sendTimeoutMs);
      this.pending.set(context, {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
    const payload = Buffer.from(message.payload, 'utf8').toString('base64');
    if (!this.send({ payload, key: message.key || undefined, context })) {
      this.pending.get(context)?.reject(new UnavailableError(`producer socket for ${this.url} is not open`));
      this.pending.delete(context);
    }
    return receipt;
  }

  protected onOpen(): void {}

  protected onFrame(frame: Record<string, unknown>): void {
    const waiter = this.pending.get(String(frame.context));
    if (!waiter) return;
    this.pending.delete(String(frame.context));
    if (frame.result === 'ok') waiter.resolve();
    else waiter.reject(new UnavailableError(`Pulsar refused the message: ${frame.result} ${frame.errorMsg ?? ''}`.trim()));
  }

  protected onDisconnect(reason: string): void {
    for (const waiter of this.pending.values()) waiter.reject(new UnavailableError(`producer ${this.url} ${reason}`));
    this.pending.clear();
  }
}

/**
 * One topic's consumer in pull mode: it asks for at most `maxInFlight` messages, runs one
 * key's messages one at a time in order, acknowledges after the handler resolves and
 * negatively acknowledges when it rejects.
 */
class Consumer extends ReconnectingSocket {
  private readonly chains = new Map<string, Promise<void>>();
  private inFlight = 0;

  constructor(
    url: string,
    settings: Settings,
    private readonly topic: string,
    private readonly handler: SubscribeOptions['handler'],
  ) {
    super(url, settings);
  }

  protected onOpen(): void {
    // Messages unacknowledged on a lost connection are redelivered by the broker.
    this.inFlight = 0;
    this.chains.clear();
    this.send({ type: 'permit', permitMessages: this.settings.maxInFlight });
  }

  protected onFrame(frame: Record<string, unknown>): void {
    if (typeof frame.messageId !== 'string' || typeof frame.payload !== 'string') return;
    const messageId = frame.messageId;
    const key = typeof frame.key === 'string' && frame.key !== '' ? frame.key : null;
    const delivery: Delivery = {
      topic: this.topic,
      key,
      payload: Buffer.from(frame.payload, 'base64').toString('utf8'),
      redeliveryCount: typeof frame.redeliveryCount === 'number' ? frame.redeliveryCount : 0,
    };
    const socket = this.socket;
    this.inFlight++;
    const chainKey = key ?? messageId;
    const previous = this.chains.get(chainKey) ?? Promise.resolve();
    const next = previous
      .then(() => this.handler(delivery))
      .then(
        () => this.settle(socket, { messageId }),
        (error: unknown) => {
          this.settings.log?.('pulsar: handler failed, negative ack', { topic: this.topic, error: (error as Error)?.message });
          this.settle(socket, { type: 'negativeAcknowledge', messageId });
        },
      )
      .finally(() => {
        if (this.chains.get(chainKey) === next) this.chains.delete(chainKey);
      });
    this.chains.set(chainKey, next);
  }

  protected onDisconnect(): void {}

  private settle(socket: WebSocket | null, frame: object): void {
    // An answer on a socket that was replaced is void: the broker redelivers that message.
    if (socket !== this.socket) return;
    this.send(frame);
    this.inFlight--;
    this.send({ type: 'permit', permitMessages: 1 });
  }
}

/**
 * The Transport port over Apache Pulsar's WebSocket API (`ws` package): persistent topics,
 * messages keyed by the saga id, Key_Shared subscriptions (one key's messages in order,
 * keys spread over replicas), acknowledgement after the handler's commit, negative
 * acknowledgement on failure, the broker's dead-letter topic after `maxRedeliveries`,
 * bounded in-flight messages (pull mode), reconnection with backoff and keep-alive pings.
 *
 * @example
 * const transport = new PulsarWebSocketTransport({ url: process.env.PULSAR_URL, token: process.env.PULSAR_TOKEN });
 * await transport.subscribe({ topics: ['evento-pago'], subscription: 'sagas', handler });
 * await transport.publish('comando-pagar-reserva', { key: sagaId, payload: JSON.stringify(envelope) });
 */
export class PulsarWebSocketTransport implements Transport {
  private readonly settings: Settings;
  private readonly wsBase: string;
  private readonly producers = new Map<string, Producer>();
  private readonly consumers = new Set<Consumer>();
  private closed = false;

  constructor(options: PulsarWebSocketOptions = {}) {
    this.settings = {
      ...pulsarSettings(options),
      pingIntervalMs: options.pingIntervalMs ?? 15_000,
      reconnectMinMs: options.reconnectMinMs ?? 200,
      reconnectMaxMs: options.reconnectMaxMs ?? 10_000,
    };
    this.wsBase = this.settings.url.replace(/^http/, 'ws').replace(/\/$/, '');
  }

  /** `persistent://tenant/namespace/topic` for a short topic name. */
  fullName(topic: string): string {
    return fullTopicName(this.settings, topic);
  }

  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    if (this.closed) throw new UnavailableError('transport is closed');
    let producer = this.producers.get(topic);
    if (!producer) {
      producer = new Producer(`${this.wsBase}/ws/v2/producer/${this.path(topic)}?batchingEnabled=false`, this.settings);
      this.producers.set(topic, producer);
    }
    await producer.publish(message);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.closed) throw new UnavailableError('transport is closed');
    const params = new URLSearchParams({
      subscriptionType: 'Key_Shared',
      pullMode: 'true',
      receiverQueueSize: String(this.settings.maxInFlight),
      negativeAckRedeliveryDelay: String(this.settings.negativeAckRedeliveryDelayMs),
      maxRedeliverCount: String(options.maxRedeliveries ?? this.settings.maxRedeliveries),
      deadLetterTopic: this.fullName(options.deadLetterTopic ?? `${options.subscription}-DLQ`),
    });
    const consumers = options.topics.map((topic) => {
      const url = `${this.wsBase}/ws/v2/consumer/${this.path(topic)}/${encodeURIComponent(options.subscription)}?${params}`;
      return new Consumer(url, this.settings, topic, options.handler);
    });
    consumers.forEach((c) => this.consumers.add(c));
    try {
      // The subscription exists once its consumer is connected: only then may anyone publish.
      await Promise.all(consumers.map((c) => c.ready(this.settings.sendTimeoutMs * 3)));
    } catch (error) {
      consumers.forEach((c) => (c.close(), this.consumers.delete(c)));
      throw error;
    }
    return {
      close: async () => {
        consumers.forEach((c) => (c.close(), this.consumers.delete(c)));
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const producer of this.producers.values()) producer.close();
    for (const consumer of this.consumers) consumer.close();
    this.producers.clear();
    this.consumers.clear();
  }

  private path(topic: string): string {
    const [, rest] = this.fullName(topic).split('://');
    return `persistent/${rest}`;
  }
}

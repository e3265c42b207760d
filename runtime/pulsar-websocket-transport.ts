import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { AvailabilityMonitor } from './availability-monitor.ts';
import { BrokerAuthError, MessageRejectedError, UnavailableError } from './errors.ts';
import type { Delivery, OutgoingMessage, SubscribeOptions, Subscription, Transport, TransportAvailability } from './ports.ts';
import { fullTopicName, partitionedTopics, pulsarSettings, type PulsarOptions, type PulsarSettings } from './pulsar-options.ts';
import type { PartitionedTopics } from './pulsar-topics.ts';
import { InFlight } from './in-flight.ts';

/** The broker's default `webSocketMaxTextFrameSize`: 1 MiB. */
export const DEFAULT_MAX_TEXT_FRAME_BYTES = 1_048_576;

export interface PulsarWebSocketOptions extends PulsarOptions {
  pingIntervalMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /**
   * The broker's `webSocketMaxTextFrameSize` (default 1 MiB). A send whose frame (the
   * payload in base64 inside a JSON frame) is larger is refused before sending with
   * {@link MessageRejectedError}: the broker would close the producer's socket on it.
   */
  maxTextFrameBytes?: number;
}

type Settings = PulsarSettings & Required<Pick<PulsarWebSocketOptions, 'pingIntervalMs' | 'reconnectMinMs' | 'reconnectMaxMs' | 'maxTextFrameBytes'>>;

/**
 * The text frame that publishes `message` over the WebSocket API, as this transport sends
 * it; its UTF-8 length is what the broker's `webSocketMaxTextFrameSize` limits.
 *
 * @example
 * Buffer.byteLength(producerFrame({ key: 'saga-1', payload }, randomUUID())) <= DEFAULT_MAX_TEXT_FRAME_BYTES
 */
export function producerFrame(message: OutgoingMessage, context: string): string {
  const payload = Buffer.from(message.payload, 'utf8').toString('base64');
  return JSON.stringify({ payload, properties: message.properties, key: message.key || undefined, context });
}

/** `send-error:<n>` codes of the WebSocket producer (Pulsar's `WebSocketError`) that blame the message. */
const REJECTED_RESULTS = new Set(['send-error:3' /* FailedToDeserializeFromJSON */, 'send-error:7' /* PayloadEncodingError */]);
/** `send-error:<n>` codes that blame the credentials (AuthenticationError, NotAuthorizedError). */
const AUTH_RESULTS = new Set(['send-error:5', 'send-error:6']);
/** Failures of the broker's own producer (`send-error:8`, UnknownError) that blame the message. */
const REJECTED_CAUSES = /InvalidMessage|MessageTooBig|bigger than|too big|too large|IncompatibleSchema|Checksum/i;

/** Why the broker did not take a send, as a typed error: the message's fault, the credentials', or for now. */
function sendError(topic: string, result: string, errorMsg: string): Error {
  const detail = `Pulsar refused the message for ${topic}: ${result}${errorMsg ? ` ${errorMsg}` : ''}`;
  if (REJECTED_RESULTS.has(result) || (result === 'send-error:8' && REJECTED_CAUSES.test(errorMsg))) return new MessageRejectedError(detail);
  if (AUTH_RESULTS.has(result)) return new BrokerAuthError(detail);
  return new UnavailableError(detail);
}

/** Only the string-valued entries of a frame's `properties`. */
function stringProperties(value: unknown): Record<string, string> | undefined {
  if (!value || typeof value !== 'object') return undefined;
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * A socket that reconnects with exponential backoff and detects dead peers with pings.
 * Subclasses say what to do with an open socket and with each frame. It reports each loss
 * and each recovery to the transport's {@link AvailabilityMonitor}.
 */
abstract class ReconnectingSocket {
  protected socket: WebSocket | null = null;
  /** `connecting` until the first open; `down` between a loss (or a failed attempt) and the next open. */
  private state: 'connecting' | 'open' | 'down' | 'closed' = 'connecting';
  private everOpened = false;
  private attempt = 0;
  private pinger: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  /** Callers of `ready()` waiting for the next open; any later attempt that connects releases them. */
  private readonly waiters = new Set<Waiter>();
  /** Why the last attempt failed, for the caller's error. */
  private lastProblem: string | null = null;
  /** Set when the broker refused the credentials before this socket ever connected: no use retrying. */
  private refused: BrokerAuthError | null = null;

  constructor(
    protected readonly url: string,
    protected readonly settings: Settings,
    /** `producer <topic>` or `consumer <topic>`, for errors and availability reasons. */
    protected readonly label: string,
    private readonly availability: AvailabilityMonitor,
  ) {
    this.connect();
  }

  /**
   * Resolves once the socket is open, now or after any later reconnect; rejects after
   * `timeoutMs`, at once with {@link BrokerAuthError} when the broker refuses the credentials.
   */
  ready(timeoutMs: number): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new UnavailableError(`connection to ${this.url} is closed`));
    if (this.refused) return Promise.reject(this.refused);
    if (this.state === 'open') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const problem = this.lastProblem ? ` (last attempt: ${this.lastProblem})` : '';
        reject(new UnavailableError(`Pulsar not reachable at ${this.url} within ${timeoutMs} ms${problem}`));
      }, timeoutMs);
      const waiter: Waiter = {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (error) => (clearTimeout(timer), reject(error)),
      };
      this.waiters.add(waiter);
    });
  }

  /** Whether the broker refused this socket's credentials for good. */
  get authFailure(): BrokerAuthError | null {
    return this.refused;
  }

  close(): void {
    this.state = 'closed';
    if (this.retry) clearTimeout(this.retry);
    if (this.pinger) clearInterval(this.pinger);
    this.socket?.close();
    this.socket = null;
    this.release((waiter) => waiter.reject(new UnavailableError(`connection to ${this.url} is closed`)));
    this.availability.forget(this);
  }

  /** Sends a frame; resolves once it was written to the socket, false when the socket is not open. */
  protected send(frame: object): Promise<boolean> {
    const socket = this.socket;
    if (socket?.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    return this.sendText(socket, JSON.stringify(frame));
  }

  protected sendText(socket: WebSocket, text: string): Promise<boolean> {
    return new Promise((resolve) => socket.send(text, (error) => resolve(!error)));
  }

  protected abstract onOpen(): void;
  protected abstract onFrame(frame: Record<string, unknown>): void;
  protected abstract onDisconnect(reason: string, error: Error | null): void;

  private release(settle: (waiter: Waiter) => void): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    waiters.forEach(settle);
  }

  private connect(): void {
    if (this.state === 'closed') return;
    const headers = this.settings.token ? { Authorization: `Bearer ${this.settings.token}` } : undefined;
    const socket = new WebSocket(this.url, { headers, handshakeTimeout: 10_000 });
    this.socket = socket;
    let alive = true;
    /** Why the upgrade was refused, when it was (the HTTP status and the page's title). */
    let refusal: { status: number; detail: string } | null = null;
    socket.on('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      let body = '';
      const finish = () => {
        clearTimeout(timer);
        if (refusal) return;
        const title = /<title>([^<]*)<\/title>/i.exec(body)?.[1]?.trim();
        refusal = { status, detail: `HTTP ${status}${title ? ` ${title}` : response.statusMessage ? ` ${response.statusMessage}` : ''}` };
        socket.terminate();
      };
      const timer = setTimeout(finish, 1_000);
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => void (body.length < 4_096 && (body += chunk)));
      response.on('end', finish);
      response.on('error', finish);
    });
    socket.on('open', () => {
      this.attempt = 0;
      this.state = 'open';
      this.everOpened = true;
      this.lastProblem = null;
      this.onOpen();
      this.availability.up(this);
      this.release((waiter) => waiter.resolve());
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
        this.settings.log?.('pulsar: unreadable frame', { level: 'warn', url: this.url, error: (error as Error).message });
      }
    });
    socket.on('error', (error) => {
      if (!refusal) this.settings.log?.('pulsar: socket error', { level: 'warn', url: this.url, error: error.message });
    });
    socket.on('close', (code, reason) => {
      if (this.pinger) clearInterval(this.pinger);
      if (this.socket === socket) this.socket = null;
      const why = refusal?.detail ?? `closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`;
      const authError =
        refusal && (refusal.status === 401 || refusal.status === 403)
          ? new BrokerAuthError(
              `Pulsar refused the credentials of ${this.label} at ${this.url}: ${refusal.detail}; ` +
                (this.settings.token ? 'check PULSAR_TOKEN (a token the broker accepts, of a role allowed on this namespace)' : 'the broker requires a token: set PULSAR_TOKEN'),
            )
          : null;
      this.onDisconnect(why, authError);
      if (this.state === 'closed') return;
      this.state = 'down';
      this.lastProblem = why;
      this.availability.down(this, `${this.label}: ${why}`);
      if (authError) {
        this.settings.log?.('pulsar: credentials refused', { level: 'error', url: this.url, error: authError.message });
        this.release((waiter) => waiter.reject(authError));
        // Refused from the start: a wrong or missing token, which retrying cannot fix. A socket
        // that worked before (a token revoked, a broker restarted with other keys) keeps trying.
        if (!this.everOpened) {
          this.refused = authError;
          return;
        }
      }
      const delay = authError
        ? this.settings.reconnectMaxMs
        : Math.min(this.settings.reconnectMaxMs, this.settings.reconnectMinMs * 2 ** this.attempt++);
      this.retry = setTimeout(() => this.connect(), delay * (0.5 + Math.random() / 2));
      this.retry.unref();
    });
  }
}

/** One topic's producer: each send waits for the broker's receipt. */
class Producer extends ReconnectingSocket {
  private readonly pending = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();

  constructor(
    url: string,
    settings: Settings,
    private readonly topic: string,
    availability: AvailabilityMonitor,
  ) {
    super(url, settings, `producer ${topic}`, availability);
  }

  async publish(message: OutgoingMessage): Promise<void> {
    const context = randomUUID();
    const frame = producerFrame(message, context);
    const frameBytes = Buffer.byteLength(frame, 'utf8');
    if (frameBytes > this.settings.maxTextFrameBytes) {
      throw new MessageRejectedError(
        `message for ${this.topic} is too big for the broker: ${Buffer.byteLength(message.payload, 'utf8')} bytes of payload make a ` +
          `${frameBytes}-byte WebSocket frame, over the broker's limit of ${this.settings.maxTextFrameBytes} bytes (webSocketMaxTextFrameSize)`,
      );
    }
    await this.ready(this.settings.sendTimeoutMs);
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
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || !(await this.sendText(socket, frame))) {
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
    else waiter.reject(sendError(this.topic, String(frame.result), typeof frame.errorMsg === 'string' ? frame.errorMsg : ''));
  }

  protected onDisconnect(reason: string, error: Error | null): void {
    for (const waiter of this.pending.values()) waiter.reject(error ?? new UnavailableError(`producer ${this.url} ${reason}`));
    this.pending.clear();
  }
}

/**
 * One topic's consumer in pull mode: it asks for at most `maxInFlight` messages, runs one
 * key's messages one at a time in order, acknowledges after the handler resolves and
 * negatively acknowledges when it rejects. Draining, it asks for nothing more, leaves what
 * still arrives unhandled (the broker redelivers it after close) and waits for its handlers.
 */
class Consumer extends ReconnectingSocket {
  private readonly chains = new Map<string, Promise<void>>();
  /** Every handler not yet settled (its acknowledgement sent), across reconnects. */
  private readonly running = new InFlight<Promise<void>>();
  private draining = false;

  constructor(
    url: string,
    settings: Settings,
    private readonly topic: string,
    private readonly handler: SubscribeOptions['handler'],
    availability: AvailabilityMonitor,
  ) {
    super(url, settings, `consumer ${topic}`, availability);
  }

  /** Stops asking for messages and resolves when every handler settled, or after `timeoutMs` (logging what was left). */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    if (!(await this.running.idle(timeoutMs))) this.settings.log?.('pulsar: drain timed out, handlers still running', { level: 'warn', topic: this.topic, running: this.running.size, timeoutMs });
  }

  protected onOpen(): void {
    // Messages unacknowledged on a lost connection are redelivered by the broker.
    this.chains.clear();
    if (!this.draining) void this.send({ type: 'permit', permitMessages: this.settings.maxInFlight });
  }

  protected onFrame(frame: Record<string, unknown>): void {
    if (typeof frame.messageId !== 'string' || typeof frame.payload !== 'string') return;
    // Pushed on a permit given before the drain: left unacknowledged, redelivered after close.
    if (this.draining) return;
    const messageId = frame.messageId;
    const key = typeof frame.key === 'string' && frame.key !== '' ? frame.key : null;
    const properties = stringProperties(frame.properties);
    const delivery: Delivery = {
      topic: this.topic,
      key,
      payload: Buffer.from(frame.payload, 'base64').toString('utf8'),
      redeliveryCount: typeof frame.redeliveryCount === 'number' ? frame.redeliveryCount : 0,
      ...(properties ? { properties } : {}),
    };
    const socket = this.socket;
    const chainKey = key ?? messageId;
    const previous = this.chains.get(chainKey) ?? Promise.resolve();
    const next: Promise<void> = previous
      .then(() => this.handler(delivery))
      .then(
        () => this.settle(socket, { messageId }),
        (error: unknown) => {
          this.settings.log?.('pulsar: handler failed, negative ack', { level: 'warn', topic: this.topic, error: (error as Error)?.message });
          return this.settle(socket, { type: 'negativeAcknowledge', messageId });
        },
      )
      .finally(() => {
        if (this.chains.get(chainKey) === next) this.chains.delete(chainKey);
        this.running.delete(next);
      });
    this.chains.set(chainKey, next);
    this.running.add(next);
  }

  protected onDisconnect(): void {}

  private async settle(socket: WebSocket | null, frame: object): Promise<void> {
    // An answer on a socket that was replaced is void: the broker redelivers that message.
    if (!socket || socket !== this.socket) return;
    await this.send(frame);
    if (!this.draining) void this.send({ type: 'permit', permitMessages: 1 });
  }
}

/**
 * The Transport port over Apache Pulsar's WebSocket API (`ws` package): persistent topics,
 * messages keyed by the saga id, Key_Shared subscriptions (one key's messages in order,
 * keys spread over replicas), acknowledgement after the handler's commit, negative
 * acknowledgement on failure, the broker's dead-letter topic after `maxRedeliveries`,
 * bounded in-flight messages (pull mode), reconnection with backoff and keep-alive pings,
 * graceful drain, availability reports (`watch`), and typed publish errors: a message the
 * broker refuses for good is a {@link MessageRejectedError}, refused credentials a
 * {@link BrokerAuthError}, anything else an {@link UnavailableError}.
 *
 * @example
 * const transport = new PulsarWebSocketTransport({ url: process.env.PULSAR_URL, token: process.env.PULSAR_TOKEN });
 * transport.watch(({ available, reason }) => console.log('broker', available ? 'back' : `lost: ${reason}`));
 * await transport.subscribe({ topics: ['evento-pago'], subscription: 'sagas', handler });
 * await transport.publish('comando-pagar-reserva', { key: sagaId, payload: JSON.stringify(envelope) });
 */
export class PulsarWebSocketTransport implements Transport {
  private readonly settings: Settings;
  private readonly wsBase: string;
  private readonly producers = new Map<string, Producer>();
  private readonly consumers = new Set<Consumer>();
  private readonly availability = new AvailabilityMonitor();
  private readonly topics: PartitionedTopics;
  private closed = false;

  constructor(options: PulsarWebSocketOptions = {}) {
    this.settings = {
      ...pulsarSettings(options),
      pingIntervalMs: options.pingIntervalMs ?? 15_000,
      reconnectMinMs: options.reconnectMinMs ?? 200,
      reconnectMaxMs: options.reconnectMaxMs ?? 10_000,
      maxTextFrameBytes: options.maxTextFrameBytes ?? DEFAULT_MAX_TEXT_FRAME_BYTES,
    };
    this.wsBase = this.settings.url.replace(/^http/, 'ws').replace(/\/$/, '');
    this.topics = partitionedTopics(this.settings);
  }

  /** `persistent://tenant/namespace/topic` for a short topic name. */
  fullName(topic: string): string {
    return fullTopicName(this.settings, topic);
  }

  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    if (this.closed) throw new UnavailableError('transport is closed');
    let producer = this.producers.get(topic);
    if (!producer) {
      await this.topics.ensure(topic);
      if (this.closed) throw new UnavailableError('transport is closed');
      producer = this.producers.get(topic);
    }
    if (!producer) {
      // A keyed message goes to its key's partition by Murmur3, as the native driver hashes (on a partitioned topic).
      producer = new Producer(`${this.wsBase}/ws/v2/producer/${this.path(topic)}?batchingEnabled=false&hashingScheme=Murmur3_32Hash`, this.settings, topic, this.availability);
      this.producers.set(topic, producer);
    }
    try {
      await producer.publish(message);
      this.availability.up(producer);
    } catch (error) {
      if (producer.authFailure && this.producers.get(topic) === producer) {
        // Refused credentials: forget the producer, so each publish asks the broker again (and fails fast).
        this.producers.delete(topic);
        producer.close();
      } else if (error instanceof UnavailableError) {
        this.availability.down(producer, `producer ${topic}: ${error.message}`);
      }
      throw error;
    }
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
    await Promise.all(options.topics.map((topic) => this.topics.ensure(topic)));
    const consumers = options.topics.map((topic) => {
      const url = `${this.wsBase}/ws/v2/consumer/${this.path(topic)}/${encodeURIComponent(options.subscription)}?${params}`;
      return new Consumer(url, this.settings, topic, options.handler, this.availability);
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
      drain: async (timeoutMs: number) => {
        await Promise.all(consumers.map((c) => c.drain(timeoutMs)));
      },
      close: async () => {
        consumers.forEach((c) => (c.close(), this.consumers.delete(c)));
      },
    };
  }

  watch(listener: (state: TransportAvailability) => void): () => void {
    return this.availability.watch(listener);
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

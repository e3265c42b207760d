import { MessageRejectedError } from './errors.ts';
import type { Delivery, OutgoingMessage, SubscribeOptions, Subscription, Transport, TransportAvailability } from './ports.ts';
import type { Log } from './logger.ts';

export interface InMemoryTransportOptions {
  /** Delay before a negatively acknowledged message is redelivered (default 50 ms). */
  nackDelayMs?: number;
  /** Unacknowledged messages one consumer holds at most (default 1000). */
  maxInFlightPerConsumer?: number;
  /**
   * Largest payload (UTF-8 bytes) `publish` accepts; a larger one is refused with
   * {@link MessageRejectedError}, as a broker refuses a message over its limit. Default: no limit.
   */
  maxPayloadBytes?: number;
  log?: Log;
}

type Settings = Required<Pick<InMemoryTransportOptions, 'nackDelayMs' | 'maxInFlightPerConsumer'>> & Pick<InMemoryTransportOptions, 'maxPayloadBytes' | 'log'>;

interface Pending {
  topic: string;
  key: string | null;
  payload: string;
  redeliveryCount: number;
  notBefore: number;
  properties?: Record<string, string>;
}

interface InFlight {
  key: string;
  message: Pending;
  /** Set when the consumer closed before the handler settled: its outcome no longer counts. */
  abandoned: boolean;
}

interface Consumer {
  handler: SubscribeOptions['handler'];
  inFlight: Set<InFlight>;
  closed: boolean;
  /** Draining: nothing more is dispatched to it. */
  draining: boolean;
  /** Called each time one of its deliveries settles. */
  onSettled: (() => void) | null;
}

class DurableSubscription {
  readonly backlog: Pending[] = [];
  readonly consumers: Consumer[] = [];
  readonly busyKeys = new Set<string>();
  maxRedeliveries = 10;
  deadLetterTopic: string;
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly name: string,
    readonly topics: Set<string>,
    private readonly transport: InMemoryTransport,
    private readonly options: Settings,
  ) {
    this.deadLetterTopic = `${name}-DLQ`;
  }

  enqueue(message: Pending): void {
    this.backlog.push(message);
    this.schedule();
  }

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    const live = this.consumers.filter((c) => !c.closed && !c.draining);
    if (live.length === 0) return;
    const now = Date.now();
    let earliest = Infinity;
    const blockedKeys = new Set<string>();
    for (let i = 0; i < this.backlog.length; i++) {
      const message = this.backlog[i];
      const key = message.key ?? `\u0000${i}`;
      // A message waits behind an earlier one of its key, in flight or still pending.
      if (this.busyKeys.has(key) || blockedKeys.has(key)) continue;
      if (message.notBefore > now) {
        earliest = Math.min(earliest, message.notBefore);
        blockedKeys.add(key);
        continue;
      }
      const consumer = live[hash(key) % live.length];
      if (consumer.inFlight.size >= this.options.maxInFlightPerConsumer) {
        blockedKeys.add(key);
        continue;
      }
      this.backlog.splice(i--, 1);
      this.run(consumer, key, message);
    }
    if (earliest < Infinity && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, earliest - now);
    }
  }

  private run(consumer: Consumer, key: string, message: Pending): void {
    const entry: InFlight = { key, message, abandoned: false };
    consumer.inFlight.add(entry);
    this.busyKeys.add(key);
    const delivery: Delivery = {
      topic: message.topic,
      key: message.key,
      payload: message.payload,
      redeliveryCount: message.redeliveryCount,
      ...(message.properties ? { properties: { ...message.properties } } : {}),
    };
    // Asynchronous delivery, as from a broker: never within publish's call stack.
    void Promise.resolve()
      .then(() => consumer.handler(delivery))
      .then(
        () => undefined,
        () => {
          if (!entry.abandoned) this.nack(message);
        },
      )
      .finally(() => {
        // An abandoned delivery was already put back (see `release`); its key may be in flight elsewhere.
        if (entry.abandoned) return;
        consumer.inFlight.delete(entry);
        this.busyKeys.delete(key);
        consumer.onSettled?.();
        this.schedule();
      });
  }

  /** A closed consumer's unacknowledged messages go back, first in line, as a broker redelivers them. */
  release(consumer: Consumer): void {
    for (const entry of [...consumer.inFlight].reverse()) {
      entry.abandoned = true;
      this.backlog.unshift({ ...entry.message, redeliveryCount: entry.message.redeliveryCount + 1, notBefore: 0 });
      this.busyKeys.delete(entry.key);
    }
    consumer.inFlight.clear();
    this.schedule();
  }

  private nack(message: Pending): void {
    const redeliveryCount = message.redeliveryCount + 1;
    if (redeliveryCount > this.maxRedeliveries) {
      // As Pulsar does, the dead letter names where it came from. After the transport closed
      // there is nobody left to read it.
      this.transport
        .deliver(this.deadLetterTopic, { key: message.key, payload: message.payload, properties: { ...message.properties, REAL_TOPIC: message.topic, REAL_SUBSCRIPTION: this.name } })
        .catch(() => undefined);
      return;
    }
    this.backlog.unshift({ ...message, redeliveryCount, notBefore: Date.now() + this.options.nackDelayMs });
  }
}

/**
 * An in-process broker with Pulsar's semantics where they matter to sagas: durable
 * subscriptions that keep messages until acknowledged, asynchronous delivery, per-key
 * ordering across the consumers of a subscription (like Key_Shared), redelivery of what was
 * negatively acknowledged or never acknowledged, and a dead-letter topic after
 * `maxRedeliveries`. The embedded default of `npm start`; it keeps nothing across a
 * process restart.
 *
 * @example
 * const transport = new InMemoryTransport();
 * await transport.subscribe({ topics: ['evento-pago'], subscription: 'sagas', handler: async (d) => handle(d) });
 * await transport.publish('evento-pago', { key: sagaId, payload: JSON.stringify(envelope) });
 */
export class InMemoryTransport implements Transport {
  private readonly subscriptions = new Map<string, DurableSubscription>();
  private readonly options: Settings;
  private closed = false;

  constructor(options: InMemoryTransportOptions = {}) {
    this.options = {
      nackDelayMs: options.nackDelayMs ?? 50,
      maxInFlightPerConsumer: options.maxInFlightPerConsumer ?? 1000,
      maxPayloadBytes: options.maxPayloadBytes,
      log: options.log,
    };
  }

  /** @throws MessageRejectedError for a payload over `maxPayloadBytes`. */
  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    if (this.closed) throw new Error('transport is closed');
    const bytes = Buffer.byteLength(message.payload, 'utf8');
    if (this.options.maxPayloadBytes !== undefined && bytes > this.options.maxPayloadBytes) {
      throw new MessageRejectedError(`message for ${topic} is too big: ${bytes} bytes of payload, over the limit of ${this.options.maxPayloadBytes}`);
    }
    await this.deliver(topic, { key: message.key || null, payload: message.payload, ...(message.properties ? { properties: message.properties } : {}) });
  }

  /** Puts a message in every subscription of `topic` (with properties, e.g. those a broker dead-letter topic adds). */
  async deliver(topic: string, message: { key: string | null; payload: string; properties?: Record<string, string> }): Promise<void> {
    if (this.closed) throw new Error('transport is closed');
    for (const subscription of this.subscriptions.values()) {
      if (subscription.topics.has(topic)) {
        subscription.enqueue({ topic, key: message.key, payload: message.payload, redeliveryCount: 0, notBefore: 0, ...(message.properties ? { properties: message.properties } : {}) });
      }
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.closed) throw new Error('transport is closed');
    let subscription = this.subscriptions.get(options.subscription);
    if (!subscription) {
      subscription = new DurableSubscription(options.subscription, new Set(), this, this.options);
      this.subscriptions.set(options.subscription, subscription);
    }
    options.topics.forEach((t) => subscription.topics.add(t));
    if (options.maxRedeliveries !== undefined) subscription.maxRedeliveries = options.maxRedeliveries;
    if (options.deadLetterTopic) subscription.deadLetterTopic = options.deadLetterTopic;
    const consumer: Consumer = { handler: options.handler, inFlight: new Set(), closed: false, draining: false, onSettled: null };
    subscription.consumers.push(consumer);
    subscription.schedule();
    const owner = subscription;
    const log = this.options.log;
    return {
      drain: async (timeoutMs: number) => {
        consumer.draining = true;
        // Its keys may go to the other consumers from now on.
        owner.schedule();
        if (consumer.inFlight.size === 0 || consumer.closed) return;
        let timer: NodeJS.Timeout | undefined;
        const drained = await new Promise<boolean>((resolve) => {
          consumer.onSettled = () => {
            if (consumer.inFlight.size === 0) resolve(true);
          };
          timer = setTimeout(() => resolve(false), timeoutMs);
        });
        clearTimeout(timer);
        consumer.onSettled = null;
        if (!drained) log?.('in-memory transport: drain timed out, handlers still running', { level: 'warn', subscription: owner.name, running: consumer.inFlight.size, timeoutMs });
      },
      close: async () => {
        if (consumer.closed) return;
        consumer.closed = true;
        owner.consumers.splice(owner.consumers.indexOf(consumer), 1);
        owner.release(consumer);
        consumer.onSettled?.();
      },
    };
  }

  /** The in-process broker is always there: nothing to report. */
  watch(_listener: (state: TransportAvailability) => void): () => void {
    return () => undefined;
  }

  /** Messages waiting (not in flight) in a subscription: for tests and diagnostics. */
  backlog(subscription: string): number {
    return this.subscriptions.get(subscription)?.backlog.length ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function hash(key: string): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The Transport port over the official Node client `pulsar-client` (a native addon over
 * libpulsar, the C++ client): an OPTIONAL driver, chosen with `SAGA_PULSAR_DRIVER=native`.
 *
 * `pulsar-client` downloads its native binary at install time from a host the project's
 * machines cannot reach; `npm run setup:native` builds libpulsar from source and the addon
 * against it instead. `test/pulsar-client-transport.test.ts` runs the shared transport
 * contract against the real broker (required in CI), and the driver's own logic against a
 * fake of the module.
 *
 * What the binary protocol gives that the WebSocket API does not, used here:
 * acknowledgements grouped by the client, per-message acknowledgement inside a batch, the
 * client's own negative-ack delay, dead-letter policy and Key_Shared policy, and, when
 * `batchingDelayMs` asks for it, producer batching by key (`KeyBasedBatching`, so
 * Key_Shared still spreads keys) with LZ4 compression.
 *
 * Written against pulsar-client 1.18.0 (its `index.d.ts` and `src/Consumer.cc`).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { AvailabilityMonitor } from './availability-monitor.ts';
import { BrokerAuthError, MessageRejectedError, UnavailableError } from './errors.ts';
import type { Delivery, DeliveryHandler, OutgoingMessage, SubscribeOptions, Subscription, Transport, TransportAvailability } from './ports.ts';
import { fullTopicName, partitionedTopics, pulsarSettings, type PulsarOptions, type PulsarSettings } from './pulsar-options.ts';
import type { PartitionedTopics } from './pulsar-topics.ts';
import { InFlight } from './in-flight.ts';
import type { LogLevel } from './logger.ts';

// ---------------------------------------------------------------------------------------
// The part of the `pulsar-client` API this driver uses. Its own typings come with the
// package, which is optional and absent where it cannot be installed, so the driver
// declares what it needs and checks the loaded module's shape at run time.
// ---------------------------------------------------------------------------------------

/** `Pulsar.LogLevel` values. */
export type PulsarLogLevel = 0 | 1 | 2 | 3;

/** An `AuthenticationToken` (or other authentication) instance; opaque to this driver. */
export type PulsarAuthentication = object;

export interface PulsarClientConfig {
  serviceUrl: string;
  authentication?: PulsarAuthentication;
  operationTimeoutSeconds?: number;
  log?: (level: PulsarLogLevel, file: string, line: number, message: string) => void;
  logLevel?: PulsarLogLevel;
}

export interface PulsarProducerConfig {
  topic: string;
  sendTimeoutMs?: number;
  batchingEnabled?: boolean;
  batchingType?: 'DefaultBatching' | 'KeyBasedBatching';
  batchingMaxPublishDelayMs?: number;
  batchingMaxMessages?: number;
  compressionType?: 'None' | 'Zlib' | 'LZ4' | 'ZSTD' | 'SNAPPY';
  hashingScheme?: 'Murmur3_32Hash' | 'BoostHash' | 'JavaStringHash';
}

export interface PulsarConsumerConfig {
  topic: string;
  subscription: string;
  subscriptionType: 'KeyShared';
  receiverQueueSize: number;
  nAckRedeliverTimeoutMs: number;
  deadLetterPolicy: { deadLetterTopic: string; maxRedeliverCount: number };
  keySharedPolicy?: { keyShareMode?: 'AutoSplit' | 'Sticky'; allowOutOfOrderDelivery?: boolean };
  batchIndexAckEnabled?: boolean;
}

export interface PulsarProducerMessage {
  data: Buffer;
  partitionKey?: string;
}

export interface PulsarMessage {
  getTopicName(): string;
  getData(): Buffer;
  getPartitionKey(): string;
  getRedeliveryCount(): number;
  getProperties(): Record<string, string>;
}

export interface PulsarProducer {
  send(message: PulsarProducerMessage): Promise<unknown>;
  close(): Promise<unknown>;
}

export interface PulsarConsumer {
  receive(): Promise<PulsarMessage>;
  acknowledge(message: PulsarMessage): Promise<unknown>;
  negativeAcknowledge(message: PulsarMessage): void;
  /** Whether the consumer holds a connection to its broker now (pulsar-client ≥ 1.9). */
  isConnected?(): boolean;
  close(): Promise<unknown>;
}

export interface PulsarClient {
  createProducer(config: PulsarProducerConfig): Promise<PulsarProducer>;
  subscribe(config: PulsarConsumerConfig): Promise<PulsarConsumer>;
  close(): Promise<unknown>;
}

/** What this driver needs of `import('pulsar-client')`. */
export interface PulsarClientModule {
  Client: new (config: PulsarClientConfig) => PulsarClient;
  AuthenticationToken: new (params: { token: string }) => PulsarAuthentication;
}

// ---------------------------------------------------------------------------------------

/**
 * The shared Pulsar options. `url` may also be `pulsar://host:6650` (binary protocol); with
 * the web service URL the C++ client looks topics up over HTTP. `maxInFlight` is also the
 * consumer's `receiverQueueSize`; lookups and subscribing wait three times `sendTimeoutMs`.
 */
export type PulsarClientTransportOptions = PulsarOptions;

/** How `create` loads the module; a seam for tests (default: `import('pulsar-client')`). */
export interface PulsarClientLoader {
  load?: () => Promise<unknown>;
}

type Settings = PulsarSettings;

/** The npm package name, in a variable so that TypeScript does not look for its typings. */
const PACKAGE = 'pulsar-client';

const LOG_WARN: PulsarLogLevel = 2;
/** The driver's levels (0 debug … 3 error) as the runtime's. */
const PULSAR_LEVELS: Record<PulsarLogLevel, LogLevel> = { 0: 'debug', 1: 'info', 2: 'warn', 3: 'error' };

/** The message of the error `create` throws when the module cannot be loaded. */
export function driverUnavailableMessage(detail: string): string {
  return `the optional pulsar-client driver is not installed or its native library did not load (${detail}); use SAGA_PULSAR_DRIVER=websocket`;
}

/** Checks that a loaded module (ESM namespace of a CommonJS module, or the module itself) has what this driver uses. */
function asPulsarModule(loaded: unknown): PulsarClientModule {
  const candidates = [loaded, (loaded as { default?: unknown } | null)?.default];
  for (const candidate of candidates) {
    const module = candidate as Partial<Record<keyof PulsarClientModule, unknown>> | null | undefined;
    if (module && typeof module.Client === 'function' && typeof module.AuthenticationToken === 'function') {
      return module as PulsarClientModule;
    }
  }
  throw new Error('the module loaded as pulsar-client has no Client and AuthenticationToken constructors');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** libpulsar results (in the error's message) that blame the message: sending it again fails again. */
const REJECTED = /MessageTooBig|InvalidMessage|ChecksumError|IncompatibleSchema/i;
/** libpulsar results that blame the credentials. */
const REFUSED = /AuthenticationError|AuthorizationError|NotAuthorized/i;

/** What the client logs when the broker refuses its credentials (an HTTP lookup answered 401 or 403). */
const REFUSED_IN_LOG = /\b(401|403)\b|Unauthorized|Forbidden|AuthenticationError|AuthorizationError/i;

/**
 * A failure of the client as a typed error: the message's fault, the credentials', or for
 * now. Over an HTTP lookup URL the client reports a refused token only as `ConnectError`
 * and logs the 401: `refusal` is what it logged just before, when it did.
 */
function classify(detail: string, error: unknown, refusal: string | null = null, hasToken = false): Error {
  const reason = messageOf(error);
  const advice = hasToken ? 'check PULSAR_TOKEN (a token the broker accepts, of a role allowed on this namespace)' : 'the broker requires a token: set PULSAR_TOKEN';
  if (REJECTED.test(reason)) return new MessageRejectedError(`${detail}: ${reason}`, { cause: error });
  if (REFUSED.test(reason)) return new BrokerAuthError(`${detail}: ${reason}; ${advice}`, { cause: error });
  if (refusal && /ConnectError|Lookup/i.test(reason)) return new BrokerAuthError(`${detail}: ${reason}: the broker refused the credentials (${refusal}); ${advice}`, { cause: error });
  return new UnavailableError(`${detail}: ${reason}`, { cause: error });
}

/** How often a consumer's connection state is read (a native call that only reads a flag). */
const CONNECTION_CHECK_MS = 250;

/**
 * One consumer of one topic: it asks the client for the next message only while fewer
 * than `maxInFlight` are in its handlers, runs one key's messages one at a time in order,
 * acknowledges after the handler resolves and negatively acknowledges when it rejects.
 *
 * Pull (`consumer.receive()`), not the `listener` option: in pulsar-client 1.18 the
 * listener runs on the client's shared listener thread, which waits for the promise the
 * listener returns, so returning the handler's promise would stall every consumer behind
 * one slow handler, and not returning it leaves in-flight messages unbounded.
 */
class ConsumerLoop {
  private readonly chains = new Map<string, Promise<void>>();
  /** Every handler not yet settled (its acknowledgement sent). */
  private readonly running = new InFlight<Promise<void>>();
  private inFlight = 0;
  private closed = false;
  private draining = false;
  private wake: (() => void) | null = null;
  private readonly connectionCheck: NodeJS.Timeout | undefined;

  constructor(
    private readonly consumer: PulsarConsumer,
    private readonly topic: string,
    private readonly handler: DeliveryHandler,
    private readonly settings: Settings,
    private readonly availability: AvailabilityMonitor,
  ) {
    this.pump().catch((error: unknown) => this.settings.log?.('pulsar-client: consumer loop stopped', { level: 'error', topic: this.topic, error: messageOf(error) }));
    // The C++ client reconnects on its own: a pending receive() neither fails nor returns while
    // the broker is gone, so only the connection state tells (the runtime holds deadlines then).
    if (typeof consumer.isConnected === 'function') {
      this.connectionCheck = setInterval(() => this.checkConnection(), CONNECTION_CHECK_MS);
      this.connectionCheck.unref();
    }
  }

  private checkConnection(): void {
    if (this.closed) return;
    if (this.consumer.isConnected!()) this.availability.up(this);
    else this.availability.down(this, `consumer ${this.topic}: not connected to the broker`);
  }

  /** Receives nothing more and resolves when every handler settled, or after `timeoutMs` (logging what was left). */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.wake?.();
    if (!(await this.running.idle(timeoutMs))) this.settings.log?.('pulsar-client: drain timed out, handlers still running', { level: 'warn', topic: this.topic, running: this.running.size, timeoutMs });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.connectionCheck);
    this.availability.forget(this);
    this.wake?.();
    // Closing fails the pending receive() (and a message it still yields is not handled);
    // unacknowledged messages go back to the broker for the subscription's other consumers.
    await this.consumer.close().catch((error: unknown) => this.settings.log?.('pulsar-client: closing a consumer failed', { level: 'warn', topic: this.topic, error: messageOf(error) }));
  }

  private async pump(): Promise<void> {
    let failures = 0;
    while (!this.closed && !this.draining) {
      if (this.inFlight >= this.settings.maxInFlight) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        continue;
      }
      let message: PulsarMessage;
      try {
        message = await this.consumer.receive();
        failures = 0;
        this.availability.up(this);
      } catch (error) {
        if (this.closed) return;
        const reason = messageOf(error);
        this.settings.log?.('pulsar-client: receive failed', { level: 'warn', topic: this.topic, error: reason });
        if (/AlreadyClosed/i.test(reason)) return;
        this.availability.down(this, `consumer ${this.topic}: ${reason}`);
        await delay(Math.min(5_000, 100 * 2 ** failures++));
        continue;
      }
      // A message received while closing or draining is not handled: unacknowledged, it is redelivered after close.
      if (this.closed || this.draining) return;
      this.dispatch(message);
    }
  }

  private dispatch(message: PulsarMessage): void {
    const partitionKey = message.getPartitionKey();
    const key = partitionKey === '' ? null : partitionKey;
    const properties = message.getProperties();
    const delivery: Delivery = {
      topic: this.topic,
      key,
      payload: message.getData().toString('utf8'),
      redeliveryCount: message.getRedeliveryCount(),
      ...(properties && typeof properties === 'object' ? { properties: { ...properties } } : {}),
    };
    this.inFlight++;
    const previous = (key !== null && this.chains.get(key)) || Promise.resolve();
    const next: Promise<void> = previous
      .then(() => this.handler(delivery))
      .then(
        () => this.settle(message, true),
        (error: unknown) => {
          this.settings.log?.('pulsar-client: handler failed, negative ack', { level: 'warn', topic: this.topic, error: messageOf(error) });
          this.settle(message, false);
        },
      )
      .finally(() => {
        if (key !== null && this.chains.get(key) === next) this.chains.delete(key);
        this.running.delete(next);
      });
    if (key !== null) this.chains.set(key, next);
    this.running.add(next);
  }

  private async settle(message: PulsarMessage, ok: boolean): Promise<void> {
    this.inFlight--;
    this.wake?.();
    // An answer after close is void: the broker redelivers the message to another consumer.
    if (this.closed) return;
    try {
      if (ok) {
        await this.consumer.acknowledge(message).catch((error: unknown) => this.settings.log?.('pulsar-client: acknowledge failed', { level: 'warn', topic: this.topic, error: messageOf(error) }));
      } else {
        this.consumer.negativeAcknowledge(message);
      }
    } catch (error) {
      this.settings.log?.('pulsar-client: acknowledgement failed', { level: 'warn', topic: this.topic, error: messageOf(error) });
    }
  }
}

/**
 * The Transport port over the official `pulsar-client` package (native libpulsar):
 * persistent topics, messages keyed by the saga id (`partitionKey`), Key_Shared
 * subscriptions, one consumer per topic with one key's messages handled one at a time in
 * order, acknowledgement after the handler resolves, negative acknowledgement when it
 * rejects, the client's dead-letter topic after `maxRedeliveries`, at most `maxInFlight`
 * messages in a consumer's handlers (plus as many prefetched), reconnection by the C++
 * client. The same contract as {@link PulsarWebSocketTransport}, run against the real
 * broker in CI (see the file header). Load it with {@link PulsarClientTransport.create},
 * which imports `pulsar-client` only then.
 *
 * @example
 * // SAGA_PULSAR_DRIVER=native, once npm run setup:native built pulsar-client:
 * const transport = await PulsarClientTransport.create({ url: 'pulsar://127.0.0.1:6650', token: process.env.PULSAR_TOKEN });
 * await transport.subscribe({ topics: ['evento-pago'], subscription: 'sagas', handler });
 * await transport.publish('comando-pagar-reserva', { key: sagaId, payload: JSON.stringify(envelope) });
 */
export class PulsarClientTransport implements Transport {
  private readonly producers = new Map<string, Promise<PulsarProducer>>();
  private readonly consumers = new Set<ConsumerLoop>();
  private readonly availability = new AvailabilityMonitor();
  private readonly topics: PartitionedTopics;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly client: PulsarClient,
    private readonly settings: Settings,
    private readonly refusals: { at: number; detail: string },
  ) {
    this.topics = partitionedTopics(settings);
  }

  /**
   * Loads `pulsar-client` and opens a client (it connects on first use).
   *
   * @throws Error "the optional pulsar-client driver is not installed or its native library
   * did not load (…); use SAGA_PULSAR_DRIVER=websocket" when the module cannot be loaded.
   * @example
   * const transport = await PulsarClientTransport.create({ url: config.pulsar.url, token: config.pulsar.token, log });
   */
  static async create(options: PulsarClientTransportOptions = {}, loader: PulsarClientLoader = {}): Promise<PulsarClientTransport> {
    let pulsar: PulsarClientModule;
    try {
      const specifier: string = PACKAGE;
      pulsar = asPulsarModule(await (loader.load ?? (() => import(specifier)))());
    } catch (error) {
      throw new Error(driverUnavailableMessage(messageOf(error)), { cause: error });
    }
    const settings: Settings = pulsarSettings(options);
    if (!Number.isInteger(settings.maxInFlight) || settings.maxInFlight < 1) throw new Error(`maxInFlight must be a positive integer, got ${settings.maxInFlight}`);
    const log = settings.log;
    const refusals = { at: 0, detail: '' };
    const client = new pulsar.Client({
      serviceUrl: settings.url,
      ...(settings.token ? { authentication: new pulsar.AuthenticationToken({ token: settings.token }) } : {}),
      operationTimeoutSeconds: Math.max(1, Math.ceil((settings.sendTimeoutMs * 3) / 1000)),
      logLevel: LOG_WARN,
      log: (level: PulsarLogLevel, file: string, line: number, message: string) => {
        const refused = REFUSED_IN_LOG.exec(message);
        if (refused) Object.assign(refusals, { at: Date.now(), detail: refused[1] ? `HTTP ${refused[1]}` : refused[0] });
        log?.(`pulsar-client: ${message}`, { level: PULSAR_LEVELS[level] ?? 'warn', file, line });
      },
    });
    return new PulsarClientTransport(client, settings, refusals);
  }

  /** The credentials refusal the client logged in the last 30 s, if any. */
  private refusal(): string | null {
    return Date.now() - this.refusals.at < 30_000 ? this.refusals.detail : null;
  }

  private classify(detail: string, error: unknown): Error {
    return classify(detail, error, this.refusal(), !!this.settings.token);
  }

  /** `persistent://tenant/namespace/topic` for a short topic name. */
  fullName(topic: string): string {
    return fullTopicName(this.settings, topic);
  }

  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    if (this.closing) throw new UnavailableError('transport is closed');
    const pending = this.producer(topic);
    const part = `producer ${topic}`;
    let producer: PulsarProducer;
    try {
      producer = await pending;
    } catch (error) {
      throw this.unavailable(part, this.classify(`no Pulsar producer for ${this.fullName(topic)}`, error));
    }
    try {
      await producer.send({ data: Buffer.from(message.payload, 'utf8'), ...(message.key ? { partitionKey: message.key } : {}), ...(message.properties ? { properties: message.properties } : {}) });
    } catch (error) {
      const reason = messageOf(error);
      // A producer the client closed for good is replaced on the next publish.
      if (/AlreadyClosed|ProducerFenced/i.test(reason) && this.producers.get(topic) === pending) this.producers.delete(topic);
      throw this.unavailable(part, this.classify(`Pulsar did not take the message for ${this.fullName(topic)}`, error));
    }
    this.availability.up(part);
  }

  watch(listener: (state: TransportAvailability) => void): () => void {
    return this.availability.watch(listener);
  }

  /** Reports a publish that found no broker (not one whose message was refused) and returns the error. */
  private unavailable(part: string, error: Error): Error {
    if (error instanceof UnavailableError) this.availability.down(part, `${part}: ${error.message}`);
    return error;
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.closing) throw new UnavailableError('transport is closed');
    const deadLetterTopic = this.fullName(options.deadLetterTopic ?? `${options.subscription}-DLQ`);
    const maxRedeliverCount = options.maxRedeliveries ?? this.settings.maxRedeliveries;
    await Promise.all(options.topics.map((topic) => this.topics.ensure(topic)));
    // The subscription exists once every consumer is created: only then may anyone publish.
    const results = await Promise.allSettled(
      options.topics.map((topic) =>
        this.client.subscribe({
          topic: this.fullName(topic),
          subscription: options.subscription,
          subscriptionType: 'KeyShared',
          receiverQueueSize: this.settings.maxInFlight,
          nAckRedeliverTimeoutMs: this.settings.negativeAckRedeliveryDelayMs,
          deadLetterPolicy: { deadLetterTopic, maxRedeliverCount },
          // Hash ranges split among the subscription's consumers; one key's messages in order.
          keySharedPolicy: { keyShareMode: 'AutoSplit', allowOutOfOrderDelivery: false },
          // A message of a batch is acknowledged alone, so a batch is not redelivered whole.
          batchIndexAckEnabled: true,
        }),
      ),
    );
    const created = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed || this.closing) {
      await Promise.allSettled(created.map((consumer) => consumer.close()));
      if (!failed) throw new UnavailableError('transport is closed');
      const error = this.classify(`cannot subscribe ${options.subscription} to ${options.topics.join(', ')}`, failed.reason);
      throw error instanceof MessageRejectedError ? new UnavailableError(error.message, { cause: failed.reason }) : error;
    }
    const loops = created.map((consumer, i) => new ConsumerLoop(consumer, options.topics[i], options.handler, this.settings, this.availability));
    loops.forEach((loop) => this.consumers.add(loop));
    return {
      drain: async (timeoutMs: number) => {
        await Promise.all(loops.map((loop) => loop.drain(timeoutMs)));
      },
      close: async () => {
        await Promise.all(loops.map((loop) => (this.consumers.delete(loop), loop.close())));
      },
    };
  }

  async close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const log = (what: string) => (error: unknown) => this.settings.log?.(`pulsar-client: closing ${what} failed`, { level: 'warn', error: messageOf(error) });
    await Promise.all([...this.consumers].map((loop) => loop.close()));
    this.consumers.clear();
    await Promise.all([...this.producers.values()].map((pending) => pending.then((p) => p.close()).catch(log('a producer'))));
    this.producers.clear();
    await this.client.close().catch(log('the client'));
  }

  /** The topic's producer, created once (concurrent publishes share the creation). */
  private producer(topic: string): Promise<PulsarProducer> {
    let pending = this.producers.get(topic);
    if (!pending) {
      const created = this.topics.ensure(topic).then(() => this.client.createProducer({
        topic: this.fullName(topic),
        sendTimeoutMs: this.settings.sendTimeoutMs,
        // On a partitioned topic, a key's partition by Murmur3, as the WebSocket driver hashes.
        hashingScheme: 'Murmur3_32Hash',
        // Batches, when on, hold one key each (Key_Shared consumers get a key's messages
        // together, in order), compressed; off by default (see `batchingDelayMs`).
        ...(this.settings.batchingDelayMs > 0
          ? { batchingEnabled: true, batchingType: 'KeyBasedBatching' as const, batchingMaxPublishDelayMs: this.settings.batchingDelayMs, batchingMaxMessages: 1000, compressionType: 'LZ4' as const }
          : { batchingEnabled: false }),
      }));
      pending = created;
      this.producers.set(topic, created);
      // A failed creation is forgotten, so the next publish tries again.
      created.catch(() => {
        if (this.producers.get(topic) === created) this.producers.delete(topic);
      });
    }
    return pending;
  }
}

import { adminUrlOf, PartitionedTopics } from './pulsar-topics.ts';
import type { Log } from './logger.ts';

/** What both Pulsar drivers (WebSocket API, `pulsar-client`) are configured with. */
export interface PulsarOptions {
  /** The broker's web service URL (default `http://127.0.0.1:8080`). */
  url?: string;
  tenant?: string;
  namespace?: string;
  /** Token for brokers with token authentication. */
  token?: string;
  /** Unacknowledged messages one consumer holds at most (default 100). */
  maxInFlight?: number;
  /** Delay before a negatively acknowledged message comes back (default 1000 ms). */
  negativeAckRedeliveryDelayMs?: number;
  /** Redeliveries before a message moves to the dead-letter topic (default 10). */
  maxRedeliveries?: number;
  /** How long a publish waits for the broker's receipt (default 10 s). */
  sendTimeoutMs?: number;
  /**
   * Native driver: producer batching by key, sent at most this many ms after the first
   * message of a batch (default 0: no batching). Off by default because a batch holds one
   * key's messages and a saga's messages come one at a time: batches of one message that
   * only add the wait (`npm run bench -- --transport pulsar`, broker-floor table: publish →
   * handler 3.7 ms p50 without, 4.8 ms with 1 ms).
   */
  batchingDelayMs?: number;
  /**
   * Partitions of each topic (`PULSAR_PARTITIONS`, default 0: non-partitioned). With more,
   * the drivers create each topic partitioned before using it (`PartitionedTopics`), and a
   * keyed message goes to its key's partition (Murmur3 hash in both drivers), so one saga's
   * messages stay in order while a topic spreads over several brokers.
   */
  partitions?: number;
  /** The admin (web service) URL used to create partitioned topics (default: `url` if http(s), else port 8080 of its host). */
  adminUrl?: string;
  log?: Log;
}

export type PulsarSettings = Required<Omit<PulsarOptions, 'token' | 'log'>> & Pick<PulsarOptions, 'token' | 'log'>;

/**
 * The options with their defaults filled in.
 *
 * @example
 * const settings = pulsarSettings({ url: process.env.PULSAR_URL }); // settings.maxInFlight === 100
 */
export function pulsarSettings(options: PulsarOptions): PulsarSettings {
  return {
    url: options.url ?? 'http://127.0.0.1:8080',
    tenant: options.tenant ?? 'public',
    namespace: options.namespace ?? 'default',
    token: options.token,
    maxInFlight: options.maxInFlight ?? 100,
    negativeAckRedeliveryDelayMs: options.negativeAckRedeliveryDelayMs ?? 1000,
    maxRedeliveries: options.maxRedeliveries ?? 10,
    sendTimeoutMs: options.sendTimeoutMs ?? 10_000,
    batchingDelayMs: options.batchingDelayMs ?? 0,
    partitions: options.partitions ?? 0,
    adminUrl: options.adminUrl ?? adminUrlOf(options.url ?? 'http://127.0.0.1:8080'),
    log: options.log,
  };
}

/** `persistent://tenant/namespace/topic` for a short topic name. */
export function fullTopicName(settings: Pick<PulsarSettings, 'tenant' | 'namespace'>, topic: string): string {
  return topic.includes('://') ? topic : `persistent://${settings.tenant}/${settings.namespace}/${topic}`;
}

/** The topic creator of a driver with these settings (inert when `partitions` is 0). */
export function partitionedTopics(settings: PulsarSettings): PartitionedTopics {
  return new PartitionedTopics({ partitions: settings.partitions, adminUrl: settings.adminUrl, tenant: settings.tenant, namespace: settings.namespace, token: settings.token, log: settings.log });
}

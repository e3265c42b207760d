import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ConcurrencyError, UnavailableError } from './errors.ts';
import type { Health } from './health.ts';
import type { SagaStore, Transport } from './ports.ts';
import { shortTopic } from './pulsar-topics.ts';

/** Seconds, from a millisecond to a minute: transactions and lags. */
const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** How many inputs a transaction applied (the runtime's default batch is at most 64). */
const BATCH = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** How a transaction retried: a conflict with another, the database down, or a failure nobody classified. */
export type RetryReason = 'conflict' | 'unavailable' | 'error';

/** What a batch transaction reports to the metrics, for one consumer (`sagas`, `pagos`...). */
export interface TransactionObserver {
  committed(inputs: number, seconds: number): void;
  retried(reason: RetryReason): void;
}

/**
 * A process's Prometheus metrics (prom-client): what its runtime, participants, outbox
 * relay and transport count, served by `GET /metrics`. Each instance has its own registry,
 * so several systems in one process (tests) never share counters.
 *
 * Labels are bounded: saga types, states, statuses, topics, subscriptions, error codes;
 * never a saga or message id.
 *
 * @example
 * const metrics = new SagaMetrics({ service: 'pagos', defaults: true });
 * const runtime = new SagaRuntime({ store, transport: metrics.instrument(transport), sagas, metrics });
 * ctx.body = await metrics.registry.metrics(); // text/plain; version=0.0.4
 */
export class SagaMetrics {
  readonly registry = new Registry();
  readonly sagasStarted: Counter<'saga_type'>;
  readonly sagasEnded: Counter<'saga_type' | 'status'>;
  readonly transitions: Counter<'saga_type' | 'state'>;
  readonly transactionSeconds: Histogram<'consumer'>;
  readonly batchSize: Histogram<'consumer'>;
  readonly retries: Counter<'consumer' | 'reason'>;
  readonly published: Counter<'topic'>;
  readonly publishLag: Histogram<'topic'>;
  readonly deadlineLag: Histogram<'saga_type'>;
  readonly deadLetters: Counter<'source' | 'code'>;
  readonly deliveries: Counter<'topic' | 'subscription'>;
  readonly redeliveries: Counter<'topic' | 'subscription'>;
  readonly nacks: Counter<'topic' | 'subscription'>;
  private healthSource: Health | null = null;
  private pendingSource: (() => Promise<number>) | null = null;

  constructor(options: { service?: string; defaults?: boolean } = {}) {
    if (options.service) this.registry.setDefaultLabels({ service: options.service });
    const registers = [this.registry];
    this.sagasStarted = new Counter({ name: 'saga_started_total', help: 'Saga instances started.', labelNames: ['saga_type'], registers });
    this.sagasEnded = new Counter({ name: 'saga_ended_total', help: 'Saga instances that reached a final status (completed, compensated, failed).', labelNames: ['saga_type', 'status'], registers });
    this.transitions = new Counter({ name: 'saga_transitions_total', help: 'Committed saga transitions, by the state they led to.', labelNames: ['saga_type', 'state'], registers });
    this.transactionSeconds = new Histogram({ name: 'saga_transaction_duration_seconds', help: 'Duration of committed batch transactions.', labelNames: ['consumer'], buckets: SECONDS, registers });
    this.batchSize = new Histogram({ name: 'saga_transaction_batch_size', help: 'Inputs applied per committed transaction.', labelNames: ['consumer'], buckets: BATCH, registers });
    this.retries = new Counter({ name: 'saga_transaction_retries_total', help: 'Transactions tried again: conflicts with another transaction, database unavailable, unclassified failures.', labelNames: ['consumer', 'reason'], registers });
    this.published = new Counter({ name: 'saga_outbox_published_total', help: 'Outbox messages published to the broker.', labelNames: ['topic'], registers });
    this.publishLag = new Histogram({ name: 'saga_outbox_publish_lag_seconds', help: 'From the commit that wrote an outbox message to its publication.', labelNames: ['topic'], buckets: SECONDS, registers });
    this.deadlineLag = new Histogram({ name: 'saga_deadline_lag_seconds', help: 'How late deadlines fired: fired minus due.', labelNames: ['saga_type'], buckets: SECONDS, registers });
    this.deadLetters = new Counter({ name: 'saga_dead_letters_total', help: 'Inputs recorded as dead letters, by where they were refused and why.', labelNames: ['source', 'code'], registers });
    this.deliveries = new Counter({ name: 'saga_deliveries_total', help: 'Messages delivered to this process.', labelNames: ['topic', 'subscription'], registers });
    this.redeliveries = new Counter({ name: 'saga_redeliveries_total', help: 'Deliveries of a message delivered before.', labelNames: ['topic', 'subscription'], registers });
    this.nacks = new Counter({ name: 'saga_negative_acknowledgements_total', help: 'Deliveries whose handler failed, left to the broker to deliver again.', labelNames: ['topic', 'subscription'], registers });
    const self = this;
    // Read at each scrape; the registry holds them.
    new Gauge({
      name: 'saga_dependency_up',
      help: '1 while the database or the broker answers this process, 0 during an outage.',
      labelNames: ['dependency'],
      registers,
      collect() {
        if (!self.healthSource) return;
        const down = new Set(self.healthSource.unavailable.map((p) => p.dependency));
        for (const dependency of ['database', 'broker'] as const) this.set({ dependency }, down.has(dependency) ? 0 : 1);
      },
    });
    new Gauge({
      name: 'saga_outbox_pending_messages',
      help: 'Outbox messages committed and not yet published (read from the database at scrape time).',
      registers,
      async collect() {
        if (self.pendingSource) this.set(await self.pendingSource());
      },
    });
    if (options.defaults) collectDefaultMetrics({ register: this.registry });
  }

  /** Reports the dependencies `health` knows of as `saga_dependency_up`. */
  watch(health: Health): this {
    this.healthSource = health;
    return this;
  }

  /**
   * Counts every dead letter `store` commits, whoever wrote it (the runtime, a participant, the
   * outbox relay, the reader of a broker dead-letter topic): once, and only once committed.
   * Returns the function that stops counting.
   */
  countDeadLettersOf(store: Pick<SagaStore, 'onDeadLettersCommitted'>): () => void {
    return store.onDeadLettersCommitted?.((letters) => {
      for (const letter of letters) this.deadLetters.inc({ source: letter.source ?? 'message', code: letter.code });
    }) ?? (() => {});
  }

  /** Reads the pending outbox rows at each scrape. */
  countPendingWith(count: () => Promise<number>): this {
    this.pendingSource = count;
    return this;
  }

  /** A saga transition committed: counts it, and the saga's start or end. */
  transition(sagaType: string, state: string, status: string, previousStatus: string | null): void {
    this.transitions.inc({ saga_type: sagaType, state });
    if (previousStatus === null) this.sagasStarted.inc({ saga_type: sagaType });
    if (status !== 'running' && status !== previousStatus) this.sagasEnded.inc({ saga_type: sagaType, status });
  }

  /** The observer of one consumer's batch transactions. */
  transactions(consumer: string): TransactionObserver {
    return {
      committed: (inputs, seconds) => {
        this.batchSize.observe({ consumer }, inputs);
        this.transactionSeconds.observe({ consumer }, seconds);
      },
      retried: (reason) => this.retries.inc({ consumer, reason }),
    };
  }

  /**
   * `transport` with its deliveries counted per topic and subscription: every delivery, those
   * delivered before, and those whose handler failed (negatively acknowledged).
   */
  instrument<T extends Transport>(transport: T): T {
    const metrics = this;
    // One bound function per method, not one per call (a method replaced later is bound anew).
    const bound = new Map<PropertyKey, { value: unknown; bound: unknown }>();
    return new Proxy(transport, {
      get(target, property) {
        if (property !== 'subscribe') {
          const value: unknown = Reflect.get(target, property, target);
          if (typeof value !== 'function') return value;
          const known = bound.get(property);
          if (known?.value === value) return known.bound;
          const fresh = { value, bound: value.bind(target) };
          bound.set(property, fresh);
          return fresh.bound;
        }
        return (options: Parameters<Transport['subscribe']>[0]) =>
          target.subscribe({
            ...options,
            handler: async (delivery) => {
              const labels = { topic: shortTopic(delivery.topic), subscription: options.subscription };
              metrics.deliveries.inc(labels);
              if (delivery.redeliveryCount > 0) metrics.redeliveries.inc(labels);
              try {
                await options.handler(delivery);
              } catch (error) {
                metrics.nacks.inc(labels);
                throw error;
              }
            },
          });
      },
    });
  }
}

/** The reason label of a failed transaction attempt. */
export function retryReason(error: unknown): RetryReason {
  if (error instanceof ConcurrencyError) return 'conflict';
  if (error instanceof UnavailableError) return 'unavailable';
  return 'error';
}

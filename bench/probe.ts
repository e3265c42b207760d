import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { Sequelize } from 'sequelize';
import type { Delivery, OutgoingMessage, SubscribeOptions, Subscription, Transport } from '../runtime/ports.ts';

/** Time and count of one kind of work. */
export interface Tally {
  count: number;
  ms: number;
}

/**
 * Transactions of one component. `ms` = from the `sequelize.transaction` call until it
 * settled; `acquireMs` = until the callback ran (getting a connection — a pool wait on
 * MariaDB, opening a new SQLite connection — plus BEGIN); `runMs` = the rest (the work
 * and COMMIT).
 */
export interface TxTally extends Tally {
  failed: number;
  acquireMs: number;
  runMs: number;
}

/** A copy of a probe's counters at one moment. */
export interface ProbeSnapshot {
  /** DB transactions by who opened them: start, runtime, vuelos, pagos, gds, notificaciones, relay, other. */
  transactions: Record<string, TxTally>;
  /** SQL statements by `VERB table` (BEGIN/COMMIT/ROLLBACK have no table). */
  statements: Record<string, Tally>;
  /** Sizes of the runtime's `process()` calls, i.e. inputs per runtime transaction. */
  batches: { count: number; inputs: number; max: number; ms: number; histogram: Record<string, number> };
  /** Deliveries handled, by subscription (`sagas` is the runtime). */
  deliveries: Record<string, number>;
  published: number;
  retries: number;
  deadLetters: number;
}

/**
 * Observes a system from the outside, without changing its code: which component opens
 * each transaction (AsyncLocalStorage labels set where work enters a component), every SQL
 * statement with its time (Sequelize's `benchmark` logging), the runtime's batch sizes
 * (a wrapper around `runtime.process`), and deliveries per subscription.
 */
export class Probe {
  private readonly als = new AsyncLocalStorage<string>();
  private readonly txLabels = new WeakMap<object, string>();
  private transactions = new Map<string, TxTally>();
  private statements = new Map<string, Tally>();
  private batchSizes: number[] = [];
  private batchMs = 0;
  private deliveries = new Map<string, number>();
  private published = 0;
  private retries = 0;
  private deadLetters = 0;
  /** Handlers running now, over all subscriptions. */
  inFlight = 0;

  /** Runs `work` with every transaction it opens attributed to `label`. */
  label<T>(label: string, work: () => T): T {
    return this.als.run(label, work);
  }

  /** When false, statements are not logged (to measure what the logging itself costs). */
  static statements = true;

  /**
   * Counts and times every transaction and statement of this Sequelize instance. On MySQL the
   * store runs its transactions itself (db/sql.ts `MysqlSession`): pass the store, whose
   * `transaction` is then the one counted.
   */
  instrument(sequelize: Sequelize, store?: { transaction: (...args: never[]) => Promise<unknown> }): void {
    const target = (sequelize.getDialect() === 'mysql' && store ? store : sequelize) as unknown as { transaction: (...args: unknown[]) => Promise<unknown> };
    const original = target.transaction.bind(target) as (...args: unknown[]) => Promise<unknown>;
    const patched = (...args: unknown[]): Promise<unknown> => {
      const at = args.findIndex((a) => typeof a === 'function');
      if (at < 0) return original(...args); // unmanaged transaction: not used by the project
      const label = this.als.getStore() ?? 'other';
      const work = args[at] as (t: object) => unknown;
      const started = performance.now();
      let begun = 0;
      args[at] = (t: object) => {
        begun = performance.now();
        this.txLabels.set(t, label);
        return work(t);
      };
      const tally = this.tally(label);
      const settle = () => {
        const now = performance.now();
        tally.ms += now - started;
        if (begun) {
          tally.acquireMs += begun - started;
          tally.runMs += now - begun;
        }
      };
      return original(...args).then(
        (result) => {
          tally.count++;
          settle();
          return result;
        },
        (error: unknown) => {
          tally.failed++;
          settle();
          throw error;
        },
      );
    };
    target.transaction = patched;
    if (!Probe.statements) return;
    const options = (sequelize as unknown as { options: { benchmark: boolean; logging: unknown } }).options;
    options.benchmark = true;
    options.logging = (message: string, ms: number) => this.statement(message, ms);
  }

  /** Wraps `runtime.process` (the Batcher and the deadline scheduler call it through the instance). */
  observeBatches(runtime: { settle: (inputs: never[]) => Promise<unknown[]> }): void {
    const settle = runtime.settle.bind(runtime);
    runtime.settle = (inputs: never[]) => {
      this.batchSizes.push(inputs.length);
      const started = performance.now();
      return this.label('runtime', () => settle(inputs)).finally(() => {
        this.batchMs += performance.now() - started;
      });
    };
  }

  /** The runtime's and participants' `log` option: counts retries and dead letters. */
  log = (message: string): void => {
    if (message.startsWith('retrying')) this.retries++;
    if (message.startsWith('dead-lettered')) this.deadLetters++;
  };

  snapshot(): ProbeSnapshot {
    const histogram: Record<string, number> = {};
    for (const size of this.batchSizes) {
      const bucket = size <= 1 ? '1' : size <= 4 ? '2-4' : size <= 16 ? '5-16' : size <= 64 ? '17-64' : size <= 256 ? '65-256' : '>256';
      histogram[bucket] = (histogram[bucket] ?? 0) + 1;
    }
    const copy = <V extends object>(map: Map<string, V>) => Object.fromEntries([...map].map(([k, v]) => [k, { ...v }]));
    return {
      transactions: copy(this.transactions),
      statements: copy(this.statements),
      batches: {
        count: this.batchSizes.length,
        inputs: this.batchSizes.reduce((a, b) => a + b, 0),
        max: this.batchSizes.reduce((a, b) => Math.max(a, b), 0),
        ms: this.batchMs,
        histogram,
      },
      deliveries: Object.fromEntries(this.deliveries),
      published: this.published,
      retries: this.retries,
      deadLetters: this.deadLetters,
    };
  }

  countDelivery(subscription: string): void {
    this.deliveries.set(subscription, (this.deliveries.get(subscription) ?? 0) + 1);
  }

  countPublish(): void {
    this.published++;
  }

  private tally(label: string) {
    let tally = this.transactions.get(label);
    if (!tally) this.transactions.set(label, (tally = { count: 0, ms: 0, failed: 0, acquireMs: 0, runMs: 0 }));
    return tally;
  }

  private statement(message: string, ms: number): void {
    const sql = message.slice(message.indexOf('): ') + 3).trimStart();
    const verb = sql.slice(0, sql.search(/\s|;|$/)).toUpperCase();
    let key: string;
    if (verb === 'BEGIN' || verb === 'START') key = 'BEGIN';
    else if (verb === 'COMMIT' || verb === 'ROLLBACK') key = verb;
    else {
      const table = /\b(?:FROM|INTO|UPDATE)\s+[`"]?(\w+)/i.exec(sql)?.[1] ?? '?';
      key = `${verb} ${table}`;
    }
    let tally = this.statements.get(key);
    if (!tally) this.statements.set(key, (tally = { count: 0, ms: 0 }));
    tally.count++;
    tally.ms += typeof ms === 'number' ? ms : 0;
  }
}

/**
 * A transport that forwards to another and counts: deliveries per subscription, handlers in
 * flight, and publishes. Each delivery runs under the label of its subscription.
 */
export class CountingTransport implements Transport {
  constructor(
    readonly inner: Transport,
    private readonly probe: Probe,
  ) {}

  publish(topic: string, message: OutgoingMessage): Promise<void> {
    this.probe.countPublish();
    return this.inner.publish(topic, message);
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    const probe = this.probe;
    const name = options.subscription;
    const handler = async (delivery: Delivery): Promise<void> => {
      probe.countDelivery(name);
      probe.inFlight++;
      try {
        await probe.label(name, () => options.handler(delivery));
      } finally {
        probe.inFlight--;
      }
    };
    return this.inner.subscribe({ ...options, handler });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

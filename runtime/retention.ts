import type { PruneReport, SagaStore } from './ports.ts';
import type { Log } from './logger.ts';

export const DAY_MS = 86_400_000;

export interface RetentionOptions {
  /** How long what is done is kept, in ms (`SAGA_RETENTION_DAYS` × a day); 0 or less: the job is off. */
  keepMs: number;
  /** Time between two passes (default 1 h). */
  intervalMs?: number;
  /** Time from `start` to the first pass (default 30 s: after the process is up, not during its start). */
  firstRunMs?: number;
  /**
   * Each wait is drawn from ±`jitter` of its length (default 0.1), so processes that
   * share a database and started together do not prune at the same moment.
   */
  jitter?: number;
  /** Most rows one statement deletes (default 500). */
  chunkSize?: number;
  /** Pause between two chunks (default 50 ms). */
  pauseMs?: number;
  clock?: () => number;
  /** For the jitter; default Math.random. */
  random?: () => number;
  log?: Log;
}

/**
 * Retention: every interval, deletes what is done and older than the horizon (now minus
 * `keepMs`) through `SagaStore.prune`: sent outbox rows, processed ids no running saga
 * needs, ended sagas with their log and deadlines, resolved dead letters. Each pass logs
 * what it deleted. A failed pass is logged and the next one runs at the next interval:
 * nothing is thrown out of the timer. `stop` aborts a running pass between two chunks
 * and waits for it.
 *
 * @example
 * const retention = new RetentionJob(store, { keepMs: 30 * DAY_MS, log });
 * retention.start();     // first pass after ~30 s, then every ~1 h
 * await retention.stop();
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PruneReport | null> | null = null;
  private abort: AbortController | null = null;
  private started = false;
  private readonly intervalMs: number;
  private readonly firstRunMs: number;
  private readonly jitter: number;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly log: NonNullable<RetentionOptions['log']>;

  constructor(
    private readonly store: Pick<SagaStore, 'prune'>,
    private readonly options: RetentionOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 3_600_000;
    this.firstRunMs = options.firstRunMs ?? 30_000;
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.1));
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.log = options.log ?? (() => {});
  }

  /** Whether the job deletes anything at all (`keepMs` > 0). */
  get enabled(): boolean {
    return this.options.keepMs > 0;
  }

  /** Arms the first pass; does nothing when the job is off or started. */
  start(): void {
    if (this.started || !this.enabled) return;
    this.started = true;
    this.arm(this.firstRunMs);
  }

  /** No pass starts after this; a running one stops after its current chunk. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    await this.running;
  }

  /**
   * One pass now (joins a running one). Resolves with its report, or null when it failed
   * (the failure is logged) or the job is off; never rejects.
   */
  runOnce(): Promise<PruneReport | null> {
    if (this.running) return this.running;
    if (!this.enabled) return Promise.resolve(null);
    this.running = this.pass()
      .catch(() => null) // a throwing logger must not reach the timer either
      .finally(() => {
        this.running = null;
        this.abort = null;
      });
    return this.running;
  }

  private arm(ms: number): void {
    if (!this.started) return;
    const wait = Math.max(0, Math.round(ms * (1 + this.jitter * (2 * this.random() - 1))));
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runOnce().then(() => this.arm(this.intervalMs));
    }, wait);
    this.timer.unref();
  }

  private async pass(): Promise<PruneReport | null> {
    const abort = (this.abort = new AbortController());
    const startedAt = this.clock();
    const horizon = startedAt - this.options.keepMs;
    try {
      const report = await this.store.prune(horizon, { chunkSize: this.options.chunkSize, pauseMs: this.options.pauseMs, signal: abort.signal });
      const total = Object.values(report.deleted).reduce((a, b) => a + b, 0);
      this.log(report.complete ? 'retention: pass done' : 'retention: pass stopped before the end', {
        level: 'info',
        horizon: new Date(horizon).toISOString(),
        total,
        ...report.deleted,
        statements: report.statements,
        ms: this.clock() - startedAt,
      });
      return report;
    } catch (error) {
      this.log('retention: pass failed; next one at the next interval', { level: 'warn', horizon: new Date(horizon).toISOString(), error: (error as Error).message });
      return null;
    }
  }
}

import { UnavailableError } from './errors.ts';
import type { Health } from './health.ts';
import type { Deadline, SagaStore } from './ports.ts';
import type { Log } from './logger.ts';

export interface DeadlineSchedulerOptions {
  /** The saga types whose deadlines this scheduler fires (those its process runs). */
  sagaTypes: readonly string[];
  /** Poll interval, for deadlines written by other processes (default 1000 ms). */
  pollMs?: number;
  batchSize?: number;
  /**
   * While a dependency is down, no deadline fires; after it answers again (and after the
   * process starts) deadlines wait this long more (default 0), so that answers held up by
   * the outage arrive before a step is given up.
   */
  graceMs?: number;
  health?: Health;
  clock?: () => number;
  log?: Log;
}

/** How soon a poll looks again at deadlines that were due but not taken by the last one. */
const RETRY_DUE_MS = 100;

/**
 * Fires durable deadlines (XState `after` timers stored in the database) when due.
 *
 * Plain XState keeps delayed events in memory, so a restored actor loses them. Here the
 * due time is a row: the scheduler wakes at the earliest due time (or at the poll
 * interval, whichever is sooner) and fires what is due, of its own saga types only. A
 * deadline that fell due while the process could not act (it was down, or its database or
 * broker was) fires after the grace period, not the moment the process can act again.
 * `fire` settles each deadline by itself (applied, or dead-lettered when it can never
 * fire), so no row blocks the others.
 *
 * @example
 * const scheduler = new DeadlineScheduler(store, (due) => runtime.fireDeadlines(due), { sagaTypes: ['reserva'] });
 * scheduler.start();
 */
export class DeadlineScheduler {
  private timer: NodeJS.Timeout | null = null;
  private armedAt = Infinity;
  private started = false;
  private polling: Promise<number> | null = null;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly graceMs: number;
  private readonly clock: () => number;
  private readonly log: NonNullable<DeadlineSchedulerOptions['log']>;

  constructor(
    private readonly store: SagaStore,
    /** Resolves with how many of `due` it settled. */
    private readonly fire: (due: Deadline[]) => Promise<number>,
    private readonly options: DeadlineSchedulerOptions,
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.batchSize = options.batchSize ?? 100;
    this.graceMs = options.graceMs ?? 0;
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => {});
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.arm(this.clock());
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedAt = Infinity;
    await this.polling?.catch(() => 0);
  }

  /** Tells the scheduler a deadline is due at `dueAt`, so it wakes in time. */
  expect(dueAt: number): void {
    if (this.started && dueAt < this.armedAt) this.arm(dueAt);
  }

  /** When deadlines may fire again, or 0 when they may now. */
  heldUntil(): number {
    const health = this.options.health;
    if (!health) return 0;
    if (!health.available) return Infinity;
    const until = health.recoveredAt + this.graceMs;
    return until > this.clock() ? until : 0;
  }

  /** Fires every deadline due now (unless held); resolves with how many were fired. */
  poll(): Promise<number> {
    if (this.polling) return this.polling;
    this.polling = this.fireDue().finally(() => {
      this.polling = null;
    });
    return this.polling;
  }

  private arm(at: number): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, at - this.clock()));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.armedAt = Infinity;
    await this.poll();
    if (!this.started) return;
    const next = await this.store.nextDeadlineAt(this.options.sagaTypes).catch(() => null);
    const now = this.clock();
    const wake = now + this.pollMs;
    const held = this.heldUntil();
    // A deadline still due right after a poll is held by another replica's transaction (or
    // failed): look again shortly, not in a tight loop.
    const soonest = next === null ? wake : Math.min(next <= now ? now + RETRY_DUE_MS : next, wake);
    this.arm(Math.max(held === Infinity ? wake : held, soonest));
  }

  private async fireDue(): Promise<number> {
    if (this.heldUntil() > 0) return 0;
    let fired = 0;
    try {
      for (;;) {
        const due = await this.store.dueDeadlines(this.clock(), this.batchSize, this.options.sagaTypes);
        this.options.health?.up('database');
        if (due.length === 0) break;
        const settled = await this.fire(due);
        fired += settled;
        if (due.length < this.batchSize || settled === 0 || this.heldUntil() > 0) break;
      }
    } catch (error) {
      if (error instanceof UnavailableError) this.options.health?.down('database', error.message);
      this.log('firing deadlines failed; will retry', { level: 'warn', error: (error as Error).message });
    }
    return fired;
  }
}

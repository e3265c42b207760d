import type { Deadline, SagaStore } from './ports.ts';

export interface DeadlineSchedulerOptions {
  /** Poll interval, for deadlines written by other processes (default 1000 ms). */
  pollMs?: number;
  batchSize?: number;
  clock?: () => number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * Fires durable deadlines (XState `after` timers stored in the database) when due.
 *
 * Plain XState keeps delayed events in memory, so a restored actor loses them. Here the
 * due time is a row: on start the scheduler fires everything overdue at once, then wakes
 * at the earliest due time (or at the poll interval, whichever is sooner).
 *
 * @example
 * const scheduler = new DeadlineScheduler(store, (due) => runtime.process(due.map(toTimerInput)));
 * scheduler.start();
 */
export class DeadlineScheduler {
  private timer: NodeJS.Timeout | null = null;
  private armedAt = Infinity;
  private started = false;
  private polling: Promise<number> | null = null;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly clock: () => number;
  private readonly log: NonNullable<DeadlineSchedulerOptions['log']>;

  constructor(
    private readonly store: SagaStore,
    private readonly fire: (due: Deadline[]) => Promise<unknown>,
    options: DeadlineSchedulerOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.batchSize = options.batchSize ?? 100;
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

  /** Fires every deadline due now; resolves with how many were fired. */
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
    const next = await this.store.nextDeadlineAt().catch(() => null);
    const wake = this.clock() + this.pollMs;
    this.arm(next === null ? wake : Math.min(next, wake));
  }

  private async fireDue(): Promise<number> {
    let fired = 0;
    try {
      for (;;) {
        const due = await this.store.dueDeadlines(this.clock(), this.batchSize);
        if (due.length === 0) break;
        await this.fire(due);
        fired += due.length;
        if (due.length < this.batchSize) break;
      }
    } catch (error) {
      this.log('firing deadlines failed; will retry', { error: (error as Error).message });
    }
    return fired;
  }
}

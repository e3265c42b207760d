import type { Log } from './logger.ts';

/** A dependency of a process whose outage pauses its work. */
export type Dependency = 'database' | 'broker';

export interface Problem {
  dependency: Dependency;
  reason: string;
  since: number;
}

export interface HealthOptions {
  clock?: () => number;
  log?: Log;
}

/**
 * What one process knows about its dependencies: which is unavailable since when, and when
 * the last outage ended. Consumers wait (they do not give up messages) while a dependency is
 * down; `/ready` reports it; the deadline scheduler holds deadlines during an outage and
 * for a grace period after it (`recoveredAt`), so an outage of the system's own parts does
 * not decide a saga's outcome.
 *
 * @example
 * const health = new Health();
 * health.down('database', 'connect ECONNREFUSED');
 * health.available;      // false
 * health.up('database');
 * health.recoveredAt;    // now
 */
export class Health {
  private readonly problems = new Map<Dependency, Problem>();
  private readonly listeners = new Set<() => void>();
  private readonly clock: () => number;
  private readonly log: NonNullable<HealthOptions['log']>;
  /** When the process started or the last outage ended. */
  recoveredAt: number;

  constructor(options: HealthOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => {});
    this.recoveredAt = this.clock();
  }

  get available(): boolean {
    return this.problems.size === 0;
  }

  /** The dependencies that are down now. */
  get unavailable(): Problem[] {
    return [...this.problems.values()];
  }

  down(dependency: Dependency, reason: string): void {
    const known = this.problems.get(dependency);
    if (known) {
      known.reason = reason;
      return;
    }
    this.problems.set(dependency, { dependency, reason, since: this.clock() });
    this.log(`${dependency} unavailable; waiting for it`, { level: 'warn', dependency, reason });
    this.changed();
  }

  up(dependency: Dependency): void {
    const known = this.problems.get(dependency);
    if (!known) return;
    this.problems.delete(dependency);
    const now = this.clock();
    if (this.problems.size === 0) this.recoveredAt = now;
    this.log(`${dependency} available again`, { level: 'info', dependency, afterMs: now - known.since });
    this.changed();
  }

  /** Calls `listener` on every change; returns the function that stops it. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

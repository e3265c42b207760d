import { classify, ConcurrencyError, RepeatedFailureError, UnavailableError } from './errors.ts';
import type { Health } from './health.ts';
import { retryReason, type TransactionObserver } from './metrics.ts';
import type { SagaStore, UnitOfWork } from './ports.ts';
import type { Log } from './logger.ts';

/** The result of one input of a batch. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface TransactEachOptions<O, I = unknown> {
  /**
   * Attempts of a failure nobody classified before it counts as terminal, and of a
   * conflicting batch of several inputs before they are tried one by one (default 4).
   */
  maxAttempts?: number;
  /** Called after each commit with the values it committed. */
  onCommit?: (values: O[]) => void;
  /** Called first in each transaction, e.g. to read ahead with `uow.prefetch` what the inputs will read. */
  prefetch?: (uow: UnitOfWork, inputs: readonly I[]) => Promise<void>;
  /**
   * What an input that can never succeed becomes (a dead letter), written in a transaction
   * of its own. Without it, the input's result is its error.
   */
  onTerminal?: (uow: UnitOfWork, input: I, error: unknown) => Promise<O>;
  /** Told when the database is unavailable and when it answers again. */
  health?: Health;
  /** Stops waiting out an outage: the inputs then fail with the last error (on shutdown). */
  signal?: AbortSignal;
  /** Wait between attempts while the database is unavailable: doubling from `minMs` to `maxMs` (default 100 ms to 5 s). */
  backoff?: { minMs: number; maxMs: number };
  log?: Log;
  /** Told of each commit (inputs, duration) and each attempt tried again (`/metrics`). */
  observer?: TransactionObserver;
}

/**
 * Applies every input in one transaction, and never gives an input up for an outage.
 *
 * - The database unavailable, or a conflict with another transaction: wait (with capped
 *   backoff) and try again, for as long as it takes. The inputs stay unacknowledged
 *   meanwhile, so a pull-mode consumer asks the broker for no more: consumption pauses
 *   without spending any message's redelivery budget.
 * - A batch that keeps conflicting, or fails in a way nobody classified, is tried one
 *   input at a time, so one bad input fails by itself and the others commit.
 * - One input that can never succeed (a terminal error, or an unclassified one that failed
 *   `maxAttempts` times) becomes what `onTerminal` makes of it: a dead letter with the reason.
 *
 * @example
 * const results = await transactEach(store, deliveries, (uow, d) => apply(uow, d), { onTerminal: deadLetter, health });
 * results.forEach((r, i) => (r.ok ? ack(deliveries[i]) : nack(deliveries[i])));
 */
export async function transactEach<I, O>(
  store: SagaStore,
  inputs: readonly I[],
  apply: (uow: UnitOfWork, input: I) => Promise<O>,
  options: TransactEachOptions<O, I> = {},
): Promise<Settled<O>[]> {
  const batch = async () => {
    const started = performance.now();
    const values = await store.transaction(async (uow) => {
      await options.prefetch?.(uow, inputs);
      const out: O[] = [];
      for (const input of inputs) out.push(await apply(uow, input));
      return out;
    });
    options.observer?.committed(inputs.length, (performance.now() - started) / 1000);
    return values;
  };
  try {
    const values = await withRetries(batch, { ...options, split: inputs.length > 1 });
    options.onCommit?.(values);
    return values.map((value) => ({ ok: true, value }));
  } catch (error) {
    if (options.signal?.aborted && classify(error) === 'transient') return inputs.map(() => ({ ok: false, error }));
    if (inputs.length > 1) {
      const results: Settled<O>[] = [];
      for (const input of inputs) results.push(...(await transactEach(store, [input], apply, options)));
      return results;
    }
    if (!options.onTerminal) return [{ ok: false, error }];
    options.log?.('input refused for good', { level: 'warn', error: (error as Error)?.message ?? String(error) });
    try {
      const value = await withRetries(() => store.transaction((uow) => options.onTerminal!(uow, inputs[0], error)), options);
      options.onCommit?.([value]);
      return [{ ok: true, value }];
    } catch (failure) {
      return [{ ok: false, error: failure }];
    }
  }
}

/**
 * Runs `work` until it succeeds: again and again while the database is unavailable or the
 * transaction conflicts (unless `signal` aborts), up to `maxAttempts` times for a failure
 * nobody classified (then `RepeatedFailureError`, terminal); a terminal error is thrown at once.
 * With `split`, a conflict or unclassified failure is thrown after `maxAttempts` so the
 * caller can try the inputs one by one.
 */
export async function withRetries<T>(
  work: () => Promise<T>,
  options: Pick<TransactEachOptions<unknown>, 'maxAttempts' | 'log' | 'health' | 'signal' | 'backoff' | 'observer'> & { split?: boolean } = {},
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 4;
  const { minMs, maxMs } = options.backoff ?? { minMs: 100, maxMs: 5_000 };
  let outage = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await work();
      options.health?.up('database');
      return value;
    } catch (error) {
      const kind = classify(error);
      if (kind === 'terminal') throw error;
      if (kind === 'unknown' && attempt >= maxAttempts) throw options.split ? error : new RepeatedFailureError(attempt, error);
      if (options.split && error instanceof ConcurrencyError && attempt >= maxAttempts) throw error;
      if (options.signal?.aborted) throw error;
      options.observer?.retried(retryReason(error));
      let delay: number;
      if (error instanceof UnavailableError) {
        options.health?.down('database', error.message);
        delay = Math.min(maxMs, minMs * 2 ** outage++);
      } else {
        options.log?.('retrying transaction', { level: 'warn', attempt, error: (error as Error)?.message ?? String(error) });
        delay = Math.min(1_000, 5 * 2 ** attempt);
      }
      await sleep(delay * (0.5 + Math.random() / 2), options.signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

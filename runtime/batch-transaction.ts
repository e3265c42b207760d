import { isRetryable } from './errors.ts';
import type { SagaStore, UnitOfWork } from './ports.ts';

/** The result of one input of a batch. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface TransactEachOptions<O, I = unknown> {
  /** Attempts of a transaction that failed with a retryable error (default 6). */
  maxAttempts?: number;
  /** Called after each commit with the values it committed. */
  onCommit?: (values: O[]) => void;
  /** Called first in each transaction, e.g. to read ahead with `uow.prefetch` what the inputs will read. */
  prefetch?: (uow: UnitOfWork, inputs: readonly I[]) => Promise<void>;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * Applies every input in one transaction, retrying retryable failures with jittered
 * backoff. When the batch still fails, each input is tried alone, so one bad input fails
 * by itself and the others commit.
 *
 * @example
 * const results = await transactEach(store, deliveries, (uow, d) => apply(uow, d));
 * results.forEach((r, i) => (r.ok ? ack(deliveries[i]) : nack(deliveries[i])));
 */
export async function transactEach<I, O>(
  store: SagaStore,
  inputs: readonly I[],
  apply: (uow: UnitOfWork, input: I) => Promise<O>,
  options: TransactEachOptions<O, I> = {},
): Promise<Settled<O>[]> {
  try {
    const values = await withRetries(
      () =>
        store.transaction(async (uow) => {
          await options.prefetch?.(uow, inputs);
          const out: O[] = [];
          for (const input of inputs) out.push(await apply(uow, input));
          return out;
        }),
      options,
    );
    options.onCommit?.(values);
    return values.map((value) => ({ ok: true, value }));
  } catch (error) {
    if (inputs.length === 1) return [{ ok: false, error }];
    const results: Settled<O>[] = [];
    for (const input of inputs) results.push(...(await transactEach(store, [input], apply, options)));
    return results;
  }
}

/** Runs `work` again on retryable errors, up to `maxAttempts` times. */
export async function withRetries<T>(work: () => Promise<T>, options: Pick<TransactEachOptions<unknown>, 'maxAttempts' | 'log'> = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 6;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isRetryable(error) || attempt >= maxAttempts) throw error;
      options.log?.('retrying transaction', { attempt, error: (error as Error).message });
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * 2 ** attempt));
    }
  }
}

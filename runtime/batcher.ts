import type { Settled } from './batch-transaction.ts';

/**
 * Groups items submitted in the same tick (and while a batch is running) into batches of
 * at most `maxSize`, one batch at a time. Each submitter gets its own item's result.
 *
 * Why: one database commit per message caps throughput at the disk's fsync rate; a batch
 * of many sagas' messages shares one commit.
 *
 * @example
 * const batcher = new Batcher((items) => transactEach(store, items, apply), 64);
 * await batcher.submit(item);
 */
export class Batcher<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  constructor(
    private readonly run: (items: I[]) => Promise<Settled<O>[]>,
    private readonly maxSize: number,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxSize);
      try {
        const results = await this.run(batch.map((b) => b.item));
        batch.forEach((b, i) => {
          const result = results[i];
          if (result.ok) b.resolve(result.value);
          else b.reject(result.error);
        });
      } catch (error) {
        batch.forEach((b) => b.reject(error));
      }
    }
    this.running = false;
  }
}

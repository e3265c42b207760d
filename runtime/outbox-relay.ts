import type { SagaStore, Transport } from './ports.ts';

export interface OutboxRelayOptions {
  /** Poll interval for rows committed by other processes or left by a crash (default 500 ms). */
  pollMs?: number;
  batchSize?: number;
  clock?: () => number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * Publishes committed outbox rows in commit order and marks them sent.
 *
 * At least once: a crash between publish and mark republishes the row with the same
 * message id after restart, and consumers deduplicate by that id.
 *
 * @example
 * const relay = new OutboxRelay(store, transport);
 * relay.start();          // polls, and publishes at once when kicked
 * relay.kick();           // after a commit that enqueued messages
 * await relay.stop();
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private again = false;
  private started = false;
  private failures = 0;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly clock: () => number;
  private readonly log: NonNullable<OutboxRelayOptions['log']>;

  constructor(
    private readonly store: SagaStore,
    private readonly transport: Transport,
    options: OutboxRelayOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 500;
    this.batchSize = options.batchSize ?? 200;
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => {});
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.kick();
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => 0);
  }

  /** Publishes what is pending now (coalesces with a flush already running). */
  kick(): void {
    if (!this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.flush();
  }

  /** Publishes every pending row; resolves with how many were published. */
  flush(): Promise<number> {
    if (this.running) return this.running;
    this.running = this.publishPending().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.kick();
      } else this.schedule();
    });
    return this.running;
  }

  private schedule(): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    const backoff = this.failures === 0 ? this.pollMs : Math.min(30_000, this.pollMs * 2 ** this.failures);
    this.timer = setTimeout(() => this.kick(), backoff);
    this.timer.unref();
  }

  private async publishPending(): Promise<number> {
    let published = 0;
    try {
      for (;;) {
        const rows = await this.store.pendingOutbox(this.batchSize);
        if (rows.length === 0) break;
        const sent: number[] = [];
        try {
          for (const row of rows) {
            await this.transport.publish(row.topic, { key: row.key, payload: row.payload });
            sent.push(row.seq);
          }
        } finally {
          if (sent.length > 0) await this.store.markSent(sent, this.clock());
          published += sent.length;
        }
        if (rows.length < this.batchSize) break;
      }
      this.failures = 0;
    } catch (error) {
      this.failures++;
      this.log('outbox publish failed; will retry', { error: (error as Error).message, failures: this.failures });
    }
    return published;
  }
}

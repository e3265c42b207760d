import { withRetries } from './batch-transaction.ts';
import { BrokerAuthError, MessageRejectedError, RepeatedFailureError, SagaError, UnavailableError } from './errors.ts';
import type { Health } from './health.ts';
import type { OutboxMessage, SagaStore, Transport } from './ports.ts';

export interface OutboxRelayOptions {
  /** Poll interval for rows committed by other processes or left by a crash (default 500 ms). */
  pollMs?: number;
  batchSize?: number;
  /** Longest wait between rounds while the broker fails (default 5 s). */
  maxBackoffMs?: number;
  /** Attempts of one row that fails in a way nobody classified, before it is dead-lettered (default 5). */
  maxRowAttempts?: number;
  /**
   * The rows this relay publishes: those whose `sagaType` (the writer: a saga type or a
   * participant's name) is listed, read at each round. Omitted: every row (one process owns
   * the database). Processes sharing a database each publish their own rows, so no row goes
   * out once per process.
   */
  sagaTypes?: () => readonly string[];
  /** Told when the broker refuses connections and when a publish works again. */
  health?: Health;
  clock?: () => number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * Publishes committed outbox rows (each key's in commit order) and marks them sent
 * (arming the deadlines that waited for them).
 *
 * At least once: a crash between publish and mark republishes the row with the same
 * message id after restart, and consumers deduplicate by that id.
 *
 * One key's rows go out in order, different keys' at the same time. One row never holds
 * back the others: a row the broker refuses for good (`MessageRejectedError`), or that keeps
 * failing in a way nobody classified, is taken out of the outbox into the dead letters with
 * the broker's reason, and the rows behind it are published. While a row is retried, later
 * rows of the same key wait, so one saga's messages keep their order. The broker
 * unavailable stops the round: nothing is lost, the relay tries again with capped backoff.
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
  /** Failed attempts per row (by seq) that nobody classified. */
  private readonly attempts = new Map<number, number>();
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly maxBackoffMs: number;
  private readonly maxRowAttempts: number;
  private readonly clock: () => number;
  private readonly log: NonNullable<OutboxRelayOptions['log']>;

  constructor(
    private readonly store: SagaStore,
    private readonly transport: Transport,
    private readonly options: OutboxRelayOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 500;
    this.batchSize = options.batchSize ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 5_000;
    this.maxRowAttempts = options.maxRowAttempts ?? 5;
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

  /** Flushes until nothing is pending or `timeoutMs` passed (on shutdown); resolves with what is left. */
  async drain(timeoutMs: number): Promise<number> {
    const until = this.clock() + timeoutMs;
    for (;;) {
      await this.flush();
      const left = (await this.store.pendingOutbox(1, this.options.sagaTypes?.()).catch(() => [{}])).length;
      if (left === 0 || this.clock() >= until || this.failures > 0) return left;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private schedule(): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    const backoff = this.failures === 0 ? this.pollMs : Math.min(this.maxBackoffMs, this.pollMs * 2 ** this.failures);
    this.timer = setTimeout(() => this.kick(), backoff);
    this.timer.unref();
  }

  private async publishPending(): Promise<number> {
    let published = 0;
    try {
      for (;;) {
        const rows = await this.store.pendingOutbox(this.batchSize, this.options.sagaTypes?.());
        if (rows.length === 0) break;
        const { sent, held } = await this.publishRows(rows);
        published += sent;
        if (rows.length < this.batchSize || held === rows.length) break;
      }
      this.failures = 0;
    } catch (error) {
      this.failures++;
      this.log('outbox publish failed; will retry', { error: (error as Error).message, failures: this.failures });
    }
    return published;
  }

  /**
   * Publishes `rows`: one key's rows one after the other, in order (a row that fails holds
   * back the rest of its key), different keys at the same time, so a round costs about one
   * broker round trip instead of one per row (the native driver batches them). Resolves
   * with how many went out and how many wait for a later round.
   */
  private async publishRows(rows: OutboxMessage[]): Promise<{ sent: number; held: number }> {
    const byKey = new Map<string, OutboxMessage[]>();
    for (const row of rows) {
      const chain = byKey.get(row.key);
      if (chain) chain.push(row);
      else byKey.set(row.key, [row]);
    }
    const sent: OutboxMessage[] = [];
    let held = 0;
    let lost: unknown = null;
    const publishChain = async (chain: OutboxMessage[]) => {
      for (let i = 0; i < chain.length; i++) {
        const row = chain[i];
        if (lost) return void (held += chain.length - i);
        try {
          await this.transport.publish(row.topic, { key: row.key, payload: row.payload });
          sent.push(row);
          this.attempts.delete(row.seq);
          this.options.health?.up('broker');
        } catch (error) {
          if (error instanceof UnavailableError || error instanceof BrokerAuthError) {
            this.options.health?.down('broker', error.message);
            lost ??= error; // the broker, not this row: the round stops
            return void (held += chain.length - i);
          }
          const attempts = (this.attempts.get(row.seq) ?? 0) + 1;
          if (error instanceof MessageRejectedError || attempts >= this.maxRowAttempts) {
            this.attempts.delete(row.seq);
            await this.refuse(row, error instanceof MessageRejectedError ? error : new RepeatedFailureError(attempts, error));
            continue;
          }
          this.attempts.set(row.seq, attempts);
          this.log('outbox row failed; will retry', { seq: row.seq, topic: row.topic, attempts, error: (error as Error)?.message });
          return void (held += chain.length - i);
        }
      }
    };
    try {
      await Promise.all([...byKey.values()].map(publishChain));
    } finally {
      if (sent.length > 0) await this.store.markSent(sent, this.clock());
    }
    if (lost) throw lost;
    return { sent: sent.length, held };
  }

  /** Moves a row the broker will never take into the dead letters, with its reason. */
  private async refuse(row: OutboxMessage, error: unknown): Promise<void> {
    const at = this.clock();
    const reason = `the broker refused the message for ${row.topic}: ${(error as Error)?.message ?? String(error)}`;
    const type = messageType(row.payload);
    await withRetries(() =>
      this.store.transaction(async (uow) => {
        if (!(await uow.dropOutbox(row, at))) return; // another relay took it first
        await uow.deadLetter({
          source: 'publish',
          consumer: row.sagaType,
          messageId: row.messageId,
          type,
          topic: row.topic,
          key: row.key,
          sagaId: row.sagaId,
          code: error instanceof SagaError ? error.code : 'error',
          reason,
          payload: row.payload,
          at,
        });
      }),
    );
    this.log('outbox row dead-lettered', { seq: row.seq, topic: row.topic, reason });
  }
}

function messageType(payload: string): string | null {
  try {
    const type = (JSON.parse(payload) as { type?: unknown }).type;
    return typeof type === 'string' ? type : null;
  } catch {
    return null;
  }
}

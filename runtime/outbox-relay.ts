import { ROOT_CONTEXT } from '@opentelemetry/api';
import { withRetries } from './batch-transaction.ts';
import { BrokerAuthError, ConcurrencyError, MessageRejectedError, RepeatedFailureError, SagaError, UnavailableError } from './errors.ts';
import type { Health } from './health.ts';
import type { SagaMetrics } from './metrics.ts';
import { shortTopic } from './pulsar-topics.ts';
import type { NewOutboxMessage, SagaStore, Transport } from './ports.ts';
import { endSpan, SpanKind, startSpan, traceContextOf, traceFieldsOf, traceparentIn, tracerRegistered } from './tracing.ts';
import type { Log } from './logger.ts';

export interface OutboxRelayOptions {
  /** Poll interval for rows committed by other processes or left by a crash (default 500 ms). */
  pollMs?: number;
  batchSize?: number;
  /** Longest wait between rounds while the broker fails (default 5 s). */
  maxBackoffMs?: number;
  /**
   * How long published rows wait to be marked sent, so that one statement marks the rows of
   * many rounds (default 25 ms; 0 marks after each round). Until marked they are not sent
   * again by this relay; after a crash they are (consumers deduplicate).
   */
  markDelayMs?: number;
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
  log?: Log;
  /** Counts what it publishes and how long after its commit (`GET /metrics`). */
  metrics?: SagaMetrics;
}

/**
 * Publishes committed outbox rows (each key's in commit order) and marks them sent
 * (arming the deadlines that waited for them).
 *
 * Rows the store reports committed (`SagaStore.onOutboxCommitted`) are published without
 * being read back; pending rows are read at start, on each poll (rows of a crash, or of a
 * store that reports nothing) and after a row was held back. Published rows are marked sent
 * together, at most every `markDelayMs`.
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
  /** Failed attempts per row (by message id) that nobody classified. */
  private readonly attempts = new Map<string, number>();
  /** Rows the store reported committed, published next without reading them back. */
  private offered: NewOutboxMessage[] = [];
  /** Whether the next round reads the pending rows (at start, on the poll, after a row was held back). */
  private needsScan = true;
  /** Message ids published lately, so a row both offered and read back goes out once. */
  private readonly published = new Set<string>();
  private unsubscribe: (() => void) | null = null;
  /** Published (when), not yet marked sent. */
  private unmarked: { messageId: string; at: number }[] = [];
  private markTimer: NodeJS.Timeout | null = null;
  private marking: Promise<void> = Promise.resolve();
  private readonly markDelayMs: number;
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
    this.markDelayMs = options.markDelayMs ?? 25;
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => {});
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.needsScan = true;
    this.unsubscribe =
      this.store.onOutboxCommitted?.((rows) => {
        const types = this.options.sagaTypes?.();
        for (const row of rows) if (!types || types.includes(row.sagaType)) this.offered.push(row);
      }) ?? null;
    this.kick();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.offered = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => 0);
    await this.markNow();
  }

  /** Publishes what is pending now (coalesces with a flush already running). */
  kick(): void {
    if (!this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.round();
  }

  /** Reads the pending rows and publishes them (rows this relay was not told of: adopted from a dead replica). */
  rescan(): void {
    this.needsScan = true;
    this.kick();
  }

  /** Publishes every pending row and marks it sent; resolves with how many were published. */
  async flush(): Promise<number> {
    const published = await this.round();
    await this.markNow();
    return published;
  }

  private round(): Promise<number> {
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
      this.needsScan = true;
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
    this.timer = setTimeout(() => {
      this.needsScan = true;
      this.kick();
    }, backoff);
    this.timer.unref();
  }

  /**
   * Publishes what the store reported committed, without reading it back; reads the pending
   * rows instead at start, on each poll (rows of a crash, or of a store that reports
   * nothing) and after a row was held back, so a key's rows still go out in commit order.
   */
  private async publishPending(): Promise<number> {
    let published = 0;
    // Without the store's reports (a store that has none, or a relay flushed but not started) every round reads.
    const scanOnly = !this.unsubscribe;
    try {
      for (;;) {
        const scan = this.needsScan || scanOnly;
        let rows: NewOutboxMessage[];
        if (scan) {
          this.needsScan = false;
          this.offered = []; // committed before the read below: it returns them
          rows = await this.store.pendingOutbox(this.batchSize, this.options.sagaTypes?.());
        } else {
          rows = this.offered.splice(0, this.batchSize);
        }
        if (rows.length === 0) break;
        const { sent, held } = await this.publishRows(rows);
        published += sent;
        if (held > 0) this.needsScan = true;
        if (scan ? rows.length < this.batchSize || held === rows.length : this.offered.length === 0 && !this.needsScan) break;
      }
      this.failures = 0;
    } catch (error) {
      this.failures++;
      this.needsScan = true;
      this.log('outbox publish failed; will retry', { level: 'warn', error: (error as Error).message, failures: this.failures });
    }
    return published;
  }

  /**
   * Publishes `rows`: one key's rows one after the other, in order (a row that fails holds
   * back the rest of its key), different keys at the same time, so a round costs about one
   * broker round trip instead of one per row (the native driver batches them). Resolves
   * with how many went out and how many wait for a later round.
   */
  private async publishRows(rows: NewOutboxMessage[]): Promise<{ sent: number; held: number }> {
    const byKey = new Map<string, NewOutboxMessage[]>();
    for (const row of rows) {
      if (this.published.has(row.messageId)) continue;
      const chain = byKey.get(row.key);
      if (chain) chain.push(row);
      else byKey.set(row.key, [row]);
    }
    const sent: NewOutboxMessage[] = [];
    let held = 0;
    let lost: unknown = null;
    const publishChain = async (chain: NewOutboxMessage[]) => {
      for (let i = 0; i < chain.length; i++) {
        const row = chain[i];
        if (lost) return void (held += chain.length - i);
        // A span per publication, a child of the transition that wrote the row; consumers continue from it (message properties).
        // Without a provider nothing records it, and the row's context is not read.
        const parent = tracerRegistered() ? traceContextOf({ traceparent: traceparentIn(row.payload) }) : ROOT_CONTEXT;
        const { span, context } = startSpan(`publish ${row.topic}`, SpanKind.PRODUCER, parent, () => ({
          'messaging.system': 'pulsar',
          'messaging.operation.type': 'send',
          'messaging.destination.name': row.topic,
          'messaging.message.id': row.messageId,
          'cloudevents.event_id': row.messageId,
          'cloudevents.event_type': messageType(row.payload) ?? '',
          'saga.id': row.sagaId,
        }));
        try {
          await this.transport.publish(row.topic, { key: row.key, payload: row.payload, ...(span.isRecording() ? { properties: traceFieldsOf(context) as Record<string, string> } : {}) });
          endSpan(span);
          this.options.metrics?.published.inc({ topic: shortTopic(row.topic) });
          this.options.metrics?.publishLag.observe({ topic: shortTopic(row.topic) }, Math.max(0, this.clock() - row.createdAt) / 1000);
          sent.push(row);
          this.remember(row.messageId);
          this.attempts.delete(row.messageId);
          this.options.health?.up('broker');
        } catch (error) {
          endSpan(span, error);
          if (error instanceof UnavailableError || error instanceof BrokerAuthError) {
            this.options.health?.down('broker', error.message);
            lost ??= error; // the broker, not this row: the round stops
            return void (held += chain.length - i);
          }
          const attempts = (this.attempts.get(row.messageId) ?? 0) + 1;
          if (error instanceof MessageRejectedError || attempts >= this.maxRowAttempts) {
            this.attempts.delete(row.messageId);
            await this.refuse(row, error instanceof MessageRejectedError ? error : new RepeatedFailureError(attempts, error));
            continue;
          }
          this.attempts.set(row.messageId, attempts);
          this.log('outbox row failed; will retry', { level: 'warn', ...aboutRow(row), attempts, error: (error as Error)?.message });
          return void (held += chain.length - i);
        }
      }
    };
    try {
      await Promise.all([...byKey.values()].map(publishChain));
    } finally {
      if (sent.length > 0) this.markLater(sent);
    }
    if (lost) throw lost;
    return { sent: sent.length, held };
  }

  /** Queues published rows to be marked sent within `markDelayMs`, with the others of that time. */
  private markLater(sent: NewOutboxMessage[]): void {
    const at = this.clock();
    for (const row of sent) this.unmarked.push({ messageId: row.messageId, at });
    if (this.markDelayMs === 0) return void this.markNow();
    this.markTimer ??= setTimeout(() => void this.markNow(), this.markDelayMs);
  }

  /** Marks what was published so far (after those already being marked). */
  private markNow(): Promise<void> {
    if (this.markTimer) clearTimeout(this.markTimer);
    this.markTimer = null;
    const rows = this.unmarked.splice(0);
    this.marking = this.marking.then(async () => {
      if (rows.length === 0) return;
      try {
        // One time for the lot: the earliest publication (deadlines run from it, at most markDelayMs early).
        await this.markSent(rows, Math.min(...rows.map((r) => r.at)));
      } catch (error) {
        for (const row of rows) this.published.delete(row.messageId); // unmarked: they go out again (consumers deduplicate)
        this.needsScan = true;
        this.log('marking published outbox rows failed; they will be published again', { level: 'warn', rows: rows.length, error: (error as Error)?.message });
      }
    });
    return this.marking;
  }

  /** Marks rows sent; a conflict (a deadlock with a transaction writing deadlines) is tried again at once, a few times. */
  private async markSent(sent: { messageId: string }[], at: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.store.markSent(sent, at);
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= 5) throw error;
      }
    }
  }

  /** Keeps the last few thousand published ids (oldest forgotten first). */
  private remember(messageId: string): void {
    this.published.add(messageId);
    if (this.published.size > 10_000) this.published.delete(this.published.values().next().value as string);
  }

  /** Moves a row the broker will never take into the dead letters, with its reason. */
  private async refuse(row: NewOutboxMessage, error: unknown): Promise<void> {
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
    this.log('outbox row dead-lettered', { level: 'error', ...aboutRow(row, type), code: error instanceof SagaError ? error.code : 'error', reason });
  }
}

/** What a log line about an outbox row names: the message and the saga that wrote it. */
function aboutRow(row: NewOutboxMessage, type = messageType(row.payload)): Record<string, unknown> {
  return { sagaType: row.sagaType, sagaId: row.sagaId, messageId: row.messageId, messageType: type, topic: row.topic };
}

function messageType(payload: string): string | null {
  try {
    const type = (JSON.parse(payload) as { type?: unknown }).type;
    return typeof type === 'string' ? type : null;
  } catch {
    return null;
  }
}

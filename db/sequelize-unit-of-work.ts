import type { Sequelize, Transaction } from 'sequelize';
import { ConcurrencyError, SagaAlreadyExistsError } from '../runtime/errors.ts';
import type { DeadLetter, DeadLetterStatus, Deadline, LogEntry, NewOutboxMessage, OutboxMessage, ReadAhead, SagaInstanceRecord, UnitOfWork } from '../runtime/ports.ts';
import type { SagaInstanceRow } from './models.ts';
import {
  DEAD_LETTER_COLUMNS,
  DEADLINE_COLUMNS,
  INSTANCE_COLUMNS,
  LOG_COLUMNS,
  OUTBOX_COLUMNS,
  deadLetterValues,
  deadlineValues,
  instanceValues,
  logValues,
  outboxValues,
  toInstanceWithoutSnapshot,
} from './rows.ts';
import { Sql, chunks, type MysqlSession, type StatementBatch } from './sql.ts';
import { TableRows, type TableSpec } from './table-rows.ts';

/** An instance as this transaction sees it. */
interface Tracked {
  /** Null: there is no such instance. Its snapshot is in `json`, not here. */
  record: SagaInstanceRecord | null;
  /**
   * The snapshot as written (or read): each load parses its own copy, as a read from the
   * database would, so nothing done to a loaded snapshot reaches the row.
   */
  json: string;
  /** Its `row_version` in the database, which the commit's update checks; null when not stored (yet). */
  stored: number | null;
  /** What the commit writes. */
  write: 'insert' | 'update' | null;
}

/** The deadline changes of one saga: all its rows deleted first when `clear`, then per timer a new row or a deletion (null). */
interface DeadlineChanges {
  sagaType: string;
  sagaId: string;
  clear: boolean;
  timers: Map<string, Deadline | null>;
}

const INSTANCE_SELECT = `SELECT ${INSTANCE_COLUMNS.join(', ')} FROM saga_instances WHERE `;
const key = (...parts: string[]) => parts.join('\u0000');

/** Whether the server takes `FOR UPDATE SKIP LOCKED` (MySQL 8, MariaDB 10.6+): unknown until first tried. */
let skipLocked: boolean | undefined;

/**
 * One transaction's reads and writes, with the writes held back: `flush()` (called by
 * `SequelizeSagaStore.transaction` before it commits) sends them as one multi-row
 * statement per table, instead of a statement or two per message.
 *
 * Reads still see the transaction's earlier writes: instances are kept in an identity map
 * (a saga updated by an earlier input of the batch loads as updated), and `seen` answers
 * from the ids remembered so far. The optimistic check stays per saga: the commit updates
 * each changed instance once, `WHERE row_version =` the version this transaction read,
 * however many of the batch's inputs moved it. Instances are written first, so a
 * transaction that lost a race fails before writing anything else, and a second
 * transaction of the same saga waits (MySQL row lock) until this one commits: outbox
 * rows of one saga keep their commit order.
 *
 * Participants add their own tables to the same transaction through `rows` (held back
 * too) or `sql` / `transaction` (statements that run at once).
 *
 * @example
 * await store.transaction(async (uow) => {
 *   await uow.prefetch({ processed: [{ consumer: 'pagos', messageId }] });
 *   if (await uow.seen('pagos', messageId)) return;
 *   await uow.remember('pagos', messageId, Date.now());
 *   await uow.enqueue(replies); // written with the batch's other outbox rows, before COMMIT
 * });
 */
export class SequelizeUnitOfWork implements UnitOfWork {
  readonly sql: Sql;
  private readonly instances = new Map<string, Tracked>();
  /** Answers of `seen`, from reads and from `remember`. */
  private readonly processed = new Map<string, boolean>();
  private readonly newProcessed: unknown[][] = [];
  private readonly log: LogEntry[] = [];
  private readonly outbox: NewOutboxMessage[] = [];
  private readonly deadlines = new Map<string, DeadlineChanges>();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private readonly tables = new Map<string, TableRows<any>>();

  /** `owner`: the replica whose relay publishes the outbox rows written here (null: whichever claims them). */
  constructor(
    sequelize: Sequelize,
    transaction: Transaction | undefined,
    session?: MysqlSession,
    private readonly owner: string | null = null,
  ) {
    this.sql = new Sql(sequelize, transaction, session);
  }

  /** Reads the instances and processed ids asked for, all in one round trip on MySQL/MariaDB. */
  async prefetch({ instances = [], processed = [] }: ReadAhead): Promise<void> {
    const sql = this.sql;
    const wanted = chunks(unique(instances.map((i) => [i.sagaType, i.id]).filter(([t, id]) => !this.instances.has(key(t, id)))));
    const ids = chunks(unique(processed.map((p) => [p.consumer, p.messageId]).filter(([c, m]) => !this.processed.has(key(c, m)))));
    const results = await sql.selectAll<object>([
      ...wanted.map((part) => INSTANCE_SELECT + sql.anyOf(['saga_type', 'id'], part)),
      ...ids.map((part) => `SELECT consumer, message_id FROM processed_messages WHERE ${sql.anyOf(['consumer', 'message_id'], part)}`),
    ]);
    wanted.forEach((part, i) => {
      const rows = results[i] as SagaInstanceRow[];
      for (const row of rows) if (!this.instances.has(key(row.saga_type, row.id))) this.track(row.saga_type, row.id, row);
      if (matchedExactly(part, rows.map((row) => [row.saga_type, row.id]))) for (const [t, id] of part) if (!this.instances.has(key(t, id))) this.track(t, id, undefined);
    });
    ids.forEach((part, i) => {
      const rows = results[wanted.length + i] as { consumer: string; message_id: string }[];
      const found = rows.map((row) => [row.consumer, row.message_id]);
      for (const k of found) this.processed.set(key(...k), true);
      if (matchedExactly(part, found)) for (const [c, m] of part) if (!this.processed.has(key(c, m))) this.processed.set(key(c, m), false);
    });
  }


  async loadInstance(sagaType: string, id: string): Promise<SagaInstanceRecord | null> {
    let tracked = this.instances.get(key(sagaType, id));
    if (!tracked) {
      const [row] = await this.sql.select<SagaInstanceRow>(INSTANCE_SELECT + this.sql.match(['saga_type', 'id'], [sagaType, id]));
      tracked = this.track(sagaType, id, row);
    }
    return tracked.record && { ...tracked.record, snapshot: JSON.parse(tracked.json) };
  }

  async insertInstance(record: SagaInstanceRecord): Promise<void> {
    const tracked = this.instances.get(key(record.sagaType, record.id));
    if (tracked?.record) throw new SagaAlreadyExistsError(record.sagaType, record.id);
    this.instances.set(key(record.sagaType, record.id), { ...held(record), stored: null, write: 'insert' });
  }

  async updateInstance(record: SagaInstanceRecord, expectedRowVersion: number): Promise<void> {
    const k = key(record.sagaType, record.id);
    const tracked = this.instances.get(k);
    if (!tracked) {
      // Not read here: the commit's update checks the caller's version.
      this.instances.set(k, { ...held(record), stored: expectedRowVersion, write: 'update' });
      return;
    }
    if (tracked.record?.rowVersion !== expectedRowVersion) {
      throw new ConcurrencyError(`saga ${record.sagaType}/${record.id} changed since version ${expectedRowVersion}`);
    }
    Object.assign(tracked, held(record));
    tracked.write ??= 'update';
  }

  async seen(consumer: string, messageId: string): Promise<boolean> {
    const k = key(consumer, messageId);
    let seen = this.processed.get(k);
    if (seen === undefined) {
      const rows = await this.sql.select(`SELECT message_id FROM processed_messages WHERE ${this.sql.match(['consumer', 'message_id'], [consumer, messageId])}`);
      seen = rows.length > 0;
      this.processed.set(k, seen);
    }
    return seen;
  }

  async remember(consumer: string, messageId: string, at: number): Promise<void> {
    const k = key(consumer, messageId);
    // As the unique key would: someone processed it between the check and now, so retry the input.
    if (this.processed.get(k)) throw new ConcurrencyError(`message ${messageId} processed concurrently`);
    this.processed.set(k, true);
    this.newProcessed.push([consumer, messageId, at]);
  }

  async appendLog(entries: LogEntry[]): Promise<void> {
    this.log.push(...entries);
  }

  async enqueue(messages: NewOutboxMessage[]): Promise<void> {
    this.outbox.push(...messages);
  }

  async upsertDeadline(deadline: Deadline): Promise<void> {
    this.deadlineChanges(deadline.sagaType, deadline.sagaId).timers.set(deadline.timerId, deadline);
  }

  async cancelDeadline(sagaType: string, sagaId: string, timerId: string): Promise<void> {
    this.deadlineChanges(sagaType, sagaId).timers.set(timerId, null);
  }

  async cancelAllDeadlines(sagaType: string, sagaId: string): Promise<void> {
    const changes = this.deadlineChanges(sagaType, sagaId);
    changes.clear = true;
    changes.timers.clear();
  }

  async takeDeadline(deadline: Deadline): Promise<boolean> {
    // The DELETE below must see this transaction's deadline changes.
    const pending = this.sql.batch();
    this.flushDeadlines(pending);
    await pending.run();
    const where = this.sql.match(['saga_type', 'saga_id', 'timer_id', 'due_at'], [deadline.sagaType, deadline.sagaId, deadline.timerId, deadline.dueAt]);
    if (this.sql.mysql && skipLocked !== false) {
      // Replicas of a service fire the same due deadlines: one that another replica's
      // transaction holds is skipped at once rather than waited for (it fires there), so the
      // replicas share a backlog instead of queueing behind each other. Needs MySQL 8 or
      // MariaDB 10.6; older servers wait on the lock as before.
      try {
        const held = await this.sql.select(`SELECT 1 AS held FROM deadlines WHERE ${where} FOR UPDATE SKIP LOCKED`);
        skipLocked = true;
        if (held.length === 0) return false;
      } catch (error) {
        if (skipLocked !== undefined || !/SKIP LOCKED|syntax/i.test((error as Error).message)) throw error;
        skipLocked = false;
      }
    }
    return (await this.sql.change(`DELETE FROM deadlines WHERE ${where}`)) === 1;
  }

  async deadLetter(letter: DeadLetter): Promise<void> {
    await this.sql.insert('dead_letters', DEAD_LETTER_COLUMNS, [deadLetterValues(letter)]);
    this.lettered.push(letter);
  }

  async resolveDeadLetter(id: number, status: Exclude<DeadLetterStatus, 'open'>, resolution: string, at: number): Promise<boolean> {
    const sql = this.sql;
    const set = `status = ${sql.escape(status)}, resolved_at = ${sql.escape(at)}, resolution = ${sql.escape(resolution)}`;
    return (await sql.change(`UPDATE dead_letters SET ${set} WHERE id = ${sql.escape(id)} AND status = 'open'`)) === 1;
  }

  async markSent(sent: readonly Pick<OutboxMessage, 'messageId'>[], at: number): Promise<void> {
    const sql = this.sql;
    const batch = sql.batch();
    for (const part of chunks(sent)) {
      const ids = part.map((r) => sql.escape(r.messageId)).join(', ');
      batch.change(`UPDATE outbox SET sent_at = ${sql.escape(at)} WHERE message_id IN (${ids})`);
      batch.change(this.armDeadlines(ids, at));
    }
    await batch.run();
  }

  async dropOutbox(row: Pick<OutboxMessage, 'messageId'>, at: number): Promise<boolean> {
    const id = this.sql.escape(row.messageId);
    if ((await this.sql.change(`DELETE FROM outbox WHERE message_id = ${id} AND sent_at IS NULL`)) !== 1) return false;
    // The step's deadline runs as if the command had gone out: the saga decides, not the broker.
    await this.sql.change(this.armDeadlines(id, at));
    return true;
  }

  /** The UPDATE that arms the deadlines waiting for the messages `ids` (escaped, comma-separated). */
  private armDeadlines(ids: string, at: number): string {
    return `UPDATE deadlines SET due_at = ${this.sql.escape(at)} + delay_ms, after_message = NULL WHERE after_message IN (${ids})`;
  }

  /** The outbox rows this unit of work wrote (known after `flush`), for the relay once it commits. */
  readonly written: NewOutboxMessage[] = [];
  /** The dead letters this unit of work wrote, for the metrics once it commits. */
  readonly lettered: DeadLetter[] = [];

  /** The rows of another table (a participant's) read and written in this transaction, written back by `flush`. */
  rows<R extends object>(spec: TableSpec<R>): TableRows<R> {
    let rows = this.tables.get(spec.name);
    if (!rows) this.tables.set(spec.name, (rows = new TableRows(this.sql, spec)));
    return rows;
  }

  /**
   * Writes what the unit of work holds back; the store calls it right before COMMIT. The
   * writes go as one batch (one round trip on MySQL/MariaDB, see `StatementBatch`).
   */
  async flush(options: { commit?: boolean } = {}): Promise<void> {
    const batch = this.sql.batch();
    this.flushInstances(batch);
    for (const rows of this.tables.values()) rows.queue(batch);
    const duplicate = (what: string) => () => new ConcurrencyError(what);
    batch.insert('processed_messages', ['consumer', 'message_id', 'processed_at'], this.newProcessed.splice(0), { onDuplicate: duplicate('a message of this batch was processed concurrently') });
    batch.insert('saga_log', LOG_COLUMNS, this.log.splice(0).map(logValues), { onDuplicate: duplicate('saga log sequence taken by a concurrent handler') });
    const outbox = this.outbox.splice(0);
    this.written.push(...outbox);
    batch.insert('outbox', [...OUTBOX_COLUMNS, 'owner'], outbox.map((m) => [...outboxValues(m), this.owner]));
    this.flushDeadlines(batch);
    await batch.run(options);
  }

  private track(sagaType: string, id: string, row: SagaInstanceRow | undefined): Tracked {
    const record = row ? toInstanceWithoutSnapshot(row) : null;
    const tracked: Tracked = { record, json: row?.snapshot ?? 'null', stored: record?.rowVersion ?? null, write: null };
    this.instances.set(key(sagaType, id), tracked);
    return tracked;
  }

  private flushInstances(batch: StatementBatch): void {
    const changed = [...this.instances.values()].filter((t) => t.write !== null);
    const inserts = changed.filter((t) => t.write === 'insert');
    const updates = changed.filter((t) => t.write === 'update');
    batch.insert('saga_instances', INSTANCE_COLUMNS, inserts.map((t) => instanceValues(t.record!, t.json)), {
      alone: true,
      // Created by another transaction since this one looked: which one is known only when alone.
      onDuplicate: () => (inserts.length === 1 ? new SagaAlreadyExistsError(inserts[0].record!.sagaType, inserts[0].record!.id) : new ConcurrencyError('a saga of this batch was created concurrently')),
    });
    const byType = new Map<string, Tracked[]>();
    for (const t of updates) {
      const same = byType.get(t.record!.sagaType);
      if (same) same.push(t);
      else byType.set(t.record!.sagaType, [t]);
    }
    for (const [sagaType, all] of byType) for (const part of chunks(all, (t) => t.json.length)) this.updateInstances(batch, sagaType, part);
    for (const tracked of changed) {
      tracked.stored = tracked.record!.rowVersion;
      tracked.write = null;
    }
  }

  /**
   * One UPDATE for many instances of a type: each column set by `CASE id`, and the version
   * check per row (`row_version = CASE id ...`). Fewer rows changed than asked means one of
   * them changed since this transaction read it: the whole transaction is retried.
   */
  private updateInstances(batch: StatementBatch, sagaType: string, part: Tracked[]): void {
    const sql = this.sql;
    const records = part.map((t) => t.record!);
    const byId = (value: (r: SagaInstanceRecord, i: number) => unknown) =>
      `CASE id ${records.map((r, i) => `WHEN ${sql.escape(r.id)} THEN ${sql.escape(value(r, i))}`).join(' ')} END`;
    const set = [
      `state_value = ${byId((r) => r.stateValue)}`,
      `status = ${byId((r) => r.status)}`,
      // A saga moved to a newer machine (runtime/upgrade.ts) changes version.
      `version = ${byId((r) => r.version)}`,
      `snapshot = ${byId((_, i) => part[i].json)}`,
      `row_version = ${byId((r) => r.rowVersion)}`,
      `log_seq = ${byId((r) => r.logSeq)}`,
      `updated_at = ${byId((r) => r.updatedAt)}`,
    ];
    const where = `(${sql.anyOf(['saga_type', 'id'], records.map((r) => [sagaType, r.id]))}) AND row_version = ${byId((_, i) => part[i].stored)}`;
    batch.change(`UPDATE saga_instances SET ${set.join(', ')} WHERE ${where}`, (count) => {
      if (count === part.length) return;
      const which = records.length === 1 ? `saga ${sagaType}/${records[0].id} changed since version ${part[0].stored}` : `${part.length - count} of ${part.length} sagas changed since read`;
      throw new ConcurrencyError(which);
    });
  }

  private deadlineChanges(sagaType: string, sagaId: string): DeadlineChanges {
    const k = key(sagaType, sagaId);
    let changes = this.deadlines.get(k);
    if (!changes) this.deadlines.set(k, (changes = { sagaType, sagaId, clear: false, timers: new Map() }));
    return changes;
  }

  private flushDeadlines(batch: StatementBatch): void {
    const sql = this.sql;
    const changes = [...this.deadlines.values()];
    this.deadlines.clear();
    const cleared = changes.filter((c) => c.clear).map((c) => [c.sagaType, c.sagaId]);
    const cancelled = changes.flatMap((c) => [...c.timers].filter(([, d]) => d === null).map(([timerId]) => [c.sagaType, c.sagaId, timerId]));
    for (const part of chunks(cleared)) batch.change(`DELETE FROM deadlines WHERE ${sql.anyOf(['saga_type', 'saga_id'], part)}`);
    for (const part of chunks(cancelled)) batch.change(`DELETE FROM deadlines WHERE ${sql.anyOf(['saga_type', 'saga_id', 'timer_id'], part)}`);
    const due = changes.flatMap((c) => [...c.timers.values()].filter((d): d is Deadline => d !== null));
    batch.insert('deadlines', DEADLINE_COLUMNS, due.map(deadlineValues), { upsert: { key: ['saga_type', 'saga_id', 'timer_id'], columns: ['due_at', 'event', 'after_message', 'delay_ms', 'traceparent'] } });
  }
}

/**
 * Whether every row found is one of the keys asked for, as JavaScript compares strings.
 * A MySQL collation may also match a key that differs in case or trailing spaces; then the
 * keys not found are left unknown (read one by one if asked) rather than taken as absent.
 */
function matchedExactly(asked: string[][], found: string[][]): boolean {
  const keys = new Set(asked.map((k) => key(...k)));
  return found.every((k) => keys.has(key(...k)));
}

/** A record as a unit of work holds it: the snapshot serialized now, as an immediate write would. */
function held(record: SagaInstanceRecord): Pick<Tracked, 'record' | 'json'> {
  return { record: { ...record, snapshot: null }, json: JSON.stringify(record.snapshot) };
}

function unique(keys: string[][]): string[][] {
  const seen = new Set<string>();
  return keys.filter((k) => {
    const id = key(...k);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}


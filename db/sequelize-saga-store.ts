import type { Sequelize } from 'sequelize';
import type { DeadLetter, DeadLetterQuery, Deadline, InstanceQuery, LogEntry, NewOutboxMessage, OutboxMessage, PruneOptions, PruneReport, Replica, ReplicaRegistry, SagaInstanceRecord, SagaInstanceSummary, SagaStore } from '../runtime/ports.ts';
import { translate } from './driver-errors.ts';
import { defineModels, type DeadlineRow, type OutboxRow, type ReplicaRow, type SagaInstanceRow, type SagaModels } from './models.ts';
import { AGED_TABLES, Pruner, type AgedTable } from './retention.ts';
import { DEADLINE_COLUMNS, INSTANCE_SUMMARY_COLUMNS, OUTBOX_COLUMNS, toDeadLetter, toDeadline, toInstance, toInstanceSummary, toLogEntry, toOutboxMessage } from './rows.ts';
import { MysqlSession, Sql, chunks, type RawConnection } from './sql.ts';

/** The part of Sequelize's connection manager (v6) the store's own MySQL transactions use. */
interface ConnectionManager {
  getConnection(options: { type: 'read' | 'write' }): Promise<RawConnection>;
  releaseConnection(connection: RawConnection): Promise<void> | void;
  pool: { destroy(connection: RawConnection): Promise<void> | void };
}
import { SequelizeUnitOfWork } from './sequelize-unit-of-work.ts';

export { SequelizeUnitOfWork };

/**
 * The runtime's `SagaStore` on Sequelize (MySQL 8 / MariaDB through mysql2, or SQLite).
 * The message path (units of work, the relay's and the scheduler's queries) is plain SQL
 * through `sequelize.query`; the models serve the other reads.
 *
 * @example
 * const sequelize = await connect(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
 * await migrate(sequelize);
 * const store = new SequelizeSagaStore(sequelize);
 *
 * Replicas (processes of one service sharing the database) give each store their replica id
 * (`replicaId`): the outbox rows it writes are that replica's, and `pendingOutbox` returns only
 * its own rows (and claims unowned ones), so no row is published by two relays. It is also the
 * `ReplicaRegistry` where replicas keep their leases (see `ReplicaLease`).
 */
export class SequelizeSagaStore implements SagaStore, ReplicaRegistry {
  readonly models: SagaModels;
  private readonly sqlite: boolean;
  private readonly sql: Sql;
  private readonly outboxListeners = new Set<(rows: readonly NewOutboxMessage[]) => void>();
  private readonly deadLetterListeners = new Set<(letters: readonly DeadLetter[]) => void>();
  private writeQueue: Promise<unknown> = Promise.resolve();

  /**
   * `agedTables`: the tables retention prunes by age besides the runtime's own (default
   * `AGED_TABLES`). `replicaId`: this process's replica (see the class comment); omitted,
   * the store writes unowned rows and reads every pending row (a process alone, a tool).
   */
  constructor(
    readonly sequelize: Sequelize,
    private readonly options: { agedTables?: readonly AgedTable[]; replicaId?: string } = {},
  ) {
    this.models = defineModels(sequelize);
    this.sqlite = sequelize.getDialect() === 'sqlite';
    this.sql = new Sql(sequelize);
  }

  /** Runs `work`, then writes what its unit of work held back, then commits. */
  transaction<T>(work: (uow: SequelizeUnitOfWork) => Promise<T>): Promise<T> {
    if (!this.sqlite) return this.ownTransaction(work);
    return this.queued(() =>
      this.sequelize
        .transaction(async (transaction) => {
          const uow = new SequelizeUnitOfWork(this.sequelize, transaction, undefined, this.options.replicaId ?? null);
          const result = await work(uow);
          await uow.flush();
          if (uow.written.length > 0 || uow.lettered.length > 0) transaction.afterCommit(() => this.committed(uow));
          return result;
        })
        .catch((error: unknown) => {
          throw translate(error);
        }),
    );
  }

  /**
   * MySQL/MariaDB: the transaction on one pooled connection, run by the store rather than
   * by Sequelize's `transaction()`, so that START TRANSACTION travels with the first reads
   * and COMMIT with the writes (db/sql.ts `MysqlSession`). On any failure it rolls back.
   */
  private async ownTransaction<T>(work: (uow: SequelizeUnitOfWork) => Promise<T>): Promise<T> {
    const manager = (this.sequelize as unknown as { connectionManager: ConnectionManager }).connectionManager;
    const connection = await manager.getConnection({ type: 'write' }).catch((error: unknown) => {
      throw translate(error);
    });
    const session = new MysqlSession(connection);
    let broken = false;
    try {
      const uow = new SequelizeUnitOfWork(this.sequelize, undefined, session, this.options.replicaId ?? null);
      const result = await work(uow);
      await uow.flush({ commit: true });
      this.committed(uow);
      return result;
    } catch (error) {
      if (session.begun) {
        await new Promise<void>((resolve) =>
          connection.query('ROLLBACK', (rollbackError) => {
            broken = rollbackError !== null; // a connection that cannot roll back goes, not back to the pool
            resolve();
          }),
        );
      }
      throw translate(error);
    } finally {
      try {
        await (broken ? manager.pool.destroy(connection) : manager.releaseConnection(connection));
      } catch {
        // already gone from the pool
      }
    }
  }

  /** Runs plain statements in one transaction, queued like `transaction` (for maintenance such as retention). */
  private statements<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    return this.queued(() =>
      this.sequelize
        .transaction((transaction) => work(new Sql(this.sequelize, transaction)))
        .catch((error: unknown) => {
          throw translate(error);
        }),
    );
  }

  private queued<T>(run: () => Promise<T>): Promise<T> {
    if (!this.sqlite) return run();
    // SQLite has one writer: queue this process's transactions instead of letting them
    // fight over the lock (other processes still wait through the busy timeout).
    const next = this.writeQueue.then(run, run);
    this.writeQueue = next.catch(() => undefined);
    return next;
  }

  async getInstance(sagaType: string, id: string): Promise<SagaInstanceRecord | null> {
    const row = await this.models.SagaInstance.findOne({ where: { saga_type: sagaType, id }, raw: true });
    return row ? toInstance(row) : null;
  }

  async findInstances(id: string): Promise<SagaInstanceRecord[]> {
    const rows = await this.models.SagaInstance.findAll({ where: { id }, raw: true });
    return rows.map(toInstance);
  }

  /**
   * Never reads the snapshot column, and each filter has an index in this order
   * (migration 0005): `created_at, id, saga_type`, `status, created_at, …`,
   * `saga_type, created_at, …` and `saga_type, status, created_at, …`, which reads just
   * the rows returned, in order; an id filter uses `saga_instances_id` and sorts its few
   * rows. MySQL/MariaDB are told the index: with a saga type, their planner would rather
   * read every row of that type through the primary key and sort them.
   */
  async listInstances(query: InstanceQuery = {}): Promise<SagaInstanceSummary[]> {
    const sql = this.sql;
    const after = query.after;
    const where = [
      query.status !== undefined ? `status = ${sql.escape(query.status)}` : null,
      query.sagaType !== undefined ? `saga_type = ${sql.escape(query.sagaType)}` : null,
      query.id !== undefined ? `id = ${sql.escape(query.id)}` : null,
      query.customer !== undefined ? `customer = ${sql.escape(query.customer)}` : null,
      query.state !== undefined ? `state_value = ${sql.escape(query.state)}` : null,
      query.createdFrom !== undefined ? `created_at >= ${sql.escape(query.createdFrom)}` : null,
      query.createdBefore !== undefined ? `created_at < ${sql.escape(query.createdBefore)}` : null,
      // The next page, in the list's order (newest first): a keyset, so page 100 costs what page 1 does.
      after
        ? `(created_at < ${sql.escape(after.createdAt)} OR (created_at = ${sql.escape(after.createdAt)} AND (id < ${sql.escape(after.id)} OR (id = ${sql.escape(after.id)} AND saga_type < ${sql.escape(after.sagaType)}))))`
        : null,
    ].filter((w) => w !== null);
    // The most selective filter's index, read in order (each ends with created_at, id, saga_type).
    const index =
      query.id !== undefined
        ? null
        : query.customer !== undefined
          ? 'saga_instances_customer'
          : query.state !== undefined
            ? 'saga_instances_state'
            : query.sagaType !== undefined
              ? query.status !== undefined
                ? 'saga_instances_type_status_newest'
                : 'saga_instances_type_newest'
              : query.status !== undefined
                ? 'saga_instances_status_newest'
                : 'saga_instances_newest';
    const hint = sql.mysql && index ? ` FORCE INDEX (${index})` : '';
    // With one saga type the type is no sort key (MariaDB would sort by it, a constant, rather than read the index in order).
    const order = query.sagaType !== undefined ? 'created_at DESC, id DESC' : 'created_at DESC, id DESC, saga_type DESC';
    const rows = await sql.select<Omit<SagaInstanceRow, 'snapshot'>>(
      `SELECT ${INSTANCE_SUMMARY_COLUMNS.join(', ')} FROM saga_instances${hint}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
        `ORDER BY ${order} LIMIT ${sql.escape(query.limit ?? 100)}`,
    );
    return rows.map(toInstanceSummary);
  }

  async readLog(sagaType: string, id: string): Promise<LogEntry[]> {
    const rows = await this.models.SagaLog.findAll({ where: { saga_type: sagaType, saga_id: id }, order: [['seq', 'ASC']], raw: true });
    return rows.map(toLogEntry);
  }

  /**
   * With a `replicaId`, only this replica's rows, and unowned ones (written by a tool, or
   * before migration 0007), which it claims first: of two replicas only one gets each.
   */
  async pendingOutbox(limit: number, sagaTypes?: readonly string[]): Promise<OutboxMessage[]> {
    const sql = this.sql;
    const types = sagaTypes ? ` AND saga_type IN (${sagaTypes.map((t) => sql.escape(t)).join(', ') || 'NULL'})` : '';
    const me = this.options.replicaId;
    const owned = me === undefined ? '' : ` AND (owner = ${sql.escape(me)} OR owner IS NULL)`;
    const rows = await sql.select<OutboxRow>(`SELECT seq, ${OUTBOX_COLUMNS.join(', ')}, owner FROM outbox WHERE sent_at IS NULL${types}${owned} ORDER BY seq LIMIT ${sql.escape(limit)}`);
    const unowned = me === undefined ? [] : rows.filter((r) => r.owner === null);
    if (unowned.length === 0) return rows.map(toOutboxMessage);
    const ids = unowned.map((r) => sql.escape(r.message_id)).join(', ');
    await sql.change(`UPDATE outbox SET owner = ${sql.escape(me!)} WHERE owner IS NULL AND message_id IN (${ids})`);
    const mine = new Set(
      (await sql.select<{ message_id: string }>(`SELECT message_id FROM outbox WHERE owner = ${sql.escape(me!)} AND message_id IN (${ids})`)).map((r) => r.message_id),
    );
    return rows.filter((r) => r.owner !== null || mine.has(r.message_id)).map(toOutboxMessage);
  }

  async renewReplica(replica: Replica, renewal: boolean): Promise<boolean> {
    const sql = this.sql;
    if (renewal && (await sql.change(`UPDATE replicas SET expires_at = ${sql.escape(replica.expiresAt)} WHERE replica_id = ${sql.escape(replica.id)}`)) === 1) return true;
    await sql.change(`DELETE FROM replicas WHERE replica_id = ${sql.escape(replica.id)}`);
    await sql.insert('replicas', ['replica_id', 'service', 'host', 'pid', 'started_at', 'expires_at'], [
      [replica.id, replica.service, replica.host, replica.pid, replica.startedAt, replica.expiresAt],
    ]);
    return !renewal;
  }

  async listReplicas(service?: string): Promise<Replica[]> {
    const where = service === undefined ? '' : ` WHERE service = ${this.sql.escape(service)}`;
    const rows = await this.sql.select<ReplicaRow>(`SELECT replica_id, service, host, pid, started_at, expires_at FROM replicas${where} ORDER BY started_at`);
    return rows.map((r) => ({ id: r.replica_id, service: r.service, host: r.host, pid: Number(r.pid), startedAt: Number(r.started_at), expiresAt: Number(r.expires_at) }));
  }

  /** Deleting the dead replica's row first decides which of two adopters gets its rows: the one whose DELETE found it. */
  async adoptReplica(dead: Pick<Replica, 'id' | 'expiresAt'>, heirId: string): Promise<number | null> {
    return this.statements(async (sql) => {
      const id = sql.escape(dead.id);
      if ((await sql.change(`DELETE FROM replicas WHERE replica_id = ${id} AND expires_at = ${sql.escape(dead.expiresAt)}`)) !== 1) return null;
      return sql.change(`UPDATE outbox SET owner = ${sql.escape(heirId)} WHERE owner = ${id} AND sent_at IS NULL`);
    });
  }

  /** Unpublished outbox rows per owning replica (null: rows no replica owns yet), for operators. */
  async unpublishedByOwner(): Promise<Map<string | null, number>> {
    const rows = await this.sql.select<{ owner: string | null; n: number | string }>('SELECT owner, COUNT(*) AS n FROM outbox WHERE sent_at IS NULL GROUP BY owner');
    return new Map(rows.map((r) => [r.owner, Number(r.n)]));
  }

  async releaseReplica(id: string): Promise<void> {
    await this.sql.change(`UPDATE replicas SET expires_at = 0 WHERE replica_id = ${this.sql.escape(id)}`);
  }

  onOutboxCommitted(listener: (rows: readonly NewOutboxMessage[]) => void): () => void {
    this.outboxListeners.add(listener);
    return () => this.outboxListeners.delete(listener);
  }

  onDeadLettersCommitted(listener: (letters: readonly DeadLetter[]) => void): () => void {
    this.deadLetterListeners.add(listener);
    return () => this.deadLetterListeners.delete(listener);
  }

  /** Tells the listeners what a transaction wrote, once it committed. */
  private committed(uow: SequelizeUnitOfWork): void {
    // A listener that throws loses nothing: a relay finds the rows by polling, and the dead letters are in their table.
    const tell = <T>(listeners: Set<(items: readonly T[]) => void>, items: readonly T[]) => {
      if (items.length === 0) return;
      for (const listener of listeners) {
        try {
          listener(items);
        } catch {
          // see above
        }
      }
    };
    tell(this.outboxListeners, uow.written);
    tell(this.deadLetterListeners, uow.lettered);
  }

  async markSent(sent: readonly Pick<OutboxMessage, 'messageId'>[], at: number): Promise<void> {
    if (sent.length === 0) return;
    if (this.sqlite) return this.transaction((uow) => uow.markSent(sent, at));
    // MySQL/MariaDB: one statement marks the rows and arms the deadlines that waited for them,
    // atomically, in one round trip and one commit (the relay's cost per round).
    const sql = this.sql;
    for (const part of chunks(sent)) {
      await sql.change(
        `UPDATE outbox o LEFT JOIN deadlines d ON d.after_message = o.message_id ` +
          `SET o.sent_at = ${sql.escape(at)}, d.due_at = ${sql.escape(at)} + d.delay_ms, d.after_message = NULL ` +
          `WHERE o.message_id IN (${part.map((r) => sql.escape(r.messageId)).join(', ')})`,
      );
    }
  }

  async dueDeadlines(now: number, limit: number, sagaTypes?: readonly string[]): Promise<Deadline[]> {
    const rows = await this.sql.select<DeadlineRow>(
      `SELECT ${DEADLINE_COLUMNS.join(', ')} FROM deadlines WHERE due_at <= ${this.sql.escape(now)} AND ${this.armed(sagaTypes)} ORDER BY due_at LIMIT ${this.sql.escape(limit)}`,
    );
    return rows.map(toDeadline);
  }

  async nextDeadlineAt(sagaTypes?: readonly string[]): Promise<number | null> {
    const [row] = await this.sql.select<{ next: number | string | null }>(`SELECT MIN(due_at) AS next FROM deadlines WHERE ${this.armed(sagaTypes)}`);
    return row?.next === null || row?.next === undefined ? null : Number(row.next);
  }

  /** Deadlines that are armed (not waiting for their command's publication), of these saga types. */
  private armed(sagaTypes?: readonly string[]): string {
    const types = sagaTypes ? ` AND saga_type IN (${sagaTypes.map((t) => this.sql.escape(t)).join(', ') || 'NULL'})` : '';
    return `after_message IS NULL${types}`;
  }

  async deadlinesOf(sagaType: string, id: string): Promise<Deadline[]> {
    const rows = await this.models.Deadline.findAll({ where: { saga_type: sagaType, saga_id: id }, order: [['due_at', 'ASC']], raw: true });
    return rows.map(toDeadline);
  }

  async listDeadLetters(query: DeadLetterQuery = {}): Promise<DeadLetter[]> {
    const where: Record<string, unknown> = {};
    if (query.status) where.status = query.status;
    if (query.consumers) where.consumer = [...query.consumers];
    const rows = await this.models.DeadLetter.findAll({ where, order: [['id', 'DESC']], limit: query.limit ?? 100, raw: true });
    return rows.map(toDeadLetter);
  }

  async getDeadLetter(id: number): Promise<DeadLetter | null> {
    const row = await this.models.DeadLetter.findByPk(id, { raw: true });
    return row ? toDeadLetter(row) : null;
  }

  /** See `SagaStore.prune`; the deletes are `Pruner`'s (db/retention.ts), each chunk its own short transaction. */
  prune(before: number, options?: PruneOptions): Promise<PruneReport> {
    return new Pruner((work) => this.statements(work), this.options.agedTables ?? AGED_TABLES).prune(before, options);
  }

  async close(): Promise<void> {
    await this.writeQueue;
    await this.sequelize.close();
  }
}


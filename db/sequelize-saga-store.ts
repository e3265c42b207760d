import type { Sequelize } from 'sequelize';
import type { DeadLetter, DeadLetterQuery, Deadline, InstanceQuery, LogEntry, OutboxMessage, SagaInstanceRecord, SagaStore } from '../runtime/ports.ts';
import { translate } from './driver-errors.ts';
import { defineModels, type DeadlineRow, type OutboxRow, type SagaModels } from './models.ts';
import { DEADLINE_COLUMNS, OUTBOX_COLUMNS, toDeadLetter, toDeadline, toInstance, toLogEntry, toOutboxMessage } from './rows.ts';
import { Sql } from './sql.ts';
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
 */
export class SequelizeSagaStore implements SagaStore {
  readonly models: SagaModels;
  private readonly sqlite: boolean;
  private readonly sql: Sql;
  private writeQueue: Promise<unknown> = Promise.resolve();

  constructor(readonly sequelize: Sequelize) {
    this.models = defineModels(sequelize);
    this.sqlite = sequelize.getDialect() === 'sqlite';
    this.sql = new Sql(sequelize);
  }

  /** Runs `work`, then writes what its unit of work held back, then commits. */
  transaction<T>(work: (uow: SequelizeUnitOfWork) => Promise<T>): Promise<T> {
    const run = () =>
      this.sequelize
        .transaction(async (transaction) => {
          const uow = new SequelizeUnitOfWork(this.sequelize, transaction);
          const result = await work(uow);
          await uow.flush();
          return result;
        })
        .catch((error: unknown) => {
          throw translate(error);
        });
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

  async listInstances(query: InstanceQuery = {}): Promise<SagaInstanceRecord[]> {
    const where: Record<string, unknown> = {};
    if (query.status) where.status = query.status;
    if (query.sagaType) where.saga_type = query.sagaType;
    const rows = await this.models.SagaInstance.findAll({
      where,
      order: [['created_at', 'DESC'], ['id', 'ASC']],
      limit: query.limit ?? 100,
      raw: true,
    });
    return rows.map(toInstance);
  }

  async readLog(sagaType: string, id: string): Promise<LogEntry[]> {
    const rows = await this.models.SagaLog.findAll({ where: { saga_type: sagaType, saga_id: id }, order: [['seq', 'ASC']], raw: true });
    return rows.map(toLogEntry);
  }

  async pendingOutbox(limit: number): Promise<OutboxMessage[]> {
    const rows = await this.sql.select<OutboxRow>(
      `SELECT seq, ${OUTBOX_COLUMNS.join(', ')} FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ${this.sql.escape(limit)}`,
    );
    return rows.map(toOutboxMessage);
  }

  async markSent(sent: readonly Pick<OutboxMessage, 'seq' | 'messageId'>[], at: number): Promise<void> {
    if (sent.length === 0) return;
    await this.transaction((uow) => uow.markSent(sent, at));
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

  async close(): Promise<void> {
    await this.writeQueue;
    await this.sequelize.close();
  }
}


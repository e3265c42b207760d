import { ConnectionError, Op, TimeoutError, UniqueConstraintError, type Sequelize, type Transaction } from 'sequelize';
import { ConcurrencyError, SagaAlreadyExistsError, UnavailableError } from '../runtime/errors.ts';
import type {
  DeadLetter,
  Deadline,
  InstanceQuery,
  LogEntry,
  NewOutboxMessage,
  OutboxMessage,
  SagaInstanceRecord,
  SagaStatus,
  SagaStore,
  UnitOfWork,
} from '../runtime/ports.ts';
import { defineModels, type DeadLetterRow, type DeadlineRow, type SagaInstanceRow, type SagaLogRow, type SagaModels } from './models.ts';

/**
 * The runtime's `SagaStore` on Sequelize (MySQL 8 / MariaDB through mysql2, or SQLite).
 *
 * @example
 * const sequelize = await connect(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
 * await migrate(sequelize);
 * const store = new SequelizeSagaStore(sequelize);
 */
export class SequelizeSagaStore implements SagaStore {
  readonly models: SagaModels;
  private readonly sqlite: boolean;
  private writeQueue: Promise<unknown> = Promise.resolve();

  constructor(readonly sequelize: Sequelize) {
    this.models = defineModels(sequelize);
    this.sqlite = sequelize.getDialect() === 'sqlite';
  }

  transaction<T>(work: (uow: SequelizeUnitOfWork) => Promise<T>): Promise<T> {
    const run = () =>
      this.sequelize
        .transaction((transaction) => work(new SequelizeUnitOfWork(this.models, transaction)))
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
    const rows = await this.models.Outbox.findAll({ where: { sent_at: null }, order: [['seq', 'ASC']], limit, raw: true });
    return rows.map((r) => ({
      seq: Number(r.seq),
      messageId: r.message_id,
      sagaType: r.saga_type,
      sagaId: r.saga_id,
      topic: r.topic,
      key: r.msg_key,
      payload: r.payload,
      createdAt: Number(r.created_at),
    }));
  }

  async markSent(seqs: number[], at: number): Promise<void> {
    if (seqs.length === 0) return;
    await this.transaction((uow) => this.models.Outbox.update({ sent_at: at }, { where: { seq: { [Op.in]: seqs } }, transaction: uow.transaction }));
  }

  async dueDeadlines(now: number, limit: number): Promise<Deadline[]> {
    const rows = await this.models.Deadline.findAll({ where: { due_at: { [Op.lte]: now } }, order: [['due_at', 'ASC']], limit, raw: true });
    return rows.map(toDeadline);
  }

  async nextDeadlineAt(): Promise<number | null> {
    const next = await this.models.Deadline.min('due_at');
    return next === null || next === undefined ? null : Number(next);
  }

  async deadlinesOf(sagaType: string, id: string): Promise<Deadline[]> {
    const rows = await this.models.Deadline.findAll({ where: { saga_type: sagaType, saga_id: id }, order: [['due_at', 'ASC']], raw: true });
    return rows.map(toDeadline);
  }

  async listDeadLetters(limit = 100): Promise<DeadLetter[]> {
    const rows = await this.models.DeadLetter.findAll({ order: [['id', 'DESC']], limit, raw: true });
    return rows.map((r: DeadLetterRow) => ({
      id: Number(r.id),
      messageId: r.message_id,
      type: r.type,
      topic: r.topic,
      sagaId: r.saga_id,
      code: r.code,
      reason: r.reason,
      payload: r.payload,
      at: Number(r.at),
    }));
  }

  async close(): Promise<void> {
    await this.writeQueue;
    await this.sequelize.close();
  }
}

/** One transaction's writes; `transaction` lets participants add their own tables to it. */
export class SequelizeUnitOfWork implements UnitOfWork {
  constructor(
    private readonly models: SagaModels,
    readonly transaction: Transaction,
  ) {}

  async loadInstance(sagaType: string, id: string): Promise<SagaInstanceRecord | null> {
    const row = await this.models.SagaInstance.findOne({ where: { saga_type: sagaType, id }, transaction: this.transaction, raw: true });
    return row ? toInstance(row) : null;
  }

  async insertInstance(record: SagaInstanceRecord): Promise<void> {
    try {
      await this.models.SagaInstance.create(fromInstance(record), { transaction: this.transaction });
    } catch (error) {
      if (isUniqueViolation(error)) throw new SagaAlreadyExistsError(record.sagaType, record.id);
      throw error;
    }
  }

  async updateInstance(record: SagaInstanceRecord, expectedRowVersion: number): Promise<void> {
    const { saga_type, id, ...values } = fromInstance(record);
    const [count] = await this.models.SagaInstance.update(values, {
      where: { saga_type, id, row_version: expectedRowVersion },
      transaction: this.transaction,
    });
    if (count !== 1) {
      throw new ConcurrencyError(`saga ${saga_type}/${id} changed since version ${expectedRowVersion}`);
    }
  }

  async seen(consumer: string, messageId: string): Promise<boolean> {
    const row = await this.models.ProcessedMessage.findOne({
      where: { consumer, message_id: messageId },
      attributes: ['message_id'],
      transaction: this.transaction,
      raw: true,
    });
    return row !== null;
  }

  async remember(consumer: string, messageId: string, at: number): Promise<void> {
    try {
      await this.models.ProcessedMessage.create({ consumer, message_id: messageId, processed_at: at }, { transaction: this.transaction });
    } catch (error) {
      // Someone processed it between our check and now: let the whole input be retried.
      if (isUniqueViolation(error)) throw new ConcurrencyError(`message ${messageId} processed concurrently`);
      throw error;
    }
  }

  async appendLog(entries: LogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.models.SagaLog.bulkCreate(
        entries.map((e) => ({
          saga_type: e.sagaType,
          saga_id: e.sagaId,
          seq: e.seq,
          kind: e.kind,
          type: e.type,
          payload: JSON.stringify(e.payload ?? null),
          message_id: e.messageId,
          at: e.at,
        })),
        { transaction: this.transaction },
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConcurrencyError('saga log sequence taken by a concurrent handler');
      throw error;
    }
  }

  async enqueue(messages: NewOutboxMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.models.Outbox.bulkCreate(
      messages.map((m) => ({
        message_id: m.messageId,
        saga_type: m.sagaType,
        saga_id: m.sagaId,
        topic: m.topic,
        msg_key: m.key,
        payload: m.payload,
        created_at: m.createdAt,
        sent_at: null,
      })),
      { transaction: this.transaction },
    );
  }

  async upsertDeadline(deadline: Deadline): Promise<void> {
    await this.models.Deadline.upsert(
      {
        saga_type: deadline.sagaType,
        saga_id: deadline.sagaId,
        timer_id: deadline.timerId,
        due_at: deadline.dueAt,
        event: JSON.stringify(deadline.event),
      },
      { transaction: this.transaction },
    );
  }

  async cancelDeadline(sagaType: string, sagaId: string, timerId: string): Promise<void> {
    await this.models.Deadline.destroy({ where: { saga_type: sagaType, saga_id: sagaId, timer_id: timerId }, transaction: this.transaction });
  }

  async cancelAllDeadlines(sagaType: string, sagaId: string): Promise<void> {
    await this.models.Deadline.destroy({ where: { saga_type: sagaType, saga_id: sagaId }, transaction: this.transaction });
  }

  async takeDeadline(deadline: Deadline): Promise<boolean> {
    const count = await this.models.Deadline.destroy({
      where: { saga_type: deadline.sagaType, saga_id: deadline.sagaId, timer_id: deadline.timerId, due_at: deadline.dueAt },
      transaction: this.transaction,
    });
    return count === 1;
  }

  async deadLetter(letter: DeadLetter): Promise<void> {
    await this.models.DeadLetter.create(
      {
        message_id: letter.messageId,
        type: letter.type,
        topic: letter.topic,
        saga_id: letter.sagaId,
        code: letter.code,
        reason: letter.reason,
        payload: letter.payload,
        at: letter.at,
      },
      { transaction: this.transaction },
    );
  }
}

function toInstance(row: SagaInstanceRow): SagaInstanceRecord {
  return {
    sagaType: row.saga_type,
    id: row.id,
    version: Number(row.version),
    stateValue: row.state_value,
    status: row.status as SagaStatus,
    snapshot: JSON.parse(row.snapshot),
    rowVersion: Number(row.row_version),
    logSeq: Number(row.log_seq),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function fromInstance(record: SagaInstanceRecord): SagaInstanceRow {
  return {
    saga_type: record.sagaType,
    id: record.id,
    version: record.version,
    state_value: record.stateValue,
    status: record.status,
    snapshot: JSON.stringify(record.snapshot),
    row_version: record.rowVersion,
    log_seq: record.logSeq,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

function toLogEntry(row: SagaLogRow): LogEntry {
  return {
    sagaType: row.saga_type,
    sagaId: row.saga_id,
    seq: Number(row.seq),
    kind: row.kind as LogEntry['kind'],
    type: row.type,
    payload: JSON.parse(row.payload),
    messageId: row.message_id,
    at: Number(row.at),
  };
}

function toDeadline(row: DeadlineRow): Deadline {
  return { sagaType: row.saga_type, sagaId: row.saga_id, timerId: row.timer_id, dueAt: Number(row.due_at), event: JSON.parse(row.event) };
}

/** Driver errors that mean "try again later" become typed retryable errors. */
function translate(error: unknown): unknown {
  const code = (error as { parent?: { code?: string } })?.parent?.code;
  if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT' || code === 'SQLITE_BUSY') {
    return new ConcurrencyError(`database conflict: ${(error as Error).message}`, { cause: error });
  }
  if (error instanceof ConnectionError || error instanceof TimeoutError) {
    return new UnavailableError(`database unavailable: ${error.message}`, { cause: error });
  }
  return error;
}

/** Sequelize reports every SQLite constraint failure (NOT NULL too) as a unique violation. */
function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof UniqueConstraintError)) return false;
  const message = String((error as { parent?: { message?: string } }).parent?.message ?? '');
  return !message.includes('SQLITE_CONSTRAINT') || message.includes('UNIQUE') || message.includes('PRIMARY KEY');
}

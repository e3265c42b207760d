import { DataTypes, Model, type Sequelize } from 'sequelize';
import { longText } from './types.ts';

/** Row shapes as stored (snake_case columns, JSON in text columns, epoch-ms times). */
export interface SagaInstanceRow {
  saga_type: string;
  id: string;
  version: number;
  state_value: string;
  status: string;
  snapshot: string;
  row_version: number;
  log_seq: number;
  created_at: number;
  updated_at: number;
}
export interface SagaLogRow {
  saga_type: string;
  saga_id: string;
  seq: number;
  kind: string;
  type: string;
  payload: string;
  message_id: string | null;
  at: number;
}
export interface OutboxRow {
  seq?: number;
  message_id: string;
  saga_type: string;
  saga_id: string;
  topic: string;
  msg_key: string;
  payload: string;
  created_at: number;
  sent_at: number | null;
  /** The replica that publishes it (migration 0007); null: whichever replica claims it first. */
  owner?: string | null;
}
export interface ReplicaRow {
  replica_id: string;
  service: string;
  host: string;
  pid: number;
  started_at: number;
  expires_at: number;
}
export interface DeadlineRow {
  saga_type: string;
  saga_id: string;
  timer_id: string;
  due_at: number;
  event: string;
  after_message: string | null;
  delay_ms: number | null;
}
export interface ProcessedMessageRow {
  consumer: string;
  message_id: string;
  processed_at: number;
}
export interface DeadLetterRow {
  id?: number;
  source: string;
  consumer: string | null;
  msg_key: string | null;
  status: string;
  resolved_at: number | null;
  resolution: string | null;
  message_id: string | null;
  type: string | null;
  topic: string | null;
  saga_id: string | null;
  code: string;
  reason: string;
  payload: string;
  at: number;
}

// Loose model typing: the store maps rows to the runtime's records itself.
type Row<T extends object> = Model<T, Partial<T>> & T;
export type SagaModels = ReturnType<typeof defineModels>;

const str = (length = 64, allowNull = false) => ({ type: DataTypes.STRING(length), allowNull });
const millis = () => ({ type: DataTypes.BIGINT, allowNull: false });
const options = (tableName: string) => ({ tableName, timestamps: false });

/** The saga runtime's tables (created by the migrations, described here for queries). */
export function defineModels(sequelize: Sequelize) {
  const text = () => longText(sequelize.getDialect());
  const SagaInstance = sequelize.define<Row<SagaInstanceRow>>(
    'SagaInstance',
    {
      saga_type: { ...str(), primaryKey: true },
      id: { ...str(), primaryKey: true },
      version: { type: DataTypes.INTEGER, allowNull: false },
      state_value: str(255),
      status: str(16),
      snapshot: text(),
      row_version: { type: DataTypes.INTEGER, allowNull: false },
      log_seq: { type: DataTypes.INTEGER, allowNull: false },
      created_at: millis(),
      updated_at: millis(),
    },
    options('saga_instances'),
  );
  const SagaLog = sequelize.define<Row<SagaLogRow>>(
    'SagaLog',
    {
      saga_type: { ...str(), primaryKey: true },
      saga_id: { ...str(), primaryKey: true },
      seq: { type: DataTypes.INTEGER, primaryKey: true },
      kind: str(8),
      type: str(191),
      payload: text(),
      message_id: str(64, true),
      at: millis(),
    },
    options('saga_log'),
  );
  const Outbox = sequelize.define<Row<OutboxRow>>(
    'Outbox',
    {
      seq: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
      message_id: str(),
      saga_type: str(),
      saga_id: str(),
      topic: str(191),
      msg_key: str(191),
      payload: text(),
      created_at: millis(),
      sent_at: { type: DataTypes.BIGINT, allowNull: true },
      owner: { type: DataTypes.STRING(64), allowNull: true },
    },
    options('outbox'),
  );
  const DeadlineModel = sequelize.define<Row<DeadlineRow>>(
    'Deadline',
    {
      saga_type: { ...str(), primaryKey: true },
      saga_id: { ...str(), primaryKey: true },
      timer_id: { ...str(191), primaryKey: true },
      due_at: millis(),
      event: text(),
      after_message: str(64, true),
      delay_ms: { type: DataTypes.BIGINT, allowNull: true },
    },
    options('deadlines'),
  );
  const ProcessedMessage = sequelize.define<Row<ProcessedMessageRow>>(
    'ProcessedMessage',
    {
      consumer: { ...str(191), primaryKey: true },
      message_id: { ...str(), primaryKey: true },
      processed_at: millis(),
    },
    options('processed_messages'),
  );
  const DeadLetterModel = sequelize.define<Row<DeadLetterRow>>(
    'DeadLetter',
    {
      id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
      source: str(16),
      consumer: str(191, true),
      msg_key: str(191, true),
      status: str(16),
      resolved_at: { type: DataTypes.BIGINT, allowNull: true },
      resolution: { type: DataTypes.TEXT, allowNull: true },
      message_id: str(64, true),
      type: str(191, true),
      topic: str(191, true),
      saga_id: str(64, true),
      code: str(),
      reason: { type: DataTypes.TEXT, allowNull: false },
      payload: text(),
      at: millis(),
    },
    options('dead_letters'),
  );
  return { SagaInstance, SagaLog, Outbox, Deadline: DeadlineModel, ProcessedMessage, DeadLetter: DeadLetterModel };
}

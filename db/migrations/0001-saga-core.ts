import { DataTypes, type QueryInterface } from 'sequelize';
import { longText } from '../types.ts';

const id = (length = 64) => ({ type: DataTypes.STRING(length), allowNull: false });
const millis = () => ({ type: DataTypes.BIGINT, allowNull: false });

/** Saga instances, the saga log, outbox, deadlines, processed message ids, dead letters. */
export async function up(qi: QueryInterface): Promise<void> {
  const json = () => longText(qi.sequelize.getDialect());
  await qi.createTable('saga_instances', {
    saga_type: { ...id(), primaryKey: true },
    id: { ...id(), primaryKey: true },
    version: { type: DataTypes.INTEGER, allowNull: false },
    state_value: { type: DataTypes.STRING(255), allowNull: false },
    status: { type: DataTypes.STRING(16), allowNull: false },
    snapshot: json(),
    row_version: { type: DataTypes.INTEGER, allowNull: false },
    log_seq: { type: DataTypes.INTEGER, allowNull: false },
    created_at: millis(),
    updated_at: millis(),
  });
  await qi.addIndex('saga_instances', ['status', 'updated_at'], { name: 'saga_instances_status' });
  await qi.addIndex('saga_instances', ['id'], { name: 'saga_instances_id' });

  await qi.createTable('saga_log', {
    saga_type: { ...id(), primaryKey: true },
    saga_id: { ...id(), primaryKey: true },
    seq: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
    kind: { type: DataTypes.STRING(8), allowNull: false },
    type: { type: DataTypes.STRING(191), allowNull: false },
    payload: json(),
    message_id: { type: DataTypes.STRING(64), allowNull: true },
    at: millis(),
  });

  await qi.createTable('outbox', {
    seq: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    message_id: { ...id(), unique: true },
    saga_type: id(),
    saga_id: id(),
    topic: id(191),
    msg_key: id(191),
    payload: json(),
    created_at: millis(),
    sent_at: { type: DataTypes.BIGINT, allowNull: true },
  });
  await qi.addIndex('outbox', ['sent_at', 'seq'], { name: 'outbox_pending' });

  await qi.createTable('deadlines', {
    saga_type: { ...id(), primaryKey: true },
    saga_id: { ...id(), primaryKey: true },
    timer_id: { ...id(191), primaryKey: true },
    due_at: millis(),
    event: json(),
  });
  await qi.addIndex('deadlines', ['due_at'], { name: 'deadlines_due' });

  await qi.createTable('processed_messages', {
    consumer: { ...id(191), primaryKey: true },
    message_id: { ...id(), primaryKey: true },
    processed_at: millis(),
  });

  await qi.createTable('dead_letters', {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    message_id: { type: DataTypes.STRING(64), allowNull: true },
    type: { type: DataTypes.STRING(191), allowNull: true },
    topic: { type: DataTypes.STRING(191), allowNull: true },
    saga_id: { type: DataTypes.STRING(64), allowNull: true },
    code: id(),
    reason: { type: DataTypes.TEXT, allowNull: false },
    payload: json(),
    at: millis(),
  });
}

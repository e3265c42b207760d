import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * Dead letters that can be worked (where each came from, who refused it, its state:
 * open, replayed or discarded) and deadlines armed only once their command is published.
 */
export async function up(qi: QueryInterface): Promise<void> {
  const nullable = (length: number) => ({ type: DataTypes.STRING(length), allowNull: true });
  await qi.addColumn('dead_letters', 'source', { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'message' });
  await qi.addColumn('dead_letters', 'consumer', nullable(191));
  await qi.addColumn('dead_letters', 'msg_key', nullable(191));
  await qi.addColumn('dead_letters', 'status', { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'open' });
  await qi.addColumn('dead_letters', 'resolved_at', { type: DataTypes.BIGINT, allowNull: true });
  await qi.addColumn('dead_letters', 'resolution', { type: DataTypes.TEXT, allowNull: true });
  await qi.addIndex('dead_letters', ['status', 'id'], { name: 'dead_letters_status' });
  await qi.addIndex('dead_letters', ['consumer', 'status', 'id'], { name: 'dead_letters_consumer' });

  // A deadline set with a command counts from the command's publication: until then it
  // names the outbox message it waits for, and its delay.
  await qi.addColumn('deadlines', 'after_message', nullable(64));
  await qi.addColumn('deadlines', 'delay_ms', { type: DataTypes.BIGINT, allowNull: true });
  await qi.addIndex('deadlines', ['after_message'], { name: 'deadlines_after_message' });
}

import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * Replicas of a service sharing the database (issue 11).
 *
 * - `replicas`: one row per running process, its lease renewed every few seconds
 *   (`expires_at`). A replica whose lease expired died without saying so; a live replica of
 *   the same service adopts what it left unpublished, then deletes its row.
 * - `outbox.owner`: the replica that publishes the row, written with it (no extra
 *   statement). A relay reads only its own rows (and unowned ones, which it claims), so two
 *   replicas never publish one row, and none waits for a lock to find out.
 *
 * A nullable column without a default is added in place by InnoDB (instant on MariaDB 10.3+
 * and MySQL 8), without rewriting the outbox.
 */
export async function up(qi: QueryInterface): Promise<void> {
  await qi.createTable('replicas', {
    replica_id: { type: DataTypes.STRING(64), allowNull: false, primaryKey: true },
    service: { type: DataTypes.STRING(64), allowNull: false },
    host: { type: DataTypes.STRING(191), allowNull: false },
    pid: { type: DataTypes.INTEGER, allowNull: false },
    started_at: { type: DataTypes.BIGINT, allowNull: false },
    expires_at: { type: DataTypes.BIGINT, allowNull: false },
  });
  await qi.addIndex('replicas', ['service', 'expires_at'], { name: 'replicas_service' });
  await qi.addColumn('outbox', 'owner', { type: DataTypes.STRING(64), allowNull: true });
}

import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * Idempotent entry and notifications once per outcome:
 *
 * - `idempotency_keys`: the first answer to each `Idempotency-Key` of a route (`scope`),
 *   with the hash of the request it answered. Keys compare byte for byte (binary
 *   collation on MySQL, so `abc` and `ABC` are two keys).
 * - `notificaciones`: one row per reservation and outcome (`id_correlacion`, `tipo`).
 *   Duplicates an older version recorded (one per message id) are deleted first, keeping
 *   the earliest, so the unique index can be created.
 */
export async function up(qi: QueryInterface): Promise<void> {
  const mysql = qi.sequelize.getDialect() === 'mysql';
  const binary = (length: number) => ({ type: DataTypes.STRING(length).BINARY, allowNull: false });
  await qi.createTable('idempotency_keys', {
    scope: { ...binary(64), primaryKey: true },
    idem_key: { ...binary(128), primaryKey: true },
    request_hash: { type: DataTypes.STRING(64), allowNull: false },
    response: { type: DataTypes.TEXT, allowNull: false },
    created_at: { type: DataTypes.BIGINT, allowNull: false },
  });
  // For pruning old keys in bounded chunks.
  await qi.addIndex('idempotency_keys', ['created_at'], { name: 'idempotency_keys_created' });

  const earlier = (k: string, n: string) =>
    `${k}.id_correlacion = ${n}.id_correlacion AND ${k}.tipo = ${n}.tipo AND (${k}.fecha < ${n}.fecha OR (${k}.fecha = ${n}.fecha AND ${k}.message_id < ${n}.message_id))`;
  await qi.sequelize.query(
    mysql
      ? `DELETE n FROM notificaciones n JOIN notificaciones k ON ${earlier('k', 'n')}`
      : `DELETE FROM notificaciones WHERE EXISTS (SELECT 1 FROM notificaciones k WHERE ${earlier('k', 'notificaciones')})`,
  );
  await qi.addIndex('notificaciones', ['id_correlacion', 'tipo'], { name: 'notificaciones_once', unique: true });
}

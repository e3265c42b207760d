import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * Idempotent entry: `idempotency_keys` holds the first answer to each `Idempotency-Key`
 * of a route (`scope`), with the hash of the request it answered. Keys compare byte for
 * byte (binary collation on MySQL, so `abc` and `ABC` are two keys).
 */
export async function up(qi: QueryInterface): Promise<void> {
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

}

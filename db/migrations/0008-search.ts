import type { QueryInterface } from 'sequelize';

/**
 * Finding one saga among many (issue 13): `saga_instances.customer`, written once when the saga
 * starts (the definition's `customerOf`), and indexes for a search by customer or by state,
 * newest first, that pages with a cursor on `(created_at, id, saga_type)`.
 *
 * Reservation sagas started before this migration get their customer from their snapshot.
 */
export async function up(qi: QueryInterface): Promise<void> {
  await qi.addColumn('saga_instances', 'customer', { type: 'VARCHAR(64)', allowNull: true });
  await qi.addIndex('saga_instances', ['customer', 'created_at', 'id', 'saga_type'], { name: 'saga_instances_customer' });
  await qi.addIndex('saga_instances', ['state_value', 'created_at', 'id', 'saga_type'], { name: 'saga_instances_state' });
  const mysql = qi.sequelize.getDialect() === 'mysql';
  const customer = mysql ? `JSON_UNQUOTE(JSON_EXTRACT(snapshot, '$.context.id_cliente'))` : `json_extract(snapshot, '$.context.id_cliente')`;
  await qi.sequelize.query(`UPDATE saga_instances SET customer = ${customer} WHERE saga_type = 'reserva' AND customer IS NULL`);
}

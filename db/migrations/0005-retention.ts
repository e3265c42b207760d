import type { QueryInterface } from 'sequelize';

/**
 * Indexes for the list queries and the retention deletes.
 *
 * `GET /sagas`, `/ui` (refreshed every 2 s) and `npm run saga -- list` read the newest
 * instances, optionally of one status and/or one saga type, ordered by
 * `created_at DESC, id DESC, saga_type DESC`: each filter gets an index in that order, so
 * the database reads only the rows it returns (no full scan, no sort). The key columns are
 * written out although InnoDB appends them anyway, so that SQLite's indexes hold them too.
 *
 * Retention walks old processed ids in `processed_at` order from a cursor, and deletes
 * resolved dead letters by `status, resolved_at`. Its other deletes use what exists:
 * `outbox_pending (sent_at, seq)`, `saga_instances_status (status, updated_at)`, and the
 * primary keys of `saga_log` and `deadlines`.
 *
 * Both servers build these indexes online (InnoDB: in place, without blocking writes).
 */
export async function up(qi: QueryInterface): Promise<void> {
  await qi.addIndex('saga_instances', ['created_at', 'id', 'saga_type'], { name: 'saga_instances_newest' });
  await qi.addIndex('saga_instances', ['status', 'created_at', 'id', 'saga_type'], { name: 'saga_instances_status_newest' });
  await qi.addIndex('saga_instances', ['saga_type', 'created_at', 'id'], { name: 'saga_instances_type_newest' });
  await qi.addIndex('saga_instances', ['saga_type', 'status', 'created_at', 'id'], { name: 'saga_instances_type_status_newest' });
  await qi.addIndex('processed_messages', ['processed_at', 'consumer', 'message_id'], { name: 'processed_messages_age' });
  await qi.addIndex('dead_letters', ['status', 'resolved_at'], { name: 'dead_letters_resolved' });
}

import type { QueryInterface } from 'sequelize';

/**
 * Traces across services (issue 14): each saga log entry keeps the id of the trace its
 * transition ran in (`/ui` links to it), and each deadline the trace context of the
 * transition that set it, so the timer's transition joins the same trace when it fires.
 * Both are null for what was written before, and when nothing traced it.
 */
export async function up(qi: QueryInterface): Promise<void> {
  await qi.addColumn('saga_log', 'trace_id', { type: 'VARCHAR(32)', allowNull: true });
  await qi.addColumn('deadlines', 'traceparent', { type: 'VARCHAR(55)', allowNull: true });
}

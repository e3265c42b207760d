import type { Sequelize } from 'sequelize';
import { column, defineTable, type RowOf } from './table.ts';

/**
 * The saga runtime's tables, each described once (created by the migrations, which stay as
 * history): columns in the order `rows.ts` writes them, so its column lists come from here.
 * Rows as stored: snake_case columns, JSON in text columns, epoch-ms times.
 */

export const SAGA_INSTANCES = defineTable('saga_instances', {
  saga_type: column.id().key(),
  id: column.id().key(),
  version: column.int(),
  state_value: column.string(255),
  status: column.string(16),
  snapshot: column.document(),
  row_version: column.int(),
  log_seq: column.int(),
  created_at: column.millis(),
  updated_at: column.millis(),
  /** Who the saga is for (migration 0008; the definition's `customerOf`), written when it starts. */
  customer: column.id().orNull(),
});
export type SagaInstanceRow = RowOf<typeof SAGA_INSTANCES.definition>;

export const SAGA_LOG = defineTable('saga_log', {
  saga_type: column.id().key(),
  saga_id: column.id().key(),
  seq: column.int().key(),
  kind: column.string(8),
  type: column.string(191),
  payload: column.document(),
  message_id: column.id().orNull(),
  at: column.millis(),
  /** The trace its transition ran in (migration 0009), when one was traced. */
  trace_id: column.string(32).orNull(),
});
export type SagaLogRow = RowOf<typeof SAGA_LOG.definition>;

export const OUTBOX = defineTable('outbox', {
  seq: column.int().serial(),
  message_id: column.id(),
  saga_type: column.id(),
  saga_id: column.id(),
  topic: column.string(191),
  msg_key: column.string(191),
  payload: column.document(),
  created_at: column.millis(),
  sent_at: column.millis().orNull(),
  /** The replica that publishes it (migration 0007); null: whichever replica claims it first. */
  owner: column.id().orNull(),
});
export type OutboxRow = RowOf<typeof OUTBOX.definition>;

/** One row per running service process (migration 0007). */
export const REPLICAS = defineTable('replicas', {
  replica_id: column.id().key(),
  service: column.id(),
  host: column.string(191),
  pid: column.int(),
  started_at: column.millis(),
  expires_at: column.millis(),
});
export type ReplicaRow = RowOf<typeof REPLICAS.definition>;

export const DEADLINES = defineTable('deadlines', {
  saga_type: column.id().key(),
  saga_id: column.id().key(),
  timer_id: column.string(191).key(),
  due_at: column.millis(),
  event: column.document(),
  after_message: column.id().orNull(),
  delay_ms: column.millis().orNull(),
  /** W3C trace context of the transition that set it (migration 0009): its firing joins that trace. */
  traceparent: column.string(55).orNull(),
});
export type DeadlineRow = RowOf<typeof DEADLINES.definition>;

export const PROCESSED_MESSAGES = defineTable('processed_messages', {
  consumer: column.string(191).key(),
  message_id: column.id().key(),
  processed_at: column.millis(),
});
export type ProcessedMessageRow = RowOf<typeof PROCESSED_MESSAGES.definition>;

export const DEAD_LETTERS = defineTable('dead_letters', {
  id: column.int().serial(),
  source: column.string(16),
  consumer: column.string(191).orNull(),
  message_id: column.id().orNull(),
  type: column.string(191).orNull(),
  topic: column.string(191).orNull(),
  msg_key: column.string(191).orNull(),
  saga_id: column.id().orNull(),
  code: column.id(),
  reason: column.text(),
  payload: column.document(),
  at: column.millis(),
  status: column.string(16),
  resolved_at: column.millis().orNull(),
  resolution: column.text().orNull(),
});
export type DeadLetterRow = RowOf<typeof DEAD_LETTERS.definition>;

export type SagaModels = ReturnType<typeof defineModels>;

/** The runtime's tables as Sequelize models, for the store's queries outside the message path. */
export function defineModels(sequelize: Sequelize) {
  return {
    SagaInstance: SAGA_INSTANCES.model(sequelize),
    SagaLog: SAGA_LOG.model(sequelize),
    Outbox: OUTBOX.model(sequelize),
    Deadline: DEADLINES.model(sequelize),
    ProcessedMessage: PROCESSED_MESSAGES.model(sequelize),
    DeadLetter: DEAD_LETTERS.model(sequelize),
  };
}

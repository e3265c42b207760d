import type { DeadLetter, Deadline, LogEntry, NewOutboxMessage, OutboxMessage, SagaInstanceRecord, SagaInstanceSummary, SagaStatus } from '../runtime/ports.ts';
import { DEAD_LETTERS, DEADLINES, OUTBOX, SAGA_INSTANCES, SAGA_LOG, type DeadLetterRow, type DeadlineRow, type OutboxRow, type SagaInstanceRow, type SagaLogRow } from './models.ts';

/**
 * The runtime's records as table rows and back: snake_case columns, JSON in text columns,
 * and numbers from BIGINT columns (which drivers may return as strings).
 * `*_COLUMNS` are the tables' columns (`models.ts`) that multi-row INSERTs write, in the
 * order the `*Values` functions return them.
 */

export const INSTANCE_COLUMNS = SAGA_INSTANCES.columns;

/** The row's values; the snapshot as the JSON the caller already made. */
export function instanceValues(r: SagaInstanceRecord, snapshotJson: string): unknown[] {
  return [r.sagaType, r.id, r.version, r.stateValue, r.status, snapshotJson, r.rowVersion, r.logSeq, r.createdAt, r.updatedAt, r.customer ?? null];
}

export function toInstance(row: SagaInstanceRow): SagaInstanceRecord {
  return { ...toInstanceWithoutSnapshot(row), snapshot: JSON.parse(row.snapshot) };
}

/** The record with `snapshot: null`, for a caller that keeps the row's JSON itself. */
export function toInstanceWithoutSnapshot(row: SagaInstanceRow): SagaInstanceRecord {
  return { ...toInstanceSummary(row), snapshot: null };
}

/** Every column but the snapshot: what a list reads. */
export const INSTANCE_SUMMARY_COLUMNS = INSTANCE_COLUMNS.filter((c) => c !== 'snapshot');

/** A row read with `INSTANCE_SUMMARY_COLUMNS` (a whole row works too; its snapshot is ignored). */
export function toInstanceSummary(row: Omit<SagaInstanceRow, 'snapshot'>): SagaInstanceSummary {
  return {
    sagaType: row.saga_type,
    id: row.id,
    version: Number(row.version),
    stateValue: row.state_value,
    status: row.status as SagaStatus,
    rowVersion: Number(row.row_version),
    logSeq: Number(row.log_seq),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    customer: row.customer ?? null,
  };
}

export const LOG_COLUMNS = SAGA_LOG.columns;

export function logValues(e: LogEntry): unknown[] {
  return [e.sagaType, e.sagaId, e.seq, e.kind, e.type, JSON.stringify(e.payload ?? null), e.messageId, e.at, e.traceId ?? null];
}

export function toLogEntry(row: SagaLogRow): LogEntry {
  return {
    sagaType: row.saga_type,
    sagaId: row.saga_id,
    seq: Number(row.seq),
    kind: row.kind as LogEntry['kind'],
    type: row.type,
    payload: JSON.parse(row.payload),
    messageId: row.message_id,
    at: Number(row.at),
    traceId: row.trace_id ?? null,
  };
}

/** Without the database's `seq`, the relay's `sent_at` and the writer's `owner`. */
export const OUTBOX_COLUMNS = OUTBOX.columns.filter((c) => c !== 'seq' && c !== 'sent_at' && c !== 'owner');

export function outboxValues(m: NewOutboxMessage): unknown[] {
  return [m.messageId, m.sagaType, m.sagaId, m.topic, m.key, m.payload, m.createdAt];
}

export function toOutboxMessage(r: OutboxRow): OutboxMessage {
  return {
    seq: Number(r.seq),
    messageId: r.message_id,
    sagaType: r.saga_type,
    sagaId: r.saga_id,
    topic: r.topic,
    key: r.msg_key,
    payload: r.payload,
    createdAt: Number(r.created_at),
  };
}

export const DEADLINE_COLUMNS = DEADLINES.columns;

export function deadlineValues(d: Deadline): unknown[] {
  return [d.sagaType, d.sagaId, d.timerId, d.dueAt, JSON.stringify(d.event), d.afterMessage ?? null, d.delayMs ?? null, d.traceparent ?? null];
}

export function toDeadline(row: DeadlineRow): Deadline {
  return {
    sagaType: row.saga_type,
    sagaId: row.saga_id,
    timerId: row.timer_id,
    dueAt: Number(row.due_at),
    event: JSON.parse(row.event),
    afterMessage: row.after_message ?? null,
    delayMs: row.delay_ms === null || row.delay_ms === undefined ? null : Number(row.delay_ms),
    traceparent: row.traceparent ?? null,
  };
}

/** Without the database's `id`. */
export const DEAD_LETTER_COLUMNS = DEAD_LETTERS.columns.filter((c) => c !== 'id');

/** Cut to the column's length: a dead letter must be written whatever the message carried. */
const fit = (value: string | null | undefined, length: number) => (value == null ? null : value.slice(0, length));

export function deadLetterValues(l: DeadLetter): unknown[] {
  return [
    l.source ?? 'message',
    fit(l.consumer, 191),
    fit(l.messageId, 64),
    fit(l.type, 191),
    fit(l.topic, 191),
    fit(l.key, 191),
    fit(l.sagaId, 64),
    fit(l.code, 64),
    l.reason,
    l.payload,
    l.at,
    l.status ?? 'open',
    l.resolvedAt ?? null,
    l.resolution ?? null,
  ];
}

export function toDeadLetter(r: DeadLetterRow): DeadLetter {
  return {
    id: Number(r.id),
    source: r.source as DeadLetter['source'],
    consumer: r.consumer,
    messageId: r.message_id,
    type: r.type,
    topic: r.topic,
    key: r.msg_key,
    sagaId: r.saga_id,
    code: r.code,
    reason: r.reason,
    payload: r.payload,
    at: Number(r.at),
    status: r.status as DeadLetter['status'],
    resolvedAt: r.resolved_at === null ? null : Number(r.resolved_at),
    resolution: r.resolution,
  };
}

import { UnknownSagaError, ValidationError } from '../runtime/errors.ts';
import type { InstanceCursor, SagaInstanceRecord, SagaInstanceSummary, SagaStatus, SagaStore } from '../runtime/ports.ts';
import type { SagaRegistry } from '../runtime/registry.ts';
import { acceptedRepairs } from '../runtime/repair.ts';

/** A saga instance as `GET /sagas` lists it; times are epoch ms. */
export interface SagaSummary {
  id: string;
  type: string;
  version: number;
  status: SagaStatus;
  state: string;
  createdAt: number;
  updatedAt: number;
  customer: string | null;
}

/** A saga instance with its context, pending deadlines and whole log, as `GET /sagas/:id` shows it. */
export interface SagaDetail extends SagaSummary {
  context: unknown;
  /** `armed: false` while the deadline waits for its command to be published (`dueAt` is provisional then). */
  deadlines: { timerId: string; dueAt: number; armed: boolean }[];
  /** `traceId`: the trace its transition ran in, when one was traced. */
  log: { seq: number; kind: string; type: string; at: number; messageId: string | null; traceId: string | null; payload: unknown }[];
  /** The operator events it accepts now (`POST /sagas/:id/repair`), when the process runs its machine. */
  repairs?: string[];
}

/**
 * The instance with this id: the `reserva` one when several saga types share the id.
 * `types` limits the search to the saga types a process runs, so the coordinator in
 * choreography shows its tracker and never a participant's part that happens to share
 * the database (and might be final before the tracker has seen anything).
 *
 * @throws UnknownSagaError
 * @example
 * const record = await findSaga(system.store, id_correlacion, runtime.registry.types());
 */
export async function findSaga(store: SagaStore, id: string, types?: readonly string[]): Promise<SagaInstanceRecord> {
  const instances = (await store.findInstances(id)).filter((i) => !types || types.includes(i.sagaType));
  // The orchestrated saga, else the choreography's tracker, else whatever has this id.
  const record = instances.find((i) => i.sagaType === 'reserva') ?? instances.find((i) => i.sagaType === 'reserva-coreografia') ?? instances[0];
  if (!record) throw new UnknownSagaError(id);
  return record;
}

/**
 * Everything known about one saga: its state and context, pending deadlines and log.
 * Shared by `GET /sagas/:id` and `npm run saga -- show`.
 *
 * @throws UnknownSagaError
 * @example
 * const detail = await sagaDetail(system.store, id); // detail.state === 'pagando'
 */
export async function sagaDetail(store: SagaStore, id: string, types?: readonly string[], registry?: SagaRegistry): Promise<SagaDetail> {
  const record = await findSaga(store, id, types);
  let definition;
  try {
    definition = registry?.types().includes(record.sagaType) ? registry.get(record.sagaType, record.version) : undefined;
  } catch {
    definition = undefined; // a version this process does not run: nothing to offer
  }
  const [deadlines, fullLog] = await Promise.all([store.deadlinesOf(record.sagaType, id), store.readLog(record.sagaType, id)]);
  // Two reads: a transition committed in between must not show a log newer than the state.
  const log = fullLog.filter((e) => e.seq <= record.logSeq);
  return {
    ...summary(record),
    context: (record.snapshot as { context?: unknown } | null)?.context ?? null,
    deadlines: deadlines.map(({ timerId, dueAt, afterMessage }) => ({ timerId, dueAt, armed: !afterMessage })),
    log: log.map(({ seq, kind, type, at, messageId, traceId, payload }) => ({ seq, kind, type, at, messageId, traceId: traceId ?? null, payload })),
    ...(definition ? { repairs: acceptedRepairs(definition, record) } : {}),
  };
}

/** The list view of one instance (a whole record works too: its snapshot is left out). */
export function summary(record: SagaInstanceSummary): SagaSummary {
  const { id, sagaType: type, version, status, stateValue: state, createdAt, updatedAt } = record;
  return { id, type, version, status, state, createdAt, updatedAt, customer: record.customer ?? null };
}


/** A page's end as an opaque cursor for the next page (`GET /sagas?cursor=`). */
export function encodeCursor(last: Pick<SagaInstanceSummary, 'createdAt' | 'id' | 'sagaType'>): string {
  return Buffer.from(JSON.stringify([last.createdAt, last.id, last.sagaType])).toString('base64url');
}

/** @throws ValidationError for a cursor this API did not make */
export function decodeCursor(cursor: string): InstanceCursor {
  try {
    const [createdAt, id, sagaType] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'number' && typeof id === 'string' && typeof sagaType === 'string') return { createdAt, id, sagaType };
  } catch {
    // falls through to the error
  }
  throw new ValidationError('"cursor" is not one this API gave (use nextCursor of the page before)');
}

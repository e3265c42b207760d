import type Router from '@koa/router';
import { UnknownSagaError, ValidationError } from '../../runtime/errors.ts';
import { SAGA_STATUSES, type SagaInstanceRecord, type SagaStatus, type SagaStore } from '../../runtime/ports.ts';
import type { System } from '../system.ts';

/** A saga instance as `GET /sagas` lists it; times are epoch ms. */
export interface SagaSummary {
  id: string;
  type: string;
  version: number;
  status: SagaStatus;
  state: string;
  createdAt: number;
  updatedAt: number;
}

/** A saga instance with its context, pending deadlines and whole log, as `GET /sagas/:id` shows it. */
export interface SagaDetail extends SagaSummary {
  context: unknown;
  deadlines: { timerId: string; dueAt: number }[];
  log: { seq: number; kind: string; type: string; at: number; messageId: string | null; payload: unknown }[];
}

/**
 * The instance with this id: the `reserva` one when several saga types share the id.
 *
 * @throws UnknownSagaError
 * @example
 * const record = await findSaga(system.store, id_correlacion);
 */
export async function findSaga(store: SagaStore, id: string): Promise<SagaInstanceRecord> {
  const instances = await store.findInstances(id);
  const record = instances.find((i) => i.sagaType === 'reserva') ?? instances[0];
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
export async function sagaDetail(store: SagaStore, id: string): Promise<SagaDetail> {
  const record = await findSaga(store, id);
  const [deadlines, log] = await Promise.all([store.deadlinesOf(record.sagaType, id), store.readLog(record.sagaType, id)]);
  return {
    ...summary(record),
    context: (record.snapshot as { context?: unknown } | null)?.context ?? null,
    deadlines: deadlines.map(({ timerId, dueAt }) => ({ timerId, dueAt })),
    log: log.map(({ seq, kind, type, at, messageId, payload }) => ({ seq, kind, type, at, messageId, payload })),
  };
}

/**
 * `GET /sagas`, `GET /sagas/:id`, `GET /sagas/:id/verify` and `GET /dead-letters`.
 *
 * @example
 * sagaRoutes(router, system); // GET /sagas?status=completed&limit=10 -> { sagas: [...] }
 */
export function sagaRoutes(router: Router, system: System): void {
  const { store, runtime } = system;
  router.get('/sagas', async (ctx) => {
    const status = single(ctx.query.status, 'status');
    if (status !== undefined && !(SAGA_STATUSES as readonly string[]).includes(status)) {
      throw new ValidationError(`"status" must be one of ${SAGA_STATUSES.join(', ')}`);
    }
    const limit = parseLimit(single(ctx.query.limit, 'limit'));
    const records = await store.listInstances({ status: status as SagaStatus | undefined, limit });
    ctx.body = { sagas: records.map(summary) };
  });
  router.get('/sagas/:id', async (ctx) => {
    ctx.body = await sagaDetail(store, ctx.params.id);
  });
  router.get('/sagas/:id/verify', async (ctx) => {
    const record = await findSaga(store, ctx.params.id);
    ctx.body = await runtime.verify(record.sagaType, record.id);
  });
  router.get('/dead-letters', async (ctx) => {
    const limit = parseLimit(single(ctx.query.limit, 'limit'));
    ctx.body = { deadLetters: await store.listDeadLetters(limit) };
  });
}

function summary(record: SagaInstanceRecord): SagaSummary {
  const { id, sagaType: type, version, status, stateValue: state, createdAt, updatedAt } = record;
  return { id, type, version, status, state, createdAt, updatedAt };
}

function single(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) throw new ValidationError(`"${name}" must be given once`);
  return value === '' ? undefined : value;
}

function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationError('"limit" must be an integer from 1 to 1000');
  return limit;
}

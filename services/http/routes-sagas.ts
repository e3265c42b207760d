import type Router from '@koa/router';
import { ValidationError } from '../../runtime/errors.ts';
import { SAGA_STATUSES, type SagaStatus } from '../../runtime/ports.ts';
import { findSaga, sagaDetail, summary } from '../saga-view.ts';
import type { SagaStore } from '../../runtime/ports.ts';
import type { SagaRuntime } from '../../runtime/saga-runtime.ts';
import { single, parseLimit } from './query.ts';

/**
 * `GET /sagas`, `GET /sagas/:id` and `GET /sagas/:id/verify`.
 *
 * @example
 * sagaRoutes(router, system); // GET /sagas?status=completed&type=reserva&limit=10 -> { sagas: [...] }
 */
export function sagaRoutes(router: Router, deps: { store: SagaStore; runtime: SagaRuntime }): void {
  const { store, runtime } = deps;
  router.get('/sagas', async (ctx) => {
    const status = single(ctx.query.status, 'status');
    if (status !== undefined && !(SAGA_STATUSES as readonly string[]).includes(status)) {
      throw new ValidationError(`"status" must be one of ${SAGA_STATUSES.join(', ')}`);
    }
    const limit = parseLimit(single(ctx.query.limit, 'limit'));
    const sagaType = single(ctx.query.type, 'type');
    const records = await store.listInstances({ status: status as SagaStatus | undefined, sagaType, limit });
    ctx.body = { sagas: records.map(summary) };
  });
  router.get('/sagas/:id', async (ctx) => {
    ctx.body = await sagaDetail(store, ctx.params.id, runtime.registry.types());
  });
  router.get('/sagas/:id/verify', async (ctx) => {
    const record = await findSaga(store, ctx.params.id, runtime.registry.types());
    ctx.body = await runtime.verify(record.sagaType, record.id);
  });
}

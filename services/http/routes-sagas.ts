import type Router from '@koa/router';
import { ValidationError } from '../../runtime/errors.ts';
import { SAGA_STATUSES, type SagaStatus } from '../../runtime/ports.ts';
import { decodeCursor, encodeCursor, findSaga, sagaDetail, summary } from '../saga-view.ts';
import type { SagaStore } from '../../runtime/ports.ts';
import type { SagaRuntime } from '../../runtime/saga-runtime.ts';
import { single, parseLimit } from './query.ts';
import { requireAdmin } from './admin.ts';
import { findStuck, type StuckOptions } from '../../runtime/stuck.ts';
import { readJsonBody } from './body.ts';

/**
 * `GET /sagas?status=&type=&customer=&state=&from=&to=&limit=&cursor=` (newest first; `nextCursor`
 * pages on), `GET /sagas?stuck=1` (the sagas nothing can move, each with why: `runtime/stuck.ts`),
 * `GET /sagas/:id`, `GET /sagas/:id/verify`, and the admin action
 * `POST /sagas/:id/repair` (`{ "event": "ReintentarCompensacion", "data": {…}, "reason": "…" }`,
 * `?dry-run=1` to see what it would do without doing it; `Authorization: Bearer <SAGA_ADMIN_TOKEN>`).
 *
 * @example
 * sagaRoutes(router, { ...system, adminToken: config.adminToken }); // GET /sagas?status=completed&type=reserva&limit=10 -> { sagas: [...] }
 */
export function sagaRoutes(router: Router, deps: { store: SagaStore; runtime: SagaRuntime; adminToken?: string; stuck?: Pick<StuckOptions, 'overdueMs' | 'idleMs'> }): void {
  const { store, runtime } = deps;
  router.get('/sagas', async (ctx) => {
    const stuck = single(ctx.query.stuck, 'stuck');
    if (stuck !== undefined && stuck !== '0') {
      if (!['1', 'true'].includes(stuck)) throw new ValidationError('"stuck" must be 1');
      ctx.body = { stuck: await findStuck(store, runtime.registry, { ...deps.stuck, limit: parseLimit(single(ctx.query.limit, 'limit')) }) };
      return;
    }
    const status = single(ctx.query.status, 'status');
    if (status !== undefined && !(SAGA_STATUSES as readonly string[]).includes(status)) {
      throw new ValidationError(`"status" must be one of ${SAGA_STATUSES.join(', ')}`);
    }
    const limit = parseLimit(single(ctx.query.limit, 'limit')) ?? 100;
    const time = (name: string) => {
      const raw = single(ctx.query[name], name);
      if (raw === undefined) return undefined;
      const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
      if (!Number.isFinite(ms)) throw new ValidationError(`"${name}" must be a time (ISO 8601 or epoch ms)`);
      return ms;
    };
    const cursor = single(ctx.query.cursor, 'cursor');
    const records = await store.listInstances({
      status: status as SagaStatus | undefined,
      sagaType: single(ctx.query.type, 'type'),
      customer: single(ctx.query.customer, 'customer'),
      state: single(ctx.query.state, 'state'),
      createdFrom: time('from'),
      createdBefore: time('to'),
      ...(cursor ? { after: decodeCursor(cursor) } : {}),
      limit,
    });
    // A full page may have a next one.
    ctx.body = { sagas: records.map(summary), nextCursor: records.length === limit ? encodeCursor(records.at(-1)!) : null };
  });
  router.get('/sagas/:id', async (ctx) => {
    ctx.body = await sagaDetail(store, ctx.params.id, runtime.registry.types(), runtime.registry);
  });
  router.get('/sagas/:id/verify', async (ctx) => {
    const record = await findSaga(store, ctx.params.id, runtime.registry.types());
    ctx.body = await runtime.verify(record.sagaType, record.id);
  });
  router.post('/sagas/:id/repair', requireAdmin(deps.adminToken), async (ctx) => {
    const body = await readJsonBody(ctx);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('request body must be a JSON object { event, data?, reason }');
    const { event, data, reason } = body as Record<string, unknown>;
    if (typeof event !== 'string' || !event) throw new ValidationError('"event" must name a repair the saga accepts');
    if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data))) throw new ValidationError('"data" must be a JSON object');
    if (typeof reason !== 'string' || !reason.trim() || reason.length > 1000) throw new ValidationError('"reason" must say why, in at most 1000 characters');
    const dryRun = ['1', 'true'].includes(single(ctx.query['dry-run'], 'dry-run') ?? '');
    const record = await findSaga(store, ctx.params.id, runtime.registry.types());
    const preview = await runtime.repair(record.sagaType, record.id, { type: event, ...(data ? { data: data as Record<string, unknown> } : {}) }, { reason, by: `http ${ctx.ip}`, dryRun });
    ctx.body = { dryRun, ...preview };
  });
}

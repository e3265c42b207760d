import { PassThrough } from 'node:stream';
import type Router from '@koa/router';
import { requireAdmin } from './admin.ts';
import type { Context } from 'koa';
import { UnknownSagaError, ValidationError } from '../../runtime/errors.ts';
import { DeadLetters } from '../../runtime/dead-letters.ts';
import { DEAD_LETTER_STATUSES, SAGA_STATUSES, type DeadLetterStatus, type SagaInstanceRecord, type SagaInstanceSummary, type SagaStatus } from '../../runtime/ports.ts';
import { deadLettersPage } from '../ui/dead-letters-page.ts';
import type { Html } from '../ui/html.ts';
import { readJsonBody } from './body.ts';
import { DEFAULT_LIMIT, detailBody, detailPage, errorPage, listCount, listPage, listRows, stuckPage, type ListFilter } from '../ui/pages.ts';
import { findStuck, type StuckOptions } from '../../runtime/stuck.ts';
import { decodeCursor, encodeCursor } from '../saga-view.ts';
import { statechartSvg } from '../ui/statechart.ts';
import { catalogOf, loadSagaView, pickSaga, sagaTypes, versionOf, type SagaView, type UiDeps } from '../ui/view.ts';
import { single } from './query.ts';

export interface UiRouteOptions {
  /** How often a stream re-reads its saga (default 300 ms). */
  pollMs?: number;
  /** A comment line after this much silence keeps proxies from closing a stream (default 15 s). */
  heartbeatMs?: number;
  /** The token its admin actions (dead-letter replay and discard) need; none: they are refused. */
  adminToken?: string;
  /** When a saga counts as stuck (`runtime/stuck.ts`). */
  stuck?: Pick<StuckOptions, 'overdueMs' | 'idleMs'>;
}

/**
 * The saga UI, served by the process itself with no asset from outside it:
 *
 * - `GET /ui` — the sagas, newest first, filterable (`?status=`, `?type=`, `?id=`, `?limit=`);
 *   `GET /ui/list` — its rows as JSON `{ html, count }`, for the page's refresh;
 * - `GET /ui/sagas/:id` (`?type=` picks one part of a choreographed saga) — its statechart
 *   with the active state, the log as a timeline with each step's context change, pending
 *   deadlines and the events it accepts now; 404 page for an unknown saga;
 * - `GET /ui/sagas/:id/stream` — server-sent events: `update` `{ version, final, html, … }`
 *   whenever the saga's row changes, `end` once it is final;
 * - `GET /ui/sagas/:id/fragment` — the same update as JSON, for clients without EventSource;
 * - `GET /ui/sagas/:id/chart.svg` — the statechart alone;
 * - `GET /ui/dead-letters` (`?status=`, open by default) — what was refused for good, with
 *   Replay and Discard (`POST /ui/dead-letters/:id/replay|discard`).
 *
 * @example
 * uiRoutes(router, system); // then open http://127.0.0.1:3000/ui
 * uiRoutes(router, { store }); // machines from `machines/` only
 */
export function uiRoutes(router: Router, deps: UiDeps, options: UiRouteOptions = {}): void {
  const { store } = deps;
  const pollMs = options.pollMs ?? 300;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const admin = requireAdmin(options.adminToken);

  // Newest first, from the store's indexes, without snapshots: this runs every 2 s per open page.
  const list = async (ctx: Context): Promise<{ filter: ListFilter; records: SagaInstanceSummary[] }> => {
    const filter = parseFilter(ctx);
    const dayMs = 86_400_000;
    const records = await store.listInstances({
      status: filter.status as SagaStatus | undefined,
      sagaType: filter.type,
      id: filter.id,
      customer: filter.customer,
      state: filter.state,
      createdFrom: filter.from ? Date.parse(filter.from) : undefined,
      createdBefore: filter.to ? Date.parse(filter.to) + dayMs : undefined, // the whole day
      ...(filter.cursor ? { after: decodeCursor(filter.cursor) } : {}),
      limit: filter.limit,
    });
    return { filter, records };
  };

  const listHandler = async (ctx: Context) => {
    try {
      const { filter, records } = await list(ctx);
      const next = records.length === filter.limit ? encodeCursor(records.at(-1)!) : null;
      page(ctx, 200, listPage(records, filter, sagaTypes(deps), Date.now(), (await stuckSagas()).length, next));
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      page(ctx, 400, errorPage(400, 'Invalid filter', error.message));
    }
  };
  const stuckSagas = () => findStuck(store, deps.runtime?.registry ?? catalogOf(deps), options.stuck);
  router.get('/ui/stuck', async (ctx) => page(ctx, 200, stuckPage(await stuckSagas(), Date.now())));
  router.get('/ui', listHandler);
  router.get('/ui/', listHandler);

  router.get('/ui/list', async (ctx) => {
    const { records } = await list(ctx);
    noStore(ctx);
    ctx.body = { count: listCount(records), html: listRows(records, Date.now()).value };
  });

  // Every dead letter in this database (the HTTP API of each service shows only its own).
  const letters = new DeadLetters(store, { log: deps.log });
  router.get('/ui/dead-letters', async (ctx) => {
    const status = single(ctx.query.status, 'status') ?? (ctx.querystring ? undefined : 'open');
    if (status !== undefined && !(DEAD_LETTER_STATUSES as readonly string[]).includes(status)) {
      return page(ctx, 400, errorPage(400, 'Invalid filter', `"status" must be one of ${DEAD_LETTER_STATUSES.join(', ')}`));
    }
    page(ctx, 200, deadLettersPage(await letters.list({ status: status as DeadLetterStatus | undefined, limit: 500 }), status));
  });
  router.post('/ui/dead-letters/:id/replay', admin, async (ctx) => {
    const { letter, action } = await letters.replay(Number(ctx.params.id), `ui ${ctx.ip}`);
    ctx.body = { deadLetter: letter, action };
  });
  router.post('/ui/dead-letters/:id/discard', admin, async (ctx) => {
    const body = (await readJsonBody(ctx)) as { reason?: unknown } | undefined;
    const reason = typeof body?.reason === 'string' && body.reason.trim() ? body.reason.slice(0, 1000) : undefined;
    ctx.body = { deadLetter: await letters.discard(Number(ctx.params.id), `ui ${ctx.ip}`, reason) };
  });

  router.get('/ui/sagas/:id', async (ctx) => {
    try {
      const view = await loadSagaView(deps, ctx.params.id, single(ctx.query.type, 'type'));
      page(ctx, 200, detailPage(view));
    } catch (error) {
      if (!(error instanceof UnknownSagaError)) throw error;
      page(ctx, 404, errorPage(404, 'Saga not found', `There is no saga "${ctx.params.id}"${ctx.query.type ? ` of type ${String(ctx.query.type)}` : ''}.`));
    }
  });

  router.get('/ui/sagas/:id/fragment', async (ctx) => {
    const view = await loadSagaView(deps, ctx.params.id, single(ctx.query.type, 'type'));
    noStore(ctx);
    ctx.body = update(view);
  });

  router.get('/ui/sagas/:id/chart.svg', async (ctx) => {
    const view = await loadSagaView(deps, ctx.params.id, single(ctx.query.type, 'type'));
    if (!view.definition) throw new UnknownSagaError(ctx.params.id, `: no machine for ${view.record.sagaType} v${view.record.version} in this process`);
    noStore(ctx);
    ctx.type = 'image/svg+xml';
    ctx.body = statechartSvg(view.definition.machine, { active: view.active, visited: view.visited, taken: view.taken, status: view.record.status }).value;
  });

  router.get('/ui/sagas/:id/stream', async (ctx) => {
    const id = ctx.params.id;
    // Unknown saga: a plain 404 before any event, so EventSource reports an error.
    const first = await pickSaga(store, id, single(ctx.query.type, 'type'));
    let since = ctx.get('last-event-id') || single(ctx.query.since, 'since') || '';
    const stream = new PassThrough();
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('Cache-Control', 'no-cache, no-transform');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = stream;

    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    let lastWrite = Date.now();
    const send = (text: string) => {
      stream.write(text);
      lastWrite = Date.now();
    };
    const stop = () => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      stream.end();
    };
    ctx.res.once('close', stop);
    send('retry: 2000\n\n');
    // Polls the store: a new row version is pushed as one `update`; a final saga ends the stream.
    const poll = async (known?: SagaInstanceRecord) => {
      if (closed) return;
      try {
        const record = known ?? (await pickSaga(store, id, first.sagaType));
        const version = versionOf(record);
        if (version !== since) {
          const view = await loadSagaView(deps, id, record.sagaType, record);
          if (closed) return;
          since = version;
          send(`id: ${version}\nevent: update\ndata: ${JSON.stringify(update(view))}\n\n`);
        } else if (Date.now() - lastWrite >= heartbeatMs) {
          send(': keep-alive\n\n');
        }
        if (record.status !== 'running') {
          send('event: end\ndata: {}\n\n');
          return stop();
        }
      } catch {
        // The store is gone or failing (e.g. the process is closing): end; EventSource retries.
        return stop();
      }
      if (!closed) timer = setTimeout(() => void poll(), pollMs);
    };
    void poll(first);
  });
}

/** What the stream and `GET /ui/sagas/:id/fragment` send: the detail body and what the script needs. */
function update(view: SagaView) {
  const { record } = view;
  return {
    version: versionOf(record),
    final: record.status !== 'running',
    status: record.status,
    state: record.stateValue,
    title: `${record.id} (${record.stateValue}) · Sagas`,
    html: detailBody(view).value,
  };
}

function page(ctx: Context, status: number, body: Html): void {
  ctx.status = status;
  ctx.type = 'html';
  noStore(ctx);
  ctx.body = body.value;
}

function noStore(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
}

function parseFilter(ctx: Context): ListFilter {
  const status = single(ctx.query.status, 'status');
  if (status !== undefined && !(SAGA_STATUSES as readonly string[]).includes(status)) {
    throw new ValidationError(`"status" must be one of ${SAGA_STATUSES.join(', ')}`);
  }
  const rawLimit = single(ctx.query.limit, 'limit');
  const limit = rawLimit === undefined ? DEFAULT_LIMIT : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationError('"limit" must be an integer from 1 to 1000');
  const text = (name: string) => single(ctx.query[name], name)?.trim() || undefined;
  const day = (name: string) => {
    const value = text(name);
    if (value !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new ValidationError(`"${name}" must be a day (YYYY-MM-DD)`);
    return value;
  };
  const cursor = text('cursor');
  if (cursor !== undefined) decodeCursor(cursor); // refused now, not at the query
  return { status, type: text('type'), id: text('id'), customer: text('customer'), state: text('state'), from: day('from'), to: day('to'), cursor, limit };
}

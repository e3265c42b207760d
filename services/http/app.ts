import Router from '@koa/router';
import Koa from 'koa';
import { DeadLetters } from '../../runtime/dead-letters.ts';
import type { SagaDefinition } from '../../runtime/registry.ts';
import type { ReservaInput } from '../../machines/reserva.ts';
import type { System } from '../system.ts';
import { errorHandler, type ErrorHandlerOptions } from './errors.ts';
import { deadLetterRoutes } from './routes-dead-letters.ts';
import { healthRoutes } from './routes-health.ts';
import { requestGuard, type RequestGuardOptions } from './request-guard.ts';
import { ReservaEntry } from './reserva-entry.ts';
import { reservaRoutes } from './routes-reservas.ts';
import { sagaRoutes } from './routes-sagas.ts';
import { testRoutes } from './routes-test.ts';
import { uiRoutes } from './routes-ui.ts';
import { metricsRoutes } from './routes-metrics.ts';
import { traceRequests } from './tracing.ts';
import type { SagaMetrics } from '../../runtime/metrics.ts';
import type { Log } from '../../runtime/logger.ts';

export interface AppOptions {
  /** Where unexpected errors (at `error`) and each request (at `debug`) are logged; unexpected errors go to `console.error` without it. */
  log?: ErrorHandlerOptions['log'];
  /** Origins besides the server's own whose pages may change state (`config.allowedOrigins`; default none). */
  allowedOrigins?: RequestGuardOptions['allowedOrigins'];
  /** Served at `GET /metrics`. */
  metrics?: SagaMetrics;
  /** The service its request spans are of (default `aeroalpes`). */
  service?: string;
}

/**
 * The HTTP API of the all-in-one process: health, starting reservations, inspecting sagas
 * and dead letters, the participants' state, and, when `system.config.testEndpoints` is on,
 * the `/prueba-*` endpoints. Every error answer is JSON `{ "error": { "code", "message" } }`.
 *
 * @example
 * const system = await createSystem(loadConfig());
 * const server = createApp(system).listen(3000, '127.0.0.1');
 */
export function createApp(system: System, options: AppOptions = {}): Koa {
  const router = new Router();
  healthRoutes(router, system);
  // The key is recorded first, then the saga starts under the recorded id (an existing one
  // is started: a replay looks first, so it does not fail a batch of the runtime).
  const start = async (input: ReservaInput, { replayed }: { replayed: boolean }) => {
    if (replayed && (await system.store.findInstances(input.id_correlacion)).length > 0) return;
    await system.requestReserva(input);
  };
  reservaRoutes(router, { config: system.config, entry: new ReservaEntry({ store: system.store, config: system.config, start }) });
  sagaRoutes(router, { ...system, adminToken: system.config.adminToken, stuck: { overdueMs: system.config.stuckOverdueMs, idleMs: system.config.stuckIdleMs } });
  deadLetterRoutes(router, new DeadLetters(system.store, { log: options.log }), { adminToken: system.config.adminToken });
  uiRoutes(router, { ...system, sagas: system.application.sagas.map((entry) => entry.saga as unknown as SagaDefinition), traceUrl: system.config.traceUrl }, { adminToken: system.config.adminToken, stuck: { overdueMs: system.config.stuckOverdueMs, idleMs: system.config.stuckIdleMs } });
  for (const participant of Object.values(system.participants)) participant.routes(router);
  if (system.config.testEndpoints) testRoutes(router, system);
  return koaApp(router, { allowedOrigins: system.config.allowedOrigins, metrics: system.metrics, ...options });
}

/**
 * A `debug` line per request once answered: method, path, status and milliseconds (inside
 * the request's span, so with its trace id).
 */
function accessLog(log: Log): Koa.Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      log('request', { level: 'debug', method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round((performance.now() - started) * 10) / 10 });
    }
  };
}

/**
 * A Koa app with the one error middleware and the request guard (JSON only and no foreign
 * origin for state-changing methods, see `requestGuard`) in front of `router`. Every
 * process serves its routes through it.
 *
 * @example
 * const app = koaApp(router, { log, allowedOrigins: config.allowedOrigins });
 */
export function koaApp(router: Router, options: AppOptions = {}): Koa {
  const app = new Koa();
  if (options.metrics) metricsRoutes(router, options.metrics);
  app.use(traceRequests(options.service ?? 'aeroalpes'));
  // At `info` and above the line would be dropped: no middleware builds it for nothing.
  if (options.log && (options.log.enabled?.('debug') ?? true)) app.use(accessLog(options.log));
  app.use(errorHandler({ log: options.log }));
  app.use(requestGuard({ allowedOrigins: options.allowedOrigins }));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

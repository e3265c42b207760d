import type Router from '@koa/router';
import type { SagaMetrics } from '../../runtime/metrics.ts';

/**
 * `GET /metrics`: the process's metrics in Prometheus' text format, for a scraper on the
 * internal network (like `/health`, it needs no token: counts by saga type, state and topic,
 * never an id).
 *
 * @example
 * metricsRoutes(router, infra.metrics); // curl localhost:3000/metrics -> saga_started_total{saga_type="reserva",service="aeroalpes"} 3
 */
export function metricsRoutes(router: Router, metrics: SagaMetrics): void {
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
}

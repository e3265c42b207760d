import type Router from '@koa/router';
import type { Sequelize } from 'sequelize';
import type { Health } from '../../runtime/health.ts';

/**
 * `GET /health` (the process answers, and which replica it is) and `GET /ready`: 200 when its database answers and
 * no dependency is down; 503 naming what is down, and since when, while consumption waits
 * for it (nothing accepted is lost meanwhile).
 *
 * @example
 * healthRoutes(router, system); // GET /ready -> 200 { status: 'ready' } or 503 { status: 'unavailable', unavailable: [...] }
 */
export function healthRoutes(router: Router, deps: { sequelize: Sequelize; health?: Health; lease?: { id: string } | null }): void {
  router.get('/health', (ctx) => {
    // Which replica answered: behind a load balancer, the process to look for in `npm run saga -- replicas`.
    ctx.body = { status: 'ok', ...(deps.lease ? { replica: deps.lease.id } : {}) };
  });
  router.get('/ready', async (ctx) => {
    let unavailable = deps.health?.unavailable ?? [];
    try {
      await deps.sequelize.authenticate();
      deps.health?.up('database');
    } catch (error) {
      const reason = (error as Error).message;
      deps.health?.down('database', reason);
      if (!deps.health) unavailable = [{ dependency: 'database', reason, since: Date.now() }];
    }
    if (deps.health) unavailable = deps.health.unavailable;
    if (unavailable.length === 0) {
      ctx.body = { status: 'ready' };
      return;
    }
    ctx.status = 503;
    ctx.body = {
      status: 'unavailable',
      unavailable: unavailable.map((p) => ({ ...p, since: new Date(p.since).toISOString() })),
      error: { code: 'unavailable', message: unavailable.map((p) => `${p.dependency} unavailable: ${p.reason}`).join('; ') },
    };
  });
}

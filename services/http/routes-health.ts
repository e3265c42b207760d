import type Router from '@koa/router';
import { UnavailableError } from '../../runtime/errors.ts';
import type { Sequelize } from 'sequelize';

/**
 * `GET /health` (the process answers) and `GET /ready` (its database answers too; 503 when not).
 *
 * @example
 * healthRoutes(router, system); // GET /ready -> 200 { status: 'ready' }
 */
export function healthRoutes(router: Router, deps: { sequelize: Sequelize }): void {
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    try {
      await deps.sequelize.authenticate();
    } catch (error) {
      throw new UnavailableError(`database unreachable: ${(error as Error).message}`, { cause: error });
    }
    ctx.body = { status: 'ready' };
  });
}

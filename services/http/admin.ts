import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { ForbiddenError } from '../../runtime/errors.ts';
import type { Config } from '../config.ts';

/**
 * Lets a request through only with `Authorization: Bearer <token>`. With no token configured,
 * every admin action is refused: a deployment that forgot to set one is closed, not open.
 *
 * @example
 * router.post('/sagas/:id/repair', requireAdmin(config.adminToken), async (ctx) => { … });
 */
export function requireAdmin(token: string | undefined): Middleware {
  const expected = token ? Buffer.from(token) : null;
  return async (ctx, next) => {
    if (!expected) throw new ForbiddenError('admin actions are off: no SAGA_ADMIN_TOKEN is configured');
    const given = /^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1];
    const ok = given !== undefined && Buffer.byteLength(given) === expected.length && timingSafeEqual(Buffer.from(given), expected);
    if (!ok) throw new ForbiddenError('this admin action needs Authorization: Bearer <SAGA_ADMIN_TOKEN>');
    await next();
  };
}

/**
 * The configuration with an admin token: the configured one, or, outside production, one made
 * up for this run (`made` tells the caller to print it). In production none is made up.
 */
export function withAdminToken(config: Config, production = process.env.NODE_ENV === 'production'): { config: Config; made: boolean } {
  if (config.adminToken || production) return { config, made: false };
  return { config: { ...config, adminToken: randomBytes(18).toString('base64url') }, made: true };
}

import type Router from '@koa/router';
import { ValidationError } from '../../runtime/errors.ts';
import { DEAD_LETTER_STATUSES, type DeadLetterStatus } from '../../runtime/ports.ts';
import type { DeadLetters } from '../../runtime/dead-letters.ts';
import { readJsonBody } from './body.ts';
import { single, parseLimit } from './query.ts';
import { requireAdmin } from './admin.ts';

/**
 * The dead letters of this process: `GET /dead-letters?status=open&limit=`, `GET
 * /dead-letters/:id`, `POST /dead-letters/:id/replay`, `POST /dead-letters/:id/discard`
 * (`{ "reason": "…" }`). Replay puts the message back on its normal path; both are recorded
 * on the letter and logged, and both are admin actions (`Authorization: Bearer <SAGA_ADMIN_TOKEN>`).
 *
 * @example
 * deadLetterRoutes(router, new DeadLetters(store, { consumers: ['pagos'] }));
 * // POST /dead-letters/12/replay -> 200 { deadLetter: {…, status: 'replayed'}, action: 'republished to comando-pagar-reserva' }
 */
export function deadLetterRoutes(router: Router, letters: DeadLetters, options: { adminToken?: string } = {}): void {
  const admin = requireAdmin(options.adminToken);
  router.get('/dead-letters', async (ctx) => {
    const status = single(ctx.query.status, 'status');
    if (status !== undefined && !(DEAD_LETTER_STATUSES as readonly string[]).includes(status)) {
      throw new ValidationError(`"status" must be one of ${DEAD_LETTER_STATUSES.join(', ')}`);
    }
    const limit = parseLimit(single(ctx.query.limit, 'limit'));
    ctx.body = { deadLetters: await letters.list({ status: status as DeadLetterStatus | undefined, limit }) };
  });
  router.get('/dead-letters/:id', async (ctx) => {
    ctx.body = { deadLetter: await letters.get(parseId(ctx.params.id)) };
  });
  router.post('/dead-letters/:id/replay', admin, async (ctx) => {
    const { letter, action } = await letters.replay(parseId(ctx.params.id), by(ctx.ip));
    ctx.body = { deadLetter: letter, action };
  });
  router.post('/dead-letters/:id/discard', admin, async (ctx) => {
    const body = (await readJsonBody(ctx)) as { reason?: unknown } | undefined;
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) throw new ValidationError('request body must be a JSON object');
    const reason = body?.reason;
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 1000)) throw new ValidationError('"reason" must be a string of at most 1000 characters');
    ctx.body = { deadLetter: await letters.discard(parseId(ctx.params.id), by(ctx.ip), reason) };
  });
}

function by(ip: string): string {
  return `http ${ip}`;
}

function parseId(raw: string): number {
  const id = Number(raw);
  if (!Number.isInteger(id) || id < 1) throw new ValidationError(`dead letter id must be a positive integer, got "${raw}"`);
  return id;
}

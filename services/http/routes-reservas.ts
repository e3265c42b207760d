import type Router from '@koa/router';
import { z } from 'zod';
import { check, SCHEMAS } from '../../machines/messages.ts';
import { ValidationError } from '../../runtime/errors.ts';
import type { Config } from '../config.ts';
import { readJsonBody } from './body.ts';
import { parseIdempotencyKey, type ReservaEntry } from './reserva-entry.ts';

const INICIAR = SCHEMAS.IniciarReserva.shape;

/**
 * The body of `POST /reservas`: the fields of `IniciarReserva` a caller gives (the ids and
 * deadlines are the service's), each with its message schema (column lengths, the
 * `itinerarios` byte limit, the failures to simulate), and what a request adds: a positive
 * `monto`, a `monto_vat` of at least 0, defaults.
 */
const RESERVA_REQUEST = z.object({
  id_cliente: INICIAR.id_cliente.refine((value) => value.trim() !== '', { message: 'must not be blank' }),
  monto: INICIAR.monto.positive(),
  monto_vat: INICIAR.monto_vat.min(0).default(0),
  itinerarios: INICIAR.itinerarios.default([]),
  simular_fallo: INICIAR.simular_fallo,
});

/** The fields of `POST /reservas`, validated and with their defaults. */
export type ReservaRequest = z.output<typeof RESERVA_REQUEST>;

/**
 * Most bytes of a `POST /reservas` body: room for the largest valid request
 * (`LIMITS.itinerariosBytes` of itinerarios and short fields), well under what one broker
 * message may carry (`LIMITS.messageBytes`).
 */
export const RESERVA_BODY_LIMIT = 64 * 1024;

/**
 * Validates a `POST /reservas` body against {@link RESERVA_REQUEST}; the message names the
 * field at fault and what is wrong with it. `simular_fallo` is refused while test endpoints
 * are off.
 *
 * @throws ValidationError
 * @example
 * parseReservaRequest({ id_cliente: 'c-1', monto: 100 }, { testEndpoints: false });
 * // -> { id_cliente: 'c-1', monto: 100, monto_vat: 0, itinerarios: [] }
 * parseReservaRequest({ id_cliente: 'c-1', monto: '100' }, { testEndpoints: false });
 * // throws ValidationError '"monto": expected number, received string'
 */
export function parseReservaRequest(body: unknown, options: { testEndpoints: boolean }): ReservaRequest {
  const checked = check(RESERVA_REQUEST, body);
  if (!checked.ok) throw new ValidationError(checked.path ? `"${checked.path}": ${checked.message}` : 'request body must be a JSON object');
  const { simular_fallo, ...request } = checked.value;
  if (simular_fallo === undefined) return request;
  if (!options.testEndpoints) throw new ValidationError('"simular_fallo" is not accepted: test endpoints are off');
  return { ...request, simular_fallo };
}

/**
 * `POST /reservas`: starts a reservation saga through `entry` and answers 202 with its ids
 * and `Location: /sagas/<id_correlacion>`. With an `Idempotency-Key` header, a retry of the
 * same request gets the first answer again (with `Idempotent-Replayed: true`) and starts
 * no second saga; the key with another request is 409. The body may hold at most
 * {@link RESERVA_BODY_LIMIT} bytes (413).
 *
 * @example
 * reservaRoutes(router, { config, entry: new ReservaEntry({ store, config, start }) });
 * // POST /reservas { "id_cliente": "c-1", "monto": 100 }, Idempotency-Key: pedido-42 -> 202 { id_correlacion, id_reserva }
 */
export function reservaRoutes(router: Router, deps: { config: Config; entry: ReservaEntry }): void {
  const { config, entry } = deps;
  router.post('/reservas', async (ctx) => {
    const key = parseIdempotencyKey(ctx.headers['idempotency-key']);
    const request = parseReservaRequest(await readJsonBody(ctx, RESERVA_BODY_LIMIT), { testEndpoints: config.testEndpoints });
    const accepted = await entry.accept(request, key);
    ctx.status = accepted.status;
    ctx.set('Location', `/sagas/${encodeURIComponent(accepted.body.id_correlacion)}`);
    if (accepted.replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = accepted.body;
  });
}

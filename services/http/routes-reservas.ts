import type Router from '@koa/router';
import { LIMITS, maxLengthOf, SIMULATED_FAILURES, type Itinerario, type SimulatedFailure } from '../../machines/messages.ts';
import { ValidationError } from '../../runtime/errors.ts';
import type { Config } from '../config.ts';
import { readJsonBody } from './body.ts';
import { parseIdempotencyKey, type ReservaEntry } from './reserva-entry.ts';

/** The fields of `POST /reservas`, validated and with their defaults. */
export interface ReservaRequest {
  id_cliente: string;
  monto: number;
  monto_vat: number;
  itinerarios: Itinerario[];
  simular_fallo?: SimulatedFailure;
}

/**
 * Most bytes of a `POST /reservas` body: room for the largest valid request
 * (`LIMITS.itinerariosBytes` of itinerarios and short fields), well under what one broker
 * message may carry (`LIMITS.messageBytes`).
 */
export const RESERVA_BODY_LIMIT = 64 * 1024;

/**
 * Validates a `POST /reservas` body; each message names the field at fault. Strings longer
 * than their column (`maxLengthOf`) and `itinerarios` over `LIMITS.itinerariosBytes` are
 * refused.
 *
 * @throws ValidationError
 * @example
 * parseReservaRequest({ id_cliente: 'c-1', monto: 100 }, { testEndpoints: false });
 * // -> { id_cliente: 'c-1', monto: 100, monto_vat: 0, itinerarios: [] }
 */
export function parseReservaRequest(body: unknown, options: { testEndpoints: boolean }): ReservaRequest {
  if (!isObject(body)) throw new ValidationError('request body must be a JSON object');
  const { id_cliente, monto, monto_vat = 0, itinerarios = [], simular_fallo } = body;
  if (typeof id_cliente !== 'string' || id_cliente.trim() === '') throw new ValidationError('"id_cliente" must be a non-empty string');
  checkLength('id_cliente', id_cliente);
  if (!isFiniteNumber(monto) || monto <= 0) throw new ValidationError('"monto" must be a positive number');
  if (!isFiniteNumber(monto_vat) || monto_vat < 0) throw new ValidationError('"monto_vat" must be a number >= 0');
  if (!Array.isArray(itinerarios) || !itinerarios.every(isObject)) throw new ValidationError('"itinerarios" must be an array of objects');
  if (Buffer.byteLength(JSON.stringify(itinerarios)) > LIMITS.itinerariosBytes) {
    throw new ValidationError(`"itinerarios" is larger than ${LIMITS.itinerariosBytes} bytes as JSON`);
  }
  const request: ReservaRequest = { id_cliente, monto, monto_vat, itinerarios: itinerarios as Itinerario[] };
  if (simular_fallo === undefined) return request;
  if (!options.testEndpoints) throw new ValidationError('"simular_fallo" is not accepted: test endpoints are off');
  if (typeof simular_fallo === 'string') checkLength('simular_fallo', simular_fallo);
  if (!(SIMULATED_FAILURES as readonly unknown[]).includes(simular_fallo)) {
    throw new ValidationError(`"simular_fallo" must be one of ${SIMULATED_FAILURES.join(', ')}`);
  }
  return { ...request, simular_fallo: simular_fallo as SimulatedFailure };
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

/** A string field longer than its column holds is refused here, not by the database later. */
function checkLength(field: string, value: string): void {
  if (value.length > maxLengthOf(field)) throw new ValidationError(`"${field}" is longer than ${maxLengthOf(field)} characters`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

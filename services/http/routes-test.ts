import { randomUUID } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { AEROALPES_MESSAGES, parseEnvelope, TOPICS, type MessageType } from '../../machines/messages.ts';
import { makeEnvelope } from '../../runtime/envelope.ts';
import { ValidationError } from '../../runtime/errors.ts';
import type { Transport } from '../../runtime/ports.ts';
import { readJsonBody } from './body.ts';
import { refuseForeignOrigin } from './request-guard.ts';

const PAGOS = 'pagos.aeroalpes';
const GDS = 'integracion_gds.aeroalpes';
const SAGAS = 'sagas.aeroalpes';

/** The tutorial's test endpoints: each publishes one message built from the request's fields. */
export const TEST_ENDPOINTS: readonly { path: string; type: MessageType; serviceName: string; context: 'pagos' | 'gds' }[] = [
  { path: '/prueba-reserva-pagada', type: 'ReservaPagada', serviceName: PAGOS, context: 'pagos' },
  { path: '/prueba-pago-revertido', type: 'PagoRevertido', serviceName: PAGOS, context: 'pagos' },
  { path: '/prueba-pagar-reserva', type: 'PagarReserva', serviceName: SAGAS, context: 'pagos' },
  { path: '/prueba-revertir-pago', type: 'RevertirPago', serviceName: SAGAS, context: 'pagos' },
  { path: '/prueba-reserva-confirmada', type: 'ReservaGDSConfirmada', serviceName: GDS, context: 'gds' },
  { path: '/prueba-confirmacion-revertida', type: 'ConfirmacionGDSRevertida', serviceName: GDS, context: 'gds' },
  { path: '/prueba-confirmar-reserva', type: 'ConfirmarReserva', serviceName: SAGAS, context: 'gds' },
  { path: '/prueba-revertir-confirmacion', type: 'RevertirConfirmacion', serviceName: SAGAS, context: 'gds' },
];

/** Most bytes of a `POST /prueba-*` body: a handful of ids and numbers. */
export const TEST_BODY_LIMIT = 16 * 1024;

/** Values of payload fields the caller may leave out. */
const DEFAULTS: Record<string, (now: number) => unknown> = {
  id_pago: () => randomUUID(),
  motivo: () => 'prueba manual',
  fecha_creacion: (now) => now,
  fecha_actualizacion: (now) => now,
  fecha_confirmacion: (now) => now,
};

/**
 * Builds the `data` of a `type` message from the fields of a request (a JSON body, query
 * parameters, or both), following the type's schema: numbers are taken as numbers or
 * parsed from strings, `fecha_*`, `id_pago` and `motivo` have defaults, other required
 * fields (`id_correlacion`, `id_reserva`, `monto`, ...) must be given.
 *
 * @throws ValidationError naming the missing or malformed field
 * @example
 * messageData('PagarReserva', { id_correlacion: 'c', id_reserva: 'r', monto: '10', monto_vat: 0 }, Date.now());
 * // -> { id_correlacion: 'c', id_reserva: 'r', monto: 10, monto_vat: 0 }
 */
export function messageData(type: MessageType, fields: Record<string, unknown>, now: number): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [field, spec] of Object.entries(AEROALPES_MESSAGES.fieldsOf(type))) {
    const raw = fields[field];
    if (Array.isArray(raw)) throw new ValidationError(`field "${field}" must be given once`);
    if (raw === undefined || raw === null || raw === '') {
      if (DEFAULTS[field]) data[field] = DEFAULTS[field](now);
      else if (spec.required) throw new ValidationError(`field "${field}" is required for ${type}`);
      continue;
    }
    if (spec.type === 'number') {
      const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new ValidationError(`field "${field}" must be a number`);
      data[field] = value;
    } else if (spec.type === 'string') {
      if (typeof raw !== 'string') throw new ValidationError(`field "${field}" must be a string`);
      data[field] = raw;
    } else {
      data[field] = raw;
    }
  }
  return data;
}

/**
 * Registers the tutorial's test endpoints: `POST /prueba-*` takes the message's fields
 * from a JSON body (query parameters are accepted too; the body wins), validates the
 * message with `parseEnvelope`, publishes it on the message's topic keyed by
 * `id_correlacion`, and answers 202 `{ published, topic, id }`.
 *
 * The seed's `GET /prueba-*` names still work, from query parameters, but they are
 * deprecated (a GET must not change state): they answer `Deprecation: true` and a
 * `Warning` that names the POST, and refuse requests from another site's page.
 * Register these routes only while test endpoints are on.
 *
 * @example
 * if (system.config.testEndpoints) testRoutes(router, system, ['pagos']);
 * // POST /prueba-reserva-pagada { "id_correlacion": "..", "id_reserva": "..", "monto": 250, "monto_vat": 47.5 }
 */
export function testRoutes(router: Router, deps: { transport: Transport }, contexts: readonly ('pagos' | 'gds')[] = ['pagos', 'gds']): void {
  for (const { path, type, serviceName } of TEST_ENDPOINTS.filter((e) => contexts.includes(e.context))) {
    const publish = async (ctx: Context, fields: Record<string, unknown>) => {
      const data = messageData(type, fields, Date.now()) as { id_correlacion: string };
      const parsed = parseEnvelope(makeEnvelope(type, data, serviceName));
      if (!parsed.ok) throw new ValidationError(parsed.reason);
      const topic = TOPICS[type];
      await deps.transport.publish(topic, { key: data.id_correlacion, payload: JSON.stringify(parsed.envelope) });
      ctx.status = 202;
      ctx.body = { published: type, topic, id: parsed.envelope.id };
    };
    router.post(path, async (ctx) => {
      const body = await readJsonBody(ctx, TEST_BODY_LIMIT);
      if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
        throw new ValidationError('request body must be a JSON object');
      }
      await publish(ctx, { ...ctx.query, ...(body as Record<string, unknown> | undefined) });
    });
    router.get(path, async (ctx) => {
      refuseForeignOrigin(ctx);
      ctx.set('Deprecation', 'true');
      ctx.set('Warning', `299 - "GET ${path} is deprecated and works only while test endpoints are on: use POST ${path} with a JSON body"`);
      await publish(ctx, ctx.query);
    });
  }
}

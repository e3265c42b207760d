import { randomUUID } from 'node:crypto';
import type Router from '@koa/router';
import { parseEnvelope, SCHEMAS, TOPICS, type MessageType } from '../../machines/messages.ts';
import { makeEnvelope } from '../../runtime/envelope.ts';
import { ValidationError } from '../../runtime/errors.ts';
import type { Transport } from '../../runtime/ports.ts';

const PAGOS = 'pagos.aeroalpes';
const GDS = 'integracion_gds.aeroalpes';
const SAGAS = 'sagas.aeroalpes';

/** The tutorial's test endpoints: each publishes one message built from its query parameters. */
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

/** Values of payload fields the caller may leave out. */
const DEFAULTS: Record<string, (now: number) => unknown> = {
  id_pago: () => randomUUID(),
  motivo: () => 'prueba manual',
  fecha_creacion: (now) => now,
  fecha_actualizacion: (now) => now,
  fecha_confirmacion: (now) => now,
};

/**
 * Builds the `data` of a `type` message from query parameters, following the type's schema:
 * numbers are parsed, `fecha_*`, `id_pago` and `motivo` have defaults, other required
 * fields (`id_correlacion`, `id_reserva`, `monto`, ...) must be given.
 *
 * @throws ValidationError naming the missing or malformed parameter
 * @example
 * messageData('PagarReserva', { id_correlacion: 'c', id_reserva: 'r', monto: '10', monto_vat: '0' }, Date.now());
 * // -> { id_correlacion: 'c', id_reserva: 'r', monto: 10, monto_vat: 0 }
 */
export function messageData(type: MessageType, query: Record<string, string | string[] | undefined>, now: number): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [field, spec] of Object.entries(SCHEMAS[type])) {
    const raw = query[field];
    if (Array.isArray(raw)) throw new ValidationError(`query parameter "${field}" must be given once`);
    if (raw === undefined || raw === '') {
      if (DEFAULTS[field]) data[field] = DEFAULTS[field](now);
      else if (!spec.endsWith('?')) throw new ValidationError(`query parameter "${field}" is required for ${type}`);
      continue;
    }
    if (!spec.startsWith('number')) {
      data[field] = raw;
      continue;
    }
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new ValidationError(`query parameter "${field}" must be a number`);
    data[field] = value;
  }
  return data;
}

/**
 * Registers the `GET /prueba-*` endpoints: each validates its message with `parseEnvelope`,
 * publishes it on the message's topic keyed by `id_correlacion`, and answers 202
 * `{ published, topic, id }`.
 *
 * @example
 * if (system.config.testEndpoints) testRoutes(router, system, ['pagos']);
 * // GET /prueba-reserva-pagada?id_correlacion=..&id_reserva=..&monto=250&monto_vat=47.5
 */
export function testRoutes(router: Router, deps: { transport: Transport }, contexts: readonly ('pagos' | 'gds')[] = ['pagos', 'gds']): void {
  for (const { path, type, serviceName } of TEST_ENDPOINTS.filter((e) => contexts.includes(e.context))) {
    router.get(path, async (ctx) => {
      const data = messageData(type, ctx.query, Date.now()) as { id_correlacion: string };
      const parsed = parseEnvelope(makeEnvelope(type, data, serviceName));
      if (!parsed.ok) throw new ValidationError(parsed.reason);
      const topic = TOPICS[type];
      await deps.transport.publish(topic, { key: data.id_correlacion, payload: JSON.stringify(parsed.envelope) });
      ctx.status = 202;
      ctx.body = { published: type, topic, id: parsed.envelope.id };
    });
  }
}

import { randomUUID } from 'node:crypto';
import type { Context } from '@opentelemetry/api';
import type { Envelope } from '../machines/messages.ts';
import { traceFieldsOf } from './tracing.ts';

/**
 * Wraps a payload in the AeroAlpes envelope.
 *
 * @example
 * const cmd = makeEnvelope('PagarReserva', { id_correlacion, id_reserva, monto, monto_vat }, 'sagas.aeroalpes');
 * // with the trace context of the span that sends it (W3C `traceparent`, CloudEvents' tracing extension):
 * const traced = makeEnvelope('PagarReserva', data, 'sagas.aeroalpes', { trace: context });
 */
export function makeEnvelope<T extends string, D extends { id_correlacion: string }>(
  type: T,
  data: D,
  serviceName: string,
  options: { id?: string; now?: number; trace?: Context } = {},
): Envelope<T, D> {
  const now = options.now ?? Date.now();
  return {
    id: options.id ?? randomUUID(),
    time: now,
    ingestion: now,
    specversion: 'v1',
    type,
    datacontenttype: 'application/json',
    service_name: serviceName,
    // Before `data`, so the relay reads it from the serialized envelope without parsing it (`traceparentIn`).
    ...(options.trace ? traceFieldsOf(options.trace) : {}),
    data,
  };
}

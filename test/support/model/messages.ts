import { AEROALPES_MESSAGES, isMessageType } from '../../../machines/messages.ts';

/** The ids every message of one saga carries. */
export interface Correlation {
  id_correlacion: string;
  id_reserva: string;
}

/** A fixed epoch (ms) for date fields, so the model's and the runtime's events carry the same data. */
const FECHA = 1_767_225_600_000;

/**
 * A valid payload of a message type, built from its schema (`AEROALPES_MESSAGES.fieldsOf`): the saga's ids, and
 * one deterministic value per required field (optional fields are left out).
 *
 * @example
 * sampleData('PagoFallido', ids) // { id_correlacion, id_reserva, motivo: 'motivo de PagoFallido' }
 */
export function sampleData(type: string, ids: Correlation): Record<string, unknown> & Correlation {
  if (!isMessageType(type)) throw new Error(`model-based tests: "${type}" has no schema in machines/messages.ts`);
  const data: Record<string, unknown> = {};
  for (const [field, spec] of Object.entries(AEROALPES_MESSAGES.fieldsOf(type))) {
    if (!spec.required) continue;
    data[field] = sampleField(type, field, spec.type);
  }
  return { ...data, id_correlacion: ids.id_correlacion, id_reserva: ids.id_reserva };
}

function sampleField(type: string, field: string, kind: string): unknown {
  switch (kind) {
    case 'number':
      if (field === 'monto') return 320;
      if (field === 'monto_vat') return 60.8;
      return FECHA;
    case 'array':
      return field === 'itinerarios' ? [{ origen: 'BOG', destino: 'CTG', fecha: '2026-12-24' }] : [];
    case 'object':
      return {};
    default:
      if (field === 'motivo') return `motivo de ${type}`;
      if (field === 'id_pago') return 'pago-modelo';
      if (field === 'id_cliente') return 'cliente-modelo';
      return `${field} de ${type}`;
  }
}

/** The data the model's operator repairs carry (`definition.repairs`). */
export function repairData(type: string): Record<string, unknown> {
  return type === 'MarcarResuelta' ? { nota: 'resuelta por el modelo' } : {};
}

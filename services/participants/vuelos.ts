import type { Commands } from '../../machines/messages.ts';
import { column, defineTable, type RowOf } from '../../db/table.ts';
import { declareParticipant } from './declare.ts';
import { propagate } from './participant.ts';

/** The reservations vuelos owns. Created by migration 0002. */
export const RESERVAS = defineTable('vuelos_reservas', {
  id_reserva: column.id().key(),
  id_correlacion: column.id(),
  id_cliente: column.id(),
  estado: column.string<'pendiente' | 'aprobada' | 'cancelada'>(32),
  monto: column.money(),
  monto_vat: column.money(),
  /** The itineraries as JSON. */
  itinerarios: column.text(),
  fecha_creacion: column.millis(),
  fecha_actualizacion: column.millis(),
});
export type ReservaRow = RowOf<typeof RESERVAS.definition>;

/** vuelos: owns reservations; creates, approves and cancels them. */
export const vuelos = declareParticipant({
  name: 'vuelos',
  serviceName: 'vuelos.aeroalpes',
  table: RESERVAS,
  read: { path: '/vuelos/reserva/:id', what: 'reservation' },
  commands: {
    CrearReserva: ({ data, ids, row, put, now }) => {
      const cmd = data as unknown as Commands['CrearReserva'];
      if (cmd.simular_fallo === 'reserva') return [{ type: 'CreacionReservaFallida', data: { ...ids, motivo: 'simulado: sin sillas disponibles' } }];
      if (row?.estado === 'cancelada') return [{ type: 'CreacionReservaFallida', data: { ...ids, motivo: 'la reserva ya fue cancelada' } }];
      const reserva =
        row ?? put({ ...ids, id_cliente: cmd.id_cliente, estado: 'pendiente', monto: cmd.monto, monto_vat: cmd.monto_vat, itinerarios: JSON.stringify(cmd.itinerarios), fecha_creacion: now, fecha_actualizacion: now });
      return [{ type: 'ReservaCreada', data: { ...ids, id_cliente: reserva.id_cliente, estado: reserva.estado, fecha_creacion: Number(reserva.fecha_creacion), monto: reserva.monto, monto_vat: reserva.monto_vat, ...propagate(cmd) } }];
    },
    AprobarReserva: ({ data, ids, row, put, now }) => {
      const cmd = data as unknown as Commands['AprobarReserva'];
      if (cmd.simular_fallo === 'aprobacion') return [{ type: 'AprobacionReservaFallida', data: { ...ids, motivo: 'simulado: aprobación rechazada' } }];
      if (!row || row.estado === 'cancelada') return [{ type: 'AprobacionReservaFallida', data: { ...ids, motivo: row ? 'la reserva está cancelada' : 'la reserva no existe' } }];
      if (row.estado !== 'aprobada') put({ ...row, estado: 'aprobada', fecha_actualizacion: now });
      return [{ type: 'ReservaAprobada', data: { ...ids, estado: 'aprobada', fecha_actualizacion: now } }];
    },
    CancelarReserva: ({ ids, row, put, now }) => {
      // Cancelling what does not exist yet leaves a tombstone, so a late CrearReserva fails.
      if (!row) put({ ...ids, id_cliente: '', estado: 'cancelada', monto: 0, monto_vat: 0, itinerarios: '[]', fecha_creacion: now, fecha_actualizacion: now });
      else if (row.estado !== 'cancelada') put({ ...row, estado: 'cancelada', fecha_actualizacion: now });
      return [{ type: 'ReservaCancelada', data: { ...ids, estado: 'cancelada', fecha_actualizacion: now } }];
    },
  },
});

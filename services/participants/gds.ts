import type { Commands } from '../../machines/messages.ts';
import { column, defineTable, type RowOf } from '../../db/table.ts';
import { declareParticipant } from './declare.ts';

/** One GDS confirmation per reservation. Created by migration 0002. */
export const CONFIRMACIONES_GDS = defineTable('gds_confirmaciones', {
  id_reserva: column.id().key(),
  id_correlacion: column.id(),
  estado: column.string<'confirmada' | 'revertida'>(32),
  fecha_creacion: column.millis(),
  fecha_actualizacion: column.millis(),
});
export type ConfirmacionGdsRow = RowOf<typeof CONFIRMACIONES_GDS.definition>;

/** gds (integracion_gds): confirms the reservation with the Global Distribution System. */
export const gds = declareParticipant({
  name: 'gds',
  serviceName: 'integracion_gds.aeroalpes',
  table: CONFIRMACIONES_GDS,
  read: { path: '/gds/:id', what: 'GDS confirmation of reservation' },
  commands: {
    ConfirmarReserva: ({ data, ids, row, put, now }) => {
      const cmd = data as unknown as Commands['ConfirmarReserva'];
      if (cmd.simular_fallo === 'gds' || cmd.simular_fallo === 'revertir-pago') return [{ type: 'ConfirmacionFallida', data: { ...ids, motivo: 'simulado: el GDS rechazó la reserva' } }];
      if (row?.estado === 'revertida') return [{ type: 'ConfirmacionFallida', data: { ...ids, motivo: 'la confirmación ya fue revertida' } }];
      if (!row) put({ ...ids, estado: 'confirmada', fecha_creacion: now, fecha_actualizacion: now });
      return [{ type: 'ReservaGDSConfirmada', data: { ...ids, fecha_confirmacion: row ? Number(row.fecha_creacion) : now } }];
    },
    RevertirConfirmacion: ({ ids, row, put, now }) => {
      if (!row) put({ ...ids, estado: 'revertida', fecha_creacion: now, fecha_actualizacion: now });
      else if (row.estado !== 'revertida') put({ ...row, estado: 'revertida', fecha_actualizacion: now });
      return [{ type: 'ConfirmacionGDSRevertida', data: { ...ids, fecha_actualizacion: now } }];
    },
  },
});

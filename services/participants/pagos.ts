import { randomUUID } from 'node:crypto';
import type { Commands } from '../../machines/messages.ts';
import { column, defineTable, type RowOf } from '../../db/table.ts';
import { declareParticipant } from './declare.ts';
import { propagate } from './participant.ts';

/** One payment per reservation (the primary key): a second PagarReserva can never charge twice. Created by migration 0002. */
export const PAGOS = defineTable('pagos_pagos', {
  id_reserva: column.id().key(),
  id_pago: column.id(),
  id_correlacion: column.id(),
  estado: column.string<'pagado' | 'revertido'>(32),
  monto: column.money(),
  monto_vat: column.money(),
  /** Times the customer was charged: 1 at most, whatever the redeliveries. */
  cargos: column.int(),
  reembolsos: column.int(),
  fecha_creacion: column.millis(),
  fecha_actualizacion: column.millis(),
});
export type PagoRow = RowOf<typeof PAGOS.definition>;

/** pagos: charges a reservation once and refunds it. */
export const pagos = declareParticipant({
  name: 'pagos',
  serviceName: 'pagos.aeroalpes',
  table: PAGOS,
  read: { path: '/pagos/:id', what: 'payment of reservation' },
  commands: {
    PagarReserva: ({ data, ids, row, put, now }) => {
      const cmd = data as unknown as Commands['PagarReserva'];
      if (cmd.simular_fallo === 'pago') return [{ type: 'PagoFallido', data: { ...ids, motivo: 'simulado: tarjeta rechazada' } }];
      if (cmd.simular_fallo === 'timeout-pago') return []; // never answers: the saga's deadline decides
      if (row?.estado === 'revertido') return [{ type: 'PagoFallido', data: { ...ids, motivo: 'el pago de esta reserva ya fue revertido' } }];
      const pago =
        row ?? put({ ...ids, id_pago: randomUUID(), estado: 'pagado', monto: cmd.monto, monto_vat: cmd.monto_vat, cargos: 1, reembolsos: 0, fecha_creacion: now, fecha_actualizacion: now });
      return [{ type: 'ReservaPagada', data: { ...ids, id_pago: pago.id_pago, monto: pago.monto, monto_vat: pago.monto_vat, fecha_creacion: Number(pago.fecha_creacion), ...propagate(cmd) } }];
    },
    RevertirPago: ({ data, ids, row, put, now }) => {
      const cmd = data as unknown as Commands['RevertirPago'];
      if (cmd.simular_fallo === 'revertir-pago') return [{ type: 'ReversionPagoFallida', data: { ...ids, motivo: 'simulado: la pasarela no responde' } }];
      // Refunding before the charge arrived: a tombstone, so a late PagarReserva is refused.
      const pago =
        !row || row.estado === 'pagado'
          ? put(row ? { ...row, estado: 'revertido', reembolsos: row.reembolsos + 1, fecha_actualizacion: now } : { ...ids, id_pago: randomUUID(), estado: 'revertido', monto: 0, monto_vat: 0, cargos: 0, reembolsos: 0, fecha_creacion: now, fecha_actualizacion: now })
          : row;
      return [{ type: 'PagoRevertido', data: { ...ids, id_pago: pago.id_pago, fecha_actualizacion: now } }];
    },
  },
});

import type { EventType, Events } from '../../machines/messages.ts';

const base = { id_correlacion: 'saga-1', id_reserva: 'R-1' };

/** A valid payload of every domain event, for saga `saga-1` and reservation `R-1` (pure machine tests). */
export const EVENT_DATA: { [T in EventType]: Events[T] } = {
  ReservaCreada: { ...base, id_cliente: 'cliente-1', estado: 'pendiente', fecha_creacion: 1, monto: 250, monto_vat: 47.5 },
  CreacionReservaFallida: { ...base, motivo: 'sin cupo' },
  ReservaAprobada: { ...base, estado: 'aprobada', fecha_actualizacion: 2 },
  AprobacionReservaFallida: { ...base, motivo: 'aprobación rechazada' },
  ReservaCancelada: { ...base, estado: 'cancelada', fecha_actualizacion: 3 },
  CancelacionReservaFallida: { ...base, motivo: 'no se pudo cancelar' },
  ReservaPagada: { ...base, id_pago: 'P-1', monto: 250, monto_vat: 47.5, fecha_creacion: 4 },
  PagoFallido: { ...base, motivo: 'fondos insuficientes' },
  PagoRevertido: { ...base, id_pago: 'P-1', fecha_actualizacion: 5 },
  ReversionPagoFallida: { ...base, motivo: 'banco caído' },
  ReservaGDSConfirmada: { ...base, fecha_confirmacion: 6 },
  ConfirmacionFallida: { ...base, motivo: 'GDS sin respuesta' },
  ConfirmacionGDSRevertida: { ...base, fecha_actualizacion: 7 },
  ReversionConfirmacionFallida: { ...base, motivo: 'GDS caído' },
  ReparacionManualRequerida: { ...base, servicio: 'pagos', motivo: 'compensación agotada: RevertirPago' },
};

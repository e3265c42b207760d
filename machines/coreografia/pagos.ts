import { TOPICS, type Events } from '../messages.ts';
import { reservaSteps } from '../reserva.ts';
import { base, type ParticipanteInput, type ParticipanteSettings } from './shared.ts';
import { stepPartMachine } from './step-part.ts';

/**
 * pagos' part of one reservation in the choreographed saga. No coordinator: it charges
 * when vuelos announces the reservation, and refunds when the GDS step fails or is undone
 * after it (newest first: ConfirmacionFallida or ConfirmacionGDSRevertida), or when its
 * own answer does not come in time.
 */
export const pagosReservaMachine = stepPartMachine({
  id: 'pagosReserva',
  service: 'pagos',
  steps: reservaSteps.steps as never,
  step: 1,
  states: { working: 'pagando', done: 'pagado' },
  params: {
    command: ({ context, event }) => ({ ...base(context), monto: event.data.monto, monto_vat: event.data.monto_vat }),
    compensation: ({ context }) => ({ ...base(context), motivo: context.motivo ?? 'compensación' }),
  },
  undoneAs: { ConfirmacionGDSRevertida: 'confirmación revertida', ReservaCancelada: 'reserva cancelada' },
});


/** The pagos participant as the runtime registers it; an instance starts on ReservaCreada. */
export const pagosReservaSaga = {
  type: 'pagos-reserva',
  version: 1,
  machine: pagosReservaMachine,
  serviceName: 'pagos.aeroalpes',
  consumes: {
    ReservaCreada: TOPICS.ReservaCreada,
    ReservaPagada: TOPICS.ReservaPagada,
    PagoFallido: TOPICS.PagoFallido,
    PagoRevertido: TOPICS.PagoRevertido,
    ReversionPagoFallida: TOPICS.ReversionPagoFallida,
    ConfirmacionFallida: TOPICS.ConfirmacionFallida,
    ConfirmacionGDSRevertida: TOPICS.ConfirmacionGDSRevertida,
    ReservaAprobada: TOPICS.ReservaAprobada,
    ReservaCancelada: TOPICS.ReservaCancelada,
  },
  commands: { PagarReserva: TOPICS.PagarReserva, RevertirPago: TOPICS.RevertirPago, ReparacionManualRequerida: TOPICS.ReparacionManualRequerida },
  startedBy: {
    ReservaCreada: (data: Events['ReservaCreada'], settings: ParticipanteSettings): ParticipanteInput => ({
      id_correlacion: data.id_correlacion,
      id_reserva: data.id_reserva,
      ...(data.simular_fallo ? { simular_fallo: data.simular_fallo } : {}),
      plazos: settings.plazos,
    }),
  },
} as const;

import { TOPICS, type Events } from '../messages.ts';
import { reservaSteps } from '../reserva.ts';
import { base, type ParticipanteInput, type ParticipanteSettings } from './shared.ts';
import { stepPartMachine } from './step-part.ts';

/**
 * gds' part of one reservation in the choreographed saga: confirms with the GDS once the
 * reservation is paid, and undoes the confirmation when the approval fails or its own
 * answer does not come in time.
 */
export const gdsReservaMachine = stepPartMachine({
  id: 'gdsReserva',
  service: 'gds',
  steps: reservaSteps.steps as never,
  step: 2,
  states: { working: 'confirmando', done: 'confirmado' },
  params: {
    command: ({ context }) => base(context),
    compensation: ({ context }) => ({ id_correlacion: context.id_correlacion, id_reserva: context.id_reserva, motivo: context.motivo ?? 'compensación' }),
  },
  undoneAs: { PagoRevertido: 'pago revertido', ReservaCancelada: 'reserva cancelada' },
});


/** The gds participant as the runtime registers it; an instance starts on ReservaPagada. */
export const gdsReservaSaga = {
  type: 'gds-reserva',
  version: 1,
  machine: gdsReservaMachine,
  serviceName: 'integracion_gds.aeroalpes',
  consumes: {
    ReservaPagada: TOPICS.ReservaPagada,
    ReservaGDSConfirmada: TOPICS.ReservaGDSConfirmada,
    ConfirmacionFallida: TOPICS.ConfirmacionFallida,
    ConfirmacionGDSRevertida: TOPICS.ConfirmacionGDSRevertida,
    ReversionConfirmacionFallida: TOPICS.ReversionConfirmacionFallida,
    AprobacionReservaFallida: TOPICS.AprobacionReservaFallida,
    ReservaAprobada: TOPICS.ReservaAprobada,
    PagoRevertido: TOPICS.PagoRevertido,
    ReservaCancelada: TOPICS.ReservaCancelada,
  },
  commands: { ConfirmarReserva: TOPICS.ConfirmarReserva, RevertirConfirmacion: TOPICS.RevertirConfirmacion, ReparacionManualRequerida: TOPICS.ReparacionManualRequerida },
  startedBy: {
    ReservaPagada: (data: Events['ReservaPagada'], settings: ParticipanteSettings): ParticipanteInput => ({
      id_correlacion: data.id_correlacion,
      id_reserva: data.id_reserva,
      ...(data.simular_fallo ? { simular_fallo: data.simular_fallo } : {}),
      plazos: settings.plazos,
    }),
  },
} as const;

import { assign, setup } from 'xstate';
import { TOPICS, type Events } from '../messages.ts';
import { base, command, contextoInicial, motivoDe, participanteDelays, participanteGuards, reintentar, registrarFallo, reparacionManual, ultimoFalloDe, aviso, type Evento, type ParticipanteContext, type ParticipanteInput, type ParticipanteSettings } from './shared.ts';

/**
 * gds' part of one reservation in the choreographed saga: confirms with the GDS once the
 * reservation is paid, and undoes the confirmation when the approval fails or its own
 * answer does not come in time.
 */
export const gdsReservaMachine = setup({
  types: { context: {} as ParticipanteContext, input: {} as ParticipanteInput, events: {} as Evento },
  actions: {
    ConfirmarReserva: command<'ConfirmarReserva'>(),
    RevertirConfirmacion: command<'RevertirConfirmacion'>(),
    registrarMotivo: assign({ motivo: ({ event }, params: { motivo?: string }) => motivoDe(event, params) }),
    contarIntento: assign({ intentos: ({ context }) => context.intentos + 1 }),
    registrarFallo: assign({ ultimoFallo: ultimoFalloDe }),
    ReparacionManualRequerida: aviso<'ReparacionManualRequerida'>(),
  },
  guards: participanteGuards,
  delays: participanteDelays,
}).createMachine({
  id: 'gdsReserva',
  context: ({ input }) => contextoInicial(input),
  initial: 'inicio',
  states: {
    inicio: {
      on: { ReservaPagada: { target: 'confirmando', actions: { type: 'ConfirmarReserva', params: ({ context }) => base(context) } } },
    },
    confirmando: {
      on: {
        ReservaGDSConfirmada: 'confirmado',
        ConfirmacionFallida: { target: 'fallido', actions: { type: 'registrarMotivo', params: {} } },
        // vuelos' events may overtake ReservaGDSConfirmada: react as if it had come first.
        AprobacionReservaFallida: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: {} } },
        ReservaAprobada: 'completado',
        // The steps before gave up while the GDS answered late: undo the confirmation.
        PagoRevertido: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: { motivo: 'pago revertido' } } },
        ReservaCancelada: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: { motivo: 'reserva cancelada' } } },
      },
      after: { plazoPaso: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: { motivo: 'plazo vencido: ConfirmarReserva' } } } },
    },
    confirmado: {
      on: {
        AprobacionReservaFallida: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: {} } },
        PagoRevertido: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: { motivo: 'pago revertido' } } },
        ReservaCancelada: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: { motivo: 'reserva cancelada' } } },
        ReservaAprobada: 'completado',
      },
    },
    revirtiendo: {
      entry: [
        'contarIntento',
        { type: 'RevertirConfirmacion', params: ({ context }) => ({ id_correlacion: context.id_correlacion, id_reserva: context.id_reserva, motivo: context.motivo ?? 'compensación' }) },
      ],
      on: { ConfirmacionGDSRevertida: 'revertido', ReversionConfirmacionFallida: registrarFallo },
      after: { plazoCompensacion: reintentar('revirtiendo', 'RevertirConfirmacion') },
    },
    completado: { type: 'final', tags: ['completed'] },
    fallido: { type: 'final', tags: ['compensated'] },
    revertido: { type: 'final', tags: ['compensated'] },
    reparacionManual: reparacionManual('ConfirmacionGDSRevertida', 'revertido', 'gds'),
  },
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

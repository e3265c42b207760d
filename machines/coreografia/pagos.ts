import { assign, setup } from 'xstate';
import { TOPICS, type Events } from '../messages.ts';
import { base, command, contextoInicial, motivoDe, participanteDelays, participanteGuards, reintentar, registrarFallo, reparacionManual, ultimoFalloDe, aviso, type Evento, type ParticipanteContext, type ParticipanteInput, type ParticipanteSettings } from './shared.ts';

/**
 * pagos' part of one reservation in the choreographed saga. No coordinator: it charges
 * when vuelos announces the reservation, and refunds when the GDS step fails or is undone
 * after it (newest first: ConfirmacionFallida or ConfirmacionGDSRevertida), or when its
 * own answer does not come in time.
 */
export const pagosReservaMachine = setup({
  types: { context: {} as ParticipanteContext, input: {} as ParticipanteInput, events: {} as Evento },
  actions: {
    PagarReserva: command<'PagarReserva'>(),
    RevertirPago: command<'RevertirPago'>(),
    registrarMotivo: assign({ motivo: ({ event }, params: { motivo?: string }) => motivoDe(event, params) }),
    contarIntento: assign({ intentos: ({ context }) => context.intentos + 1 }),
    registrarFallo: assign({ ultimoFallo: ultimoFalloDe }),
    ReparacionManualRequerida: aviso<'ReparacionManualRequerida'>(),
  },
  guards: participanteGuards,
  delays: participanteDelays,
}).createMachine({
  id: 'pagosReserva',
  context: ({ input }) => contextoInicial(input),
  initial: 'inicio',
  states: {
    inicio: {
      on: {
        ReservaCreada: {
          target: 'pagando',
          actions: {
            type: 'PagarReserva',
            params: ({ context, event }) => ({ ...base(context), monto: event.data.monto, monto_vat: event.data.monto_vat }),
          },
        },
      },
    },
    pagando: {
      on: {
        ReservaPagada: 'pagado',
        PagoFallido: { target: 'fallido', actions: { type: 'registrarMotivo', params: {} } },
        // Events of other topics may overtake ReservaPagada: react as if it had come first.
        ConfirmacionFallida: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: {} } },
        ConfirmacionGDSRevertida: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: { motivo: 'confirmación revertida' } } },
        ReservaAprobada: 'completado',
        // A late answer after vuelos gave up: undo the charge that may have happened.
        ReservaCancelada: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: { motivo: 'reserva cancelada' } } },
      },
      after: { plazoPaso: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: { motivo: 'plazo vencido: PagarReserva' } } } },
    },
    pagado: {
      on: {
        ConfirmacionFallida: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: {} } },
        ConfirmacionGDSRevertida: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: { motivo: 'confirmación revertida' } } },
        ReservaCancelada: { target: 'revirtiendo', actions: { type: 'registrarMotivo', params: { motivo: 'reserva cancelada' } } },
        ReservaAprobada: 'completado',
      },
    },
    revirtiendo: {
      entry: [
        'contarIntento',
        { type: 'RevertirPago', params: ({ context }) => ({ ...base(context), motivo: context.motivo ?? 'compensación' }) },
      ],
      on: { PagoRevertido: 'revertido', ReversionPagoFallida: registrarFallo },
      after: { plazoCompensacion: reintentar('revirtiendo', 'RevertirPago') },
    },
    completado: { type: 'final', tags: ['completed'] },
    fallido: { type: 'final', tags: ['compensated'] },
    revertido: { type: 'final', tags: ['compensated'] },
    reparacionManual: reparacionManual('PagoRevertido', 'revertido', 'pagos'),
  },
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

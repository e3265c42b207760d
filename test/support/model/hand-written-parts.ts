import { assign, setup } from 'xstate';
import { aviso, base, command, contextoInicial, motivoDe, participanteDelays, participanteGuards, reintentar, registrarFallo, reparacionManual, ultimoFalloDe, type Evento, type ParticipanteContext, type ParticipanteInput } from '../../../machines/coreografia/shared.ts';

/**
 * pagos' and gds' parts of the choreographed saga as they were written by hand, before both
 * were wired from the saga's steps (`machines/coreografia/step-part.ts`): the oracles the built
 * machines are compared with (test/steps.test.ts).
 */

export const handWrittenPagosMachine = setup({
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

export const handWrittenGdsMachine = setup({
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

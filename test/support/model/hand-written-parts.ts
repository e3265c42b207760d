import { assign, setup } from 'xstate';
import { aviso, base, command, contextoInicial, motivoDe, participanteDelays, participanteGuards, reintentar, registrarFallo, reparacionManual, ultimoFalloDe, type Evento, type ParticipanteContext, type ParticipanteInput } from '../../../machines/coreografia/shared.ts';
import type { VuelosReservaContext } from '../../../machines/coreografia/vuelos.ts';
import type { Commands } from '../../../machines/messages.ts';

type IniciarReserva = { type: 'IniciarReserva'; data: Commands['IniciarReserva'] };

/**
 * vuelos', pagos' and gds' parts of the choreographed saga as they were written by hand,
 * before they were wired from the saga's steps (`machines/coreografia/edge-part.ts`,
 * `step-part.ts`): the oracles the built machines are compared with (test/steps.test.ts).
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

export const handWrittenVuelosMachine = setup({
  types: {
    context: {} as VuelosReservaContext,
    input: {} as ParticipanteInput & { solicitud: VuelosReservaContext['solicitud'] },
    events: {} as Evento | IniciarReserva,
  },
  actions: {
    CrearReserva: command<'CrearReserva'>(),
    AprobarReserva: command<'AprobarReserva'>(),
    CancelarReserva: command<'CancelarReserva'>(),
    registrarMotivo: assign({ motivo: ({ event }, params: { motivo?: string }) => motivoDe(event, params) }),
    contarIntento: assign({ intentos: ({ context }) => context.intentos + 1 }),
    registrarFallo: assign({ ultimoFallo: ultimoFalloDe }),
    ReparacionManualRequerida: aviso<'ReparacionManualRequerida'>(),
  },
  guards: participanteGuards,
  delays: participanteDelays,
}).createMachine({
  id: 'vuelosReserva',
  context: ({ input }) => ({ ...contextoInicial(input), solicitud: input.solicitud }),
  initial: 'inicio',
  states: {
    inicio: {
      on: {
        IniciarReserva: {
          target: 'creando',
          actions: {
            type: 'CrearReserva',
            params: ({ context }) => ({
              ...base(context),
              id_cliente: context.solicitud.id_cliente,
              monto: context.solicitud.monto,
              monto_vat: context.solicitud.monto_vat,
              itinerarios: context.solicitud.itinerarios,
            }),
          },
        },
      },
    },
    creando: {
      on: {
        ReservaCreada: 'esperandoPago',
        CreacionReservaFallida: { target: 'fallida', actions: { type: 'registrarMotivo', params: {} } },
        // evento-pago and evento-gds may overtake evento-reserva: pagos and gds only act on a
        // created reservation, so react as if ReservaCreada had come first.
        ReservaPagada: 'esperandoConfirmacion',
        ReservaGDSConfirmada: { target: 'aprobando', actions: { type: 'AprobarReserva', params: ({ context }) => base(context) } },
        PagoFallido: { target: 'cancelando', actions: { type: 'registrarMotivo', params: {} } },
        PagoRevertido: { target: 'cancelando', actions: { type: 'registrarMotivo', params: { motivo: 'pago revertido' } } },
      },
      after: { plazoPaso: { target: 'cancelando', actions: { type: 'registrarMotivo', params: { motivo: 'plazo vencido: CrearReserva' } } } },
    },
    esperandoPago: {
      on: {
        ReservaPagada: 'esperandoConfirmacion',
        // evento-gds may overtake evento-pago: the GDS confirms only paid reservations.
        ReservaGDSConfirmada: { target: 'aprobando', actions: { type: 'AprobarReserva', params: ({ context }) => base(context) } },
        PagoFallido: { target: 'cancelando', actions: { type: 'registrarMotivo', params: {} } },
        PagoRevertido: { target: 'cancelando', actions: { type: 'registrarMotivo', params: { motivo: 'pago revertido' } } },
      },
    },
    esperandoConfirmacion: {
      on: {
        ReservaGDSConfirmada: { target: 'aprobando', actions: { type: 'AprobarReserva', params: ({ context }) => base(context) } },
        PagoRevertido: { target: 'cancelando', actions: { type: 'registrarMotivo', params: { motivo: 'pago revertido' } } },
      },
    },
    aprobando: {
      on: {
        ReservaAprobada: 'aprobada',
        AprobacionReservaFallida: { target: 'esperandoReversiones', actions: { type: 'registrarMotivo', params: {} } },
        // pagos gave up (its deadline) while the approval was under way: cancel rather than approve unpaid.
        PagoRevertido: { target: 'cancelando', actions: { type: 'registrarMotivo', params: { motivo: 'pago revertido' } } },
      },
    },
    // The approval failed: gds and then pagos undo their steps; the reservation is cancelled last.
    esperandoReversiones: {
      on: { PagoRevertido: 'cancelando' },
    },
    cancelando: {
      entry: [
        'contarIntento',
        { type: 'CancelarReserva', params: ({ context }) => ({ id_correlacion: context.id_correlacion, id_reserva: context.id_reserva, motivo: context.motivo ?? 'compensación' }) },
      ],
      on: { ReservaCancelada: 'cancelada', CancelacionReservaFallida: registrarFallo },
      after: { plazoCompensacion: reintentar('cancelando', 'CancelarReserva') },
    },
    aprobada: { type: 'final', tags: ['completed'] },
    fallida: { type: 'final', tags: ['compensated'] },
    cancelada: { type: 'final', tags: ['compensated'] },
    reparacionManual: reparacionManual('ReservaCancelada', 'cancelada', 'vuelos'),
  },
});

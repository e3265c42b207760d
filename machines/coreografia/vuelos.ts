import { assign, setup } from 'xstate';
import { TOPICS, type Commands } from '../messages.ts';
import {
  base,
  command,
  contextoInicial,
  motivoDe,
  participanteDelays,
  participanteGuards,
  reintentar,
  registrarFallo,
  reparacionManual,
  ultimoFalloDe,
  aviso,
  type Evento,
  type ParticipanteContext,
  type ParticipanteInput,
  type ParticipanteSettings,
} from './shared.ts';

type IniciarReserva = { type: 'IniciarReserva'; data: Commands['IniciarReserva'] };

export interface VuelosReservaContext extends ParticipanteContext {
  solicitud: Omit<Commands['IniciarReserva'], 'plazos' | 'simular_fallo'>;
}

/**
 * vuelos' part of one reservation in the choreographed saga. It creates the reservation
 * when a customer asks, approves it once the GDS confirmed it, and cancels it last, after
 * a payment failed or was refunded (so the compensations run newest first across services).
 */
export const vuelosReservaMachine = setup({
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


/** The vuelos participant as the runtime registers it; an instance starts on IniciarReserva. */
export const vuelosReservaSaga = {
  type: 'vuelos-reserva',
  version: 1,
  machine: vuelosReservaMachine,
  serviceName: 'vuelos.aeroalpes',
  consumes: {
    IniciarReserva: TOPICS.IniciarReserva,
    ReservaCreada: TOPICS.ReservaCreada,
    CreacionReservaFallida: TOPICS.CreacionReservaFallida,
    ReservaPagada: TOPICS.ReservaPagada,
    PagoFallido: TOPICS.PagoFallido,
    PagoRevertido: TOPICS.PagoRevertido,
    ReservaGDSConfirmada: TOPICS.ReservaGDSConfirmada,
    ReservaAprobada: TOPICS.ReservaAprobada,
    AprobacionReservaFallida: TOPICS.AprobacionReservaFallida,
    ReservaCancelada: TOPICS.ReservaCancelada,
    CancelacionReservaFallida: TOPICS.CancelacionReservaFallida,
  },
  commands: { CrearReserva: TOPICS.CrearReserva, AprobarReserva: TOPICS.AprobarReserva, CancelarReserva: TOPICS.CancelarReserva, ReparacionManualRequerida: TOPICS.ReparacionManualRequerida },
  startedBy: {
    IniciarReserva: (data: Commands['IniciarReserva'], settings: ParticipanteSettings) => ({
      id_correlacion: data.id_correlacion,
      id_reserva: data.id_reserva,
      ...(data.simular_fallo ? { simular_fallo: data.simular_fallo } : {}),
      plazos: { ...settings.plazos, ...data.plazos },
      solicitud: { id_correlacion: data.id_correlacion, id_reserva: data.id_reserva, id_cliente: data.id_cliente, monto: data.monto, monto_vat: data.monto_vat, itinerarios: data.itinerarios },
    }),
  },
} as const;

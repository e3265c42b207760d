import { assign, setup } from 'xstate';
import { esperaCompensacion, intentosEnHorizonte, plazosDe } from '../../../machines/compensacion.ts';
import type { Commands } from '../../../machines/messages.ts';
import type { ReservaContext, ReservaInput, SagaEvent } from '../../../machines/reserva.ts';

/**
 * The reservation saga as it was written by hand, state by state, before it was declared as
 * its steps (`machines/reserva.ts`, `reservaSteps`): kept as the oracle the built machine is
 * compared with (test/steps.test.ts).
 */

type Compensation = 'revirtiendoConfirmacion' | 'revirtiendoPago' | 'cancelandoReserva';

const command =
  <T extends keyof Commands>() =>
  // The runtime reads the params of these actions and writes them to the outbox.
  (_: unknown, _params: Commands[T]) => {};

export const handWrittenReservaMachine = setup({
  types: {
    context: {} as ReservaContext,
    input: {} as ReservaInput,
    events: {} as SagaEvent,
  },
  actions: {
    CrearReserva: command<'CrearReserva'>(),
    PagarReserva: command<'PagarReserva'>(),
    ConfirmarReserva: command<'ConfirmarReserva'>(),
    AprobarReserva: command<'AprobarReserva'>(),
    CancelarReserva: command<'CancelarReserva'>(),
    RevertirPago: command<'RevertirPago'>(),
    RevertirConfirmacion: command<'RevertirConfirmacion'>(),
    registrarMotivo: assign({
      motivo: ({ event }, params: { motivo?: string }) =>
        params.motivo ?? ('motivo' in event.data ? String(event.data.motivo) : event.type),
    }),
    contarIntento: assign({
      intentos: ({ context }, params: { paso: Compensation }) => ({
        ...context.intentos,
        [params.paso]: (context.intentos[params.paso] ?? 1) + 1,
      }),
    }),
    compensar: assign({ compensando: (_, params: { paso: Compensation }) => params.paso }),
    registrarFallo: assign({ ultimoFallo: ({ event }) => ('motivo' in event.data ? String(event.data.motivo) : event.type) }),
    quedaPendiente: assign({ pendiente: (_, params: { paso: Compensation }) => params.paso }),
  },
  guards: {
    quedanIntentos: ({ context }, params: { paso: Compensation }) =>
      (context.intentos[params.paso] ?? 1) < context.maxReintentos,
    pendiente: ({ context }, params: { paso: Compensation }) => context.pendiente === params.paso,
  },
  delays: {
    plazoPaso: ({ context }) => context.plazos.paso,
    // Doubling waits: an unconfirmed compensation is sent again later each time.
    plazoCompensacion: ({ context }) => esperaCompensacion(context.plazos, context.compensando ? (context.intentos[context.compensando] ?? 1) : 1),
  },
}).createMachine({
  id: 'reserva',
  context: ({ input }) => ({
    id_correlacion: input.id_correlacion,
    id_reserva: input.id_reserva,
    id_cliente: input.id_cliente,
    monto: input.monto,
    monto_vat: input.monto_vat,
    itinerarios: input.itinerarios,
    ...(input.simular_fallo ? { simular_fallo: input.simular_fallo } : {}),
    plazos: plazosDe(input.plazos),
    maxReintentos: input.maxReintentos ?? intentosEnHorizonte(plazosDe(input.plazos)),
    intentos: {},
  }),
  initial: 'creandoReserva',
  states: {
    creandoReserva: {
      entry: {
        type: 'CrearReserva',
        params: ({ context }) => ({
          id_correlacion: context.id_correlacion,
          id_reserva: context.id_reserva,
          id_cliente: context.id_cliente,
          monto: context.monto,
          monto_vat: context.monto_vat,
          itinerarios: context.itinerarios,
          ...(context.simular_fallo ? { simular_fallo: context.simular_fallo } : {}),
        }),
      },
      on: {
        ReservaCreada: {
          target: 'pagando',
          actions: [
            // vuelos owns reservations: later commands and compensations use the id it confirmed.
            assign({ id_reserva: ({ event }) => event.data.id_reserva }),
            {
              type: 'PagarReserva',
              params: ({ context, event }) => ({
                id_correlacion: context.id_correlacion,
                id_reserva: event.data.id_reserva,
                monto: event.data.monto,
                monto_vat: event.data.monto_vat,
                ...(context.simular_fallo ? { simular_fallo: context.simular_fallo } : {}),
              }),
            },
          ],
        },
        CreacionReservaFallida: { target: 'compensada', actions: { type: 'registrarMotivo', params: {} } },
      },
      after: {
        plazoPaso: {
          target: 'cancelandoReserva',
          actions: { type: 'registrarMotivo', params: { motivo: 'plazo vencido: CrearReserva' } },
        },
      },
    },
    pagando: {
      on: {
        ReservaPagada: {
          target: 'confirmandoGds',
          actions: [
            assign({ id_pago: ({ event }) => event.data.id_pago }),
            {
              type: 'ConfirmarReserva',
              params: ({ context, event }) => ({
                id_correlacion: context.id_correlacion,
                id_reserva: event.data.id_reserva,
                ...(context.simular_fallo ? { simular_fallo: context.simular_fallo } : {}),
              }),
            },
          ],
        },
        PagoFallido: { target: 'cancelandoReserva', actions: { type: 'registrarMotivo', params: {} } },
      },
      after: {
        plazoPaso: {
          target: 'revirtiendoPago',
          actions: { type: 'registrarMotivo', params: { motivo: 'plazo vencido: PagarReserva' } },
        },
      },
    },
    confirmandoGds: {
      on: {
        ReservaGDSConfirmada: {
          target: 'aprobando',
          actions: {
            type: 'AprobarReserva',
            params: ({ context, event }) => ({
              id_correlacion: context.id_correlacion,
              id_reserva: event.data.id_reserva,
              ...(context.simular_fallo ? { simular_fallo: context.simular_fallo } : {}),
            }),
          },
        },
        ConfirmacionFallida: { target: 'revirtiendoPago', actions: { type: 'registrarMotivo', params: {} } },
      },
      after: {
        plazoPaso: {
          target: 'revirtiendoConfirmacion',
          actions: { type: 'registrarMotivo', params: { motivo: 'plazo vencido: ConfirmarReserva' } },
        },
      },
    },
    aprobando: {
      on: {
        ReservaAprobada: { target: 'completada' },
        AprobacionReservaFallida: {
          target: 'revirtiendoConfirmacion',
          actions: { type: 'registrarMotivo', params: {} },
        },
      },
      after: {
        plazoPaso: {
          // CancelarReserva (step 4's compensation) runs last in the chain and undoes a late approval too.
          target: 'revirtiendoConfirmacion',
          actions: { type: 'registrarMotivo', params: { motivo: 'plazo vencido: AprobarReserva' } },
        },
      },
    },
    revirtiendoConfirmacion: {
      entry: [
        { type: 'compensar', params: { paso: 'revirtiendoConfirmacion' } },
        {
          type: 'RevertirConfirmacion',
          params: ({ context }) => ({
            id_correlacion: context.id_correlacion,
            id_reserva: context.id_reserva,
            motivo: context.motivo ?? 'compensación',
          }),
        },
      ],
      on: {
        ConfirmacionGDSRevertida: { target: 'revirtiendoPago' },
        // Sent again when its wait runs out, not at once: a failing participant is not flooded.
        ReversionConfirmacionFallida: { actions: 'registrarFallo' },
      },
      after: { plazoCompensacion: retry('revirtiendoConfirmacion') },
    },
    revirtiendoPago: {
      entry: [
        { type: 'compensar', params: { paso: 'revirtiendoPago' } },
        {
          type: 'RevertirPago',
          params: ({ context }) => ({
            id_correlacion: context.id_correlacion,
            id_reserva: context.id_reserva,
            motivo: context.motivo ?? 'compensación',
            ...(context.simular_fallo ? { simular_fallo: context.simular_fallo } : {}),
          }),
        },
      ],
      on: {
        PagoRevertido: { target: 'cancelandoReserva' },
        // Sent again when its wait runs out, not at once: a failing participant is not flooded.
        ReversionPagoFallida: { actions: 'registrarFallo' },
      },
      after: { plazoCompensacion: retry('revirtiendoPago') },
    },
    cancelandoReserva: {
      entry: [
        { type: 'compensar', params: { paso: 'cancelandoReserva' } },
        {
          type: 'CancelarReserva',
          params: ({ context }) => ({
            id_correlacion: context.id_correlacion,
            id_reserva: context.id_reserva,
            motivo: context.motivo ?? 'compensación',
          }),
        },
      ],
      on: {
        ReservaCancelada: { target: 'compensada' },
        // Sent again when its wait runs out, not at once: a failing participant is not flooded.
        CancelacionReservaFallida: { actions: 'registrarFallo' },
      },
      after: { plazoCompensacion: retry('cancelandoReserva') },
    },
    completada: { type: 'final', tags: ['completed'] },
    compensada: { type: 'final', tags: ['compensated'] },
    // Not final: a person repairs it, or the confirmation that comes late resumes the compensation.
    reparacionManual: {
      tags: ['failed'],
      on: {
        ConfirmacionGDSRevertida: { guard: { type: 'pendiente', params: { paso: 'revirtiendoConfirmacion' } }, target: 'revirtiendoPago' },
        PagoRevertido: { guard: { type: 'pendiente', params: { paso: 'revirtiendoPago' } }, target: 'cancelandoReserva' },
        ReservaCancelada: { guard: { type: 'pendiente', params: { paso: 'cancelandoReserva' } }, target: 'compensada' },
      },
    },
  },
});

/** A compensation not confirmed in time is sent again, up to `maxReintentos` attempts; then it needs manual repair. */
function retry(paso: Compensation) {
  return [
    {
      guard: { type: 'quedanIntentos', params: { paso } },
      target: paso,
      reenter: true,
      actions: { type: 'contarIntento', params: { paso } },
    },
    {
      target: 'reparacionManual',
      actions: [
        { type: 'registrarMotivo', params: { motivo: `compensación agotada: ${paso}` } },
        { type: 'quedaPendiente', params: { paso } },
      ],
    },
  ] as const;
}


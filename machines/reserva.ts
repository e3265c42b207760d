import { assign, setup } from 'xstate';
import { esperaCompensacion, intentosEnHorizonte, plazosDe, type Plazos } from './compensacion.ts';
import { TOPICS, type Commands, type Events, type EventType, type Itinerario, type SimulatedFailure } from './messages.ts';

export { DEFAULT_PLAZOS, type Plazos } from './compensacion.ts';

/**
 * The orchestrated AeroAlpes reservation saga (domain.md, "The orchestrated saga").
 *
 * Steps: CrearReserva -> PagarReserva -> ConfirmarReserva (GDS) -> AprobarReserva.
 * A failure event of step i compensates the steps before it, newest first; a deadline
 * that expires compensates step i too, because a participant that answered late may
 * still have done it. Each compensation waits for its confirmation event; when it fails
 * or is not confirmed in time it is sent again, with doubling waits, for about
 * `plazos.horizonte` (`maxReintentos` attempts); then the saga stops in
 * `reparacionManual` for a person to repair, where the confirmation that arrives late
 * still resumes it.
 *
 * Commands are named actions whose `params` build the command from the triggering event
 * and the context; the runtime records them in the outbox. Nothing here does I/O.
 */

export interface ReservaInput {
  id_correlacion: string;
  id_reserva: string;
  id_cliente: string;
  monto: number;
  monto_vat: number;
  itinerarios: Itinerario[];
  simular_fallo?: SimulatedFailure;
  /** Deadlines in ms: for a step's answer, and for a compensation's confirmation and retries. */
  plazos?: Partial<Plazos>;
  /** Attempts of one compensation before the saga needs manual repair (default: as many as fit in `plazos.horizonte`). */
  maxReintentos?: number;
}

type Compensation = 'revirtiendoConfirmacion' | 'revirtiendoPago' | 'cancelandoReserva';

export interface ReservaContext extends Omit<ReservaInput, 'plazos' | 'maxReintentos'> {
  plazos: Plazos;
  maxReintentos: number;
  id_pago?: string;
  /** Why the saga left the happy path (failure event reason or expired deadline). */
  motivo?: string;
  /** Attempts made per compensation. */
  intentos: Partial<Record<Compensation, number>>;
  /** The compensation under way (whose attempts set the wait for its confirmation). */
  compensando?: Compensation;
  /** The reason the last attempt of a compensation failed. */
  ultimoFallo?: string;
  /** In manual repair: the compensation whose confirmation is still awaited. */
  pendiente?: Compensation;
}

/** A domain event as the machine sees it: the envelope's type and data. */
export type SagaEvent<T extends EventType = EventType> = T extends EventType ? { type: T; data: Events[T] } : never;

const command =
  <T extends keyof Commands>() =>
  // The runtime reads the params of these actions and writes them to the outbox.
  (_: unknown, _params: Commands[T]) => {};

export const reservaMachine = setup({
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

/**
 * The saga as the runtime registers it: machine, version, the events it consumes and the
 * topic of each command it sends.
 *
 * @example
 * const runtime = new SagaRuntime({ store, transport, sagas: [reservaSaga] });
 * await runtime.start('reserva', input, { id: input.id_correlacion });
 */
export const reservaSaga = {
  type: 'reserva',
  version: 1,
  machine: reservaMachine,
  serviceName: 'sagas.aeroalpes',
  /** Events the saga consumes, with their topics. */
  consumes: pick([
    'ReservaCreada',
    'CreacionReservaFallida',
    'ReservaPagada',
    'PagoFallido',
    'ReservaGDSConfirmada',
    'ConfirmacionFallida',
    'ReservaAprobada',
    'AprobacionReservaFallida',
    'ConfirmacionGDSRevertida',
    'ReversionConfirmacionFallida',
    'PagoRevertido',
    'ReversionPagoFallida',
    'ReservaCancelada',
    'CancelacionReservaFallida',
  ]),
  commands: {
    CrearReserva: TOPICS.CrearReserva,
    PagarReserva: TOPICS.PagarReserva,
    ConfirmarReserva: TOPICS.ConfirmarReserva,
    AprobarReserva: TOPICS.AprobarReserva,
    CancelarReserva: TOPICS.CancelarReserva,
    RevertirPago: TOPICS.RevertirPago,
    RevertirConfirmacion: TOPICS.RevertirConfirmacion,
  } satisfies Record<Exclude<keyof Commands, 'IniciarReserva'>, string>,
} as const;

function pick<T extends EventType>(types: readonly T[]): Record<T, string> {
  return Object.fromEntries(types.map((t) => [t, TOPICS[t]])) as Record<T, string>;
}

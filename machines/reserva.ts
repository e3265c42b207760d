import type { Plazos } from './compensacion.ts';
import { stepSaga, type StepSagaDeclaration } from './steps.ts';
import { AEROALPES_MESSAGES, type Events, type EventType, type Itinerario, type SimulatedFailure } from './messages.ts';

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
 * The saga is declared as its steps (`reservaSteps` below); that order, the compensation
 * chain, the deadlines, the retries and manual repair come from the declaration
 * (`machines/steps.ts`), so they are right by construction. Commands are named actions whose
 * `params` build the command from the triggering event and the context; the runtime records
 * them in the outbox. Nothing here does I/O.
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
  /** How a person settled the saga (`MarcarResuelta`). */
  resolucion?: string;
}

/** A domain event as the machine sees it: the envelope's type and data. */
export type SagaEvent<T extends EventType = EventType> = T extends EventType ? { type: T; data: Events[T] } : never;

/** The ids and amounts every command carries, and the failure to simulate (tests, the tutorial's demo). */
const base = (context: ReservaContext) => ({
  id_correlacion: context.id_correlacion,
  ...(context.simular_fallo ? { simular_fallo: context.simular_fallo } : {}),
});
const motivo = (context: ReservaContext) => ({ id_correlacion: context.id_correlacion, id_reserva: context.id_reserva, motivo: context.motivo ?? 'compensación' });
type Data = Record<string, unknown>;
const dataOf = (event: { data?: Data }) => (event.data ?? {}) as Data;

const cancelarReserva = {
  state: 'cancelandoReserva',
  command: { type: 'CancelarReserva', params: ({ context }: { context: ReservaContext }) => motivo(context) },
  confirmedBy: 'ReservaCancelada',
  failedBy: 'CancelacionReservaFallida',
};

/**
 * The orchestrated saga as its steps (domain.md, "The orchestrated saga"): each step's
 * command, the events that answer it and the compensation that undoes it. The machine,
 * its deadlines, retries and manual repair are built from this (`machines/steps.ts`).
 */
export const reservaSteps: StepSagaDeclaration<ReservaContext, ReservaInput> = {
  id: 'reserva',
  context: (input) => ({
    id_correlacion: input.id_correlacion,
    id_reserva: input.id_reserva,
    id_cliente: input.id_cliente,
    monto: input.monto,
    monto_vat: input.monto_vat,
    itinerarios: input.itinerarios,
    ...(input.simular_fallo ? { simular_fallo: input.simular_fallo } : {}),
  }),
  steps: [
    {
      state: 'creandoReserva',
      command: {
        type: 'CrearReserva',
        params: ({ context }) => ({
          ...base(context),
          id_reserva: context.id_reserva,
          id_cliente: context.id_cliente,
          monto: context.monto,
          monto_vat: context.monto_vat,
          itinerarios: context.itinerarios,
        }),
      },
      // vuelos owns reservations: later commands and compensations use the id it confirmed.
      success: { event: 'ReservaCreada', keep: { id_reserva: ({ event }) => String(dataOf(event).id_reserva) } },
      failure: { event: 'CreacionReservaFallida' },
      compensation: cancelarReserva,
    },
    {
      state: 'pagando',
      command: {
        type: 'PagarReserva',
        params: ({ context, event }) => ({ ...base(context), id_reserva: dataOf(event).id_reserva, monto: dataOf(event).monto, monto_vat: dataOf(event).monto_vat }),
      },
      success: { event: 'ReservaPagada', keep: { id_pago: ({ event }) => String(dataOf(event).id_pago) } },
      failure: { event: 'PagoFallido' },
      compensation: {
        state: 'revirtiendoPago',
        command: { type: 'RevertirPago', params: ({ context }) => ({ ...motivo(context), ...(context.simular_fallo ? { simular_fallo: context.simular_fallo } : {}) }) },
        confirmedBy: 'PagoRevertido',
        failedBy: 'ReversionPagoFallida',
      },
    },
    {
      state: 'confirmandoGds',
      command: { type: 'ConfirmarReserva', params: ({ context, event }) => ({ ...base(context), id_reserva: dataOf(event).id_reserva }) },
      success: { event: 'ReservaGDSConfirmada' },
      failure: { event: 'ConfirmacionFallida' },
      compensation: {
        state: 'revirtiendoConfirmacion',
        command: { type: 'RevertirConfirmacion', params: ({ context }) => motivo(context) },
        confirmedBy: 'ConfirmacionGDSRevertida',
        failedBy: 'ReversionConfirmacionFallida',
      },
    },
    {
      state: 'aprobando',
      command: { type: 'AprobarReserva', params: ({ context, event }) => ({ ...base(context), id_reserva: dataOf(event).id_reserva }) },
      success: { event: 'ReservaAprobada' },
      failure: { event: 'AprobacionReservaFallida' },
      // CancelarReserva, shared with step 1, runs last in the chain and undoes a late approval too.
      compensation: cancelarReserva,
    },
  ],
  ends: { completed: 'completada', compensated: 'compensada', manualRepair: 'reparacionManual', resolved: 'resueltaManualmente' },
  // A retry may lift the simulated failure that made the compensation give up (`{ simular_fallo: null }`).
  retryWith: ({ data }) => ('simular_fallo' in data ? { simular_fallo: (data.simular_fallo ?? undefined) as SimulatedFailure | undefined } : {}),
};

/**
 * The saga as the runtime registers it: the machine built from its steps, its version, and
 * the topic of every event it consumes and command it sends (from the message catalog).
 *
 * @example
 * const runtime = new SagaRuntime({ store, transport, sagas: [reservaSaga] });
 * await runtime.startSaga('reserva', input, { id: input.id_correlacion });
 */
export const reservaSaga = stepSaga(reservaSteps, { type: 'reserva', version: 1, serviceName: 'sagas.aeroalpes', messages: AEROALPES_MESSAGES, customerOf: (context) => context.id_cliente });

/** The orchestrated saga's statechart, built from its steps. */
export const reservaMachine = reservaSaga.machine;

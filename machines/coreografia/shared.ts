import { assign, setup } from 'xstate';
import { esperaCompensacion, intentosEnHorizonte, motivoDe as reasonOf, plazosDe, ultimoFalloDe as lastFailureOf, type Plazos } from '../compensacion.ts';

export { motivoDe, ultimoFalloDe } from '../compensacion.ts';
import type { Commands, EventType, Events, SimulatedFailure } from '../messages.ts';

/**
 * What the participants' machines of the choreographed saga share: deadlines, the retry
 * policy of a compensation, and how a command carries the failure to simulate.
 */
export interface ParticipanteInput {
  id_correlacion: string;
  id_reserva: string;
  simular_fallo?: SimulatedFailure;
  plazos?: Partial<Plazos>;
  maxReintentos?: number;
}

export interface ParticipanteContext {
  id_correlacion: string;
  id_reserva: string;
  simular_fallo?: SimulatedFailure;
  plazos: Plazos;
  maxReintentos: number;
  /** Attempts of the compensation (the first send counts as 1). */
  intentos: number;
  motivo?: string;
  /** The reason the last attempt of the compensation failed. */
  ultimoFallo?: string;
}

/** What the process running a participant gives each new instance (its configured deadlines). */
export interface ParticipanteSettings {
  plazos?: Partial<Plazos>;
}

/** A domain event as a machine sees it. */
export type Evento<T extends EventType = EventType> = T extends EventType ? { type: T; data: Events[T] } : never;

export function contextoInicial(input: ParticipanteInput): ParticipanteContext {
  return {
    id_correlacion: input.id_correlacion,
    id_reserva: input.id_reserva,
    ...(input.simular_fallo ? { simular_fallo: input.simular_fallo } : {}),
    plazos: plazosDe(input.plazos),
    maxReintentos: input.maxReintentos ?? intentosEnHorizonte(plazosDe(input.plazos)),
    intentos: 0,
  };
}

/** The input of a part started by an event: its ids, the failure to simulate it carries, the process's deadlines. */
export function partStart(data: { id_correlacion: string; id_reserva: string; simular_fallo?: SimulatedFailure }, settings: ParticipanteSettings): ParticipanteInput {
  return {
    id_correlacion: data.id_correlacion,
    id_reserva: data.id_reserva,
    ...(data.simular_fallo ? { simular_fallo: data.simular_fallo } : {}),
    plazos: settings.plazos,
  };
}

/** `{ id_correlacion, id_reserva }` plus the failure to simulate, when there is one. */
export function base(context: ParticipanteContext) {
  return {
    id_correlacion: context.id_correlacion,
    id_reserva: context.id_reserva,
    ...(context.simular_fallo ? { simular_fallo: context.simular_fallo } : {}),
  };
}

/** The runtime reads these actions' params and writes them to the outbox. */
export const command =
  <T extends keyof Commands>() =>
  (_: unknown, _params: Commands[T]) => {};

type Ctx = { context: ParticipanteContext };

/** Guards and delays every participant's `setup()` shares. */
export const participanteGuards = { quedanIntentos: ({ context }: Ctx) => context.intentos < context.maxReintentos };
export const participanteDelays = {
  plazoPaso: ({ context }: Ctx) => context.plazos.paso,
  // Doubling waits: an unconfirmed compensation is sent again later each time.
  plazoCompensacion: ({ context }: Ctx) => esperaCompensacion(context.plazos, context.intentos),
};

/** The reason a compensation's attempt failed, kept; the compensation is sent again when its wait runs out, not at once. */
export const registrarFallo = { actions: 'registrarFallo' } as const;

/** An unconfirmed compensation is sent again, up to `maxReintentos` attempts, then needs manual repair. */
export function reintentar(estado: string, comando: string) {
  return [
    { guard: 'quedanIntentos', target: estado, reenter: true },
    { target: 'reparacionManual', actions: { type: 'registrarMotivo', params: { motivo: `compensación agotada: ${comando}` } } },
  ] as const;
}

/**
 * Manual repair: the part says so (`ReparacionManualRequerida`, which the tracker follows),
 * and it is not final, so the confirmation that comes late still ends it in `destino` (its
 * compensated final state).
 */
export function reparacionManual(confirmacion: EventType, destino: string, servicio: string) {
  return {
    tags: ['failed'],
    entry: {
      type: 'ReparacionManualRequerida',
      params: ({ context }: Ctx) => ({ id_correlacion: context.id_correlacion, id_reserva: context.id_reserva, servicio, motivo: context.motivo ?? 'compensación agotada' }),
    },
    on: { [confirmacion]: destino },
  } as const;
}

/** The runtime reads these actions' params and publishes them as events (the outbox, like commands). */
export const aviso =
  <T extends EventType>() =>
  (_: unknown, _params: Events[T]) => {};

/**
 * The `setup()` every part built from steps shares: its commands (by type), the reason, the
 * attempts and the last failure of its compensation, `ReparacionManualRequerida`, and the
 * deadlines and retry guard.
 *
 * @example
 * partSetup(['PagarReserva', 'RevertirPago']).createMachine({ … });
 */
export function partSetup(commands: readonly string[]) {
  return setup({
    actions: {
      ...Object.fromEntries(commands.map((type) => [type, command()])),
      registrarMotivo: assign({ motivo: ({ event }: { event: { type: string; data: object } }, params: { motivo?: string }) => reasonOf(event, params) }),
      contarIntento: assign({ intentos: ({ context }: { context: ParticipanteContext }) => context.intentos + 1 }),
      registrarFallo: assign({ ultimoFallo: lastFailureOf }),
      ReparacionManualRequerida: aviso<'ReparacionManualRequerida'>(),
    } as never,
    guards: participanteGuards as never,
    delays: participanteDelays as never,
  });
}

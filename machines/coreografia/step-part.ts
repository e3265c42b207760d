import type { AnyStateMachine } from 'xstate';
import type { MessageCatalog } from '../messages.ts';
import type { SagaStep } from '../steps.ts';
import { base, contextoInicial, partSetup, partStart, reintentar, registrarFallo, reparacionManual, type ParticipanteContext } from './shared.ts';

/** How a participant's part builds its commands: from its own context and the event that triggered it. */
type PartParams = (args: { context: ParticipanteContext; event: { type: string; data: Record<string, unknown> } }) => object;

export interface StepPartDeclaration {
  /** The machine id (`pagosReserva`). */
  id: string;
  /** The participant's name, as `ReparacionManualRequerida` tells the tracker. */
  service: string;
  /** The saga's steps in order (the orchestrated declaration's), and which of them this part runs. */
  steps: readonly SagaStep<never>[];
  step: number;
  /** Names of the states in which it waits for its answer and in which its step is done (default the step's `state` and `hecho`). */
  states?: { working: string; done: string };
  /**
   * The part's own command builders (its context is the part's, not the orchestrator's);
   * by default the command carries `id_correlacion`, `id_reserva` and the failure to simulate,
   * and the compensation also `motivo`.
   */
  params?: { command: PartParams; compensation: PartParams };
  /** How the reason reads when another step's compensation is confirmed (`PagoRevertido` → `pago revertido`; default the event's type). */
  undoneAs?: Readonly<Record<string, string>>;
}

/**
 * One participant's part of the choreographed saga, for a step in the middle of the chain,
 * wired from the saga's step list (`machines/steps.ts`) instead of by hand:
 *
 * - it starts when the step before succeeds, and sends its command;
 * - its own success waits for the end (the last step's success completes it); its own
 *   failure ends it (nothing to undo);
 * - it undoes its step (sends its compensation, retried like the orchestrated saga's, then
 *   manual repair, which it tells the tracker) when the next step fails, when the next step's
 *   or an older step's compensation is confirmed (the saga is being undone), or when its own
 *   answer does not come in time. Events of other topics may overtake its own answer: while it waits it
 *   reacts to them as if its answer had come first.
 *
 * @example
 * export const pagosReservaMachine = stepPartMachine({ id: 'pagosReserva', service: 'pagos', steps: reservaSteps.steps, step: 1, … });
 */
export function stepPartMachine(declaration: StepPartDeclaration): AnyStateMachine {
  const { steps, step: index } = declaration;
  const own = steps[index];
  const before = steps[index - 1];
  const next = steps[index + 1];
  if (!own || !before || !next) throw new Error(`${declaration.id}: a part is built for a step with steps before and after it (step ${index} of ${steps.length})`);
  const last = steps[steps.length - 1];
  const { working, done } = declaration.states ?? { working: own.state, done: 'hecho' };
  const params = declaration.params ?? { command: ({ context }) => base(context), compensation: ({ context }) => ({ ...base(context), motivo: context.motivo ?? 'compensación' }) };
  const undo = (reason: Record<string, never> | { motivo: string }) => ({ target: 'revirtiendo', actions: { type: 'registrarMotivo', params: reason } });
  const othersUndone = undoneBefore(steps, index);
  const reactions = Object.fromEntries([
    [next.failure.event, undo({})],
    ...othersUndone.map((event) => [event, undo({ motivo: declaration.undoneAs?.[event] ?? event })]),
    [last.success.event, 'completado'],
  ]);

  return partSetup([own.command.type, own.compensation.command.type]).createMachine({
    id: declaration.id,
    context: ({ input }: { input: never }) => contextoInicial(input),
    initial: 'inicio',
    states: {
      inicio: {
        on: { [before.success.event]: { target: working, actions: { type: own.command.type, params: params.command } } },
      },
      [working]: {
        on: { [own.success.event]: done, [own.failure.event]: { target: 'fallido', actions: { type: 'registrarMotivo', params: {} } }, ...reactions },
        after: { plazoPaso: undo({ motivo: `plazo vencido: ${own.command.type}` } as never) },
      },
      [done]: { on: reactions },
      revirtiendo: {
        entry: ['contarIntento', { type: own.compensation.command.type, params: params.compensation }],
        on: { [own.compensation.confirmedBy]: 'revertido', [own.compensation.failedBy]: registrarFallo },
        after: { plazoCompensacion: reintentar('revirtiendo', own.compensation.command.type) },
      },
      completado: { type: 'final', tags: ['completed'] },
      fallido: { type: 'final', tags: ['compensated'] },
      revertido: { type: 'final', tags: ['compensated'] },
      reparacionManual: reparacionManual(own.compensation.confirmedBy as never, 'revertido', declaration.service),
    },
  } as never) as unknown as AnyStateMachine;
}

/**
 * The confirmations after which a part undoes its own step: the next step's (the saga is
 * being undone from after it, newest first) and any older step's (an older step gave up, so
 * this one must not stand). A step further on is undone before the next one, so this part
 * waits for the next one's confirmation.
 */
function undoneBefore(steps: readonly SagaStep<never>[], index: number): string[] {
  const own = steps[index];
  const relevant = [steps[index + 1], ...steps.slice(0, index)];
  return [...new Set(relevant.filter((s) => s.compensation.state !== own.compensation.state).map((s) => s.compensation.confirmedBy))];
}

/** The events a step's part consumes: the one that starts it, its answers, and those it reacts to. */
function partEvents(declaration: StepPartDeclaration): string[] {
  const { steps, step: index } = declaration;
  const own = steps[index];
  const others = undoneBefore(steps, index);
  return [
    ...new Set([
      steps[index - 1].success.event,
      own.success.event,
      own.failure.event,
      own.compensation.confirmedBy,
      own.compensation.failedBy,
      steps[index + 1].failure.event,
      ...others,
      steps[steps.length - 1].success.event,
    ]),
  ];
}

/**
 * A step's part as the runtime registers it: the machine, the topics of what it consumes and
 * sends (from the message catalog), and the event that starts an instance (the success of
 * the step before).
 *
 * @example
 * export const pagosReservaSaga = stepPartSaga({ id: 'pagosReserva', service: 'pagos', steps: reservaSteps.steps, step: 1, … }, { type: 'pagos-reserva', serviceName: 'pagos.aeroalpes', messages: AEROALPES_MESSAGES });
 */
export function stepPartSaga(declaration: StepPartDeclaration, options: { type: string; version?: number; serviceName: string; messages: MessageCatalog }) {
  const own = declaration.steps[declaration.step];
  return {
    type: options.type,
    version: options.version ?? 1,
    machine: stepPartMachine(declaration),
    serviceName: options.serviceName,
    consumes: options.messages.topicsOf(partEvents(declaration)),
    commands: options.messages.topicsOf([own.command.type, own.compensation.command.type, 'ReparacionManualRequerida']),
    startedBy: { [declaration.steps[declaration.step - 1].success.event]: partStart },
  };
}

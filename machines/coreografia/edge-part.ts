import type { AnyStateMachine } from 'xstate';
import type { MessageCatalog } from '../messages.ts';
import type { SagaStep } from '../steps.ts';
import { contextoInicial, partSetup, reintentar, registrarFallo, reparacionManual, type ParticipanteContext, type ParticipanteInput, type ParticipanteSettings } from './shared.ts';

type PartParams<C> = (args: { context: C; event: { type: string; data: Record<string, unknown> } }) => object;

export interface EdgePartDeclaration<C extends ParticipanteContext, I extends ParticipanteInput, D = never> {
  /** The machine id (`vuelosReserva`). */
  id: string;
  /** The participant's name, as `ReparacionManualRequerida` tells the tracker. */
  service: string;
  /** The saga's steps in order; this part runs the first and the last, which share one compensation. */
  steps: readonly SagaStep<never>[];
  /** The request that starts the saga, and the part's input from it. */
  start: { event: string; input: (data: D, settings: ParticipanteSettings) => I };
  /** The part's own context from its input (deadlines, attempts and reasons are added). */
  context: (input: I) => Omit<C, keyof ParticipanteContext>;
  /** Its command builders: the first step's, the last step's and the shared compensation's. */
  params: { first: PartParams<C>; last: PartParams<C>; compensation: PartParams<C> };
  /**
   * State names: waiting for the first answer, waiting for each middle step's success (by
   * the step's `state`; default `esperando_<state>`), waiting for the last answer, waiting
   * for the middle steps to be undone, undoing its own step, and the ends.
   */
  states: {
    first: string;
    waiting?: Readonly<Record<string, string>>;
    last: string;
    awaitingUndo: string;
    undoing: string;
    ends: { completed: string; failed: string; undone: string };
  };
  /** How the reason reads when the second step's compensation is confirmed (`PagoRevertido` → `pago revertido`). */
  undoneAs: string;
}

/**
 * The part of the participant that opens and closes the choreographed saga (vuelos: it
 * creates the reservation and approves it), wired from the saga's steps:
 *
 * - the request starts it and sends the first step's command; that step's failure ends it;
 * - it waits through the middle steps, one state each, and sends the last step's command when
 *   the step before the last succeeds. Events of other topics may overtake its own answers:
 *   a later step's success moves it on as if the earlier ones had come;
 * - it undoes its step (the compensation the first and last step share) last of all: when
 *   the second step fails, when the second step's compensation is confirmed (the others were
 *   undone before it, newest first), or when its first answer does not come in time. When the
 *   last step fails it waits for the middle steps to be undone first.
 *
 * @example
 * export const vuelosReservaSaga = edgePartSaga({ id: 'vuelosReserva', service: 'vuelos', steps: reservaSteps.steps, … }, { type: 'vuelos-reserva', … });
 */
export function edgePartMachine<C extends ParticipanteContext, I extends ParticipanteInput, D>(declaration: EdgePartDeclaration<C, I, D>): AnyStateMachine {
  const { steps, states: names } = declaration;
  if (steps.length < 3) throw new Error(`${declaration.id}: an edge part needs a first, a last and at least one middle step (${steps.length} steps)`);
  const first = steps[0];
  const last = steps[steps.length - 1];
  const second = steps[1];
  if (first.compensation.state !== last.compensation.state) throw new Error(`${declaration.id}: the first and the last step must share their compensation`);
  const middle = steps.slice(1, -1);
  const waiting = (step: SagaStep<never>) => names.waiting?.[step.state] ?? `esperando_${step.state}`;
  const undo = (motivo?: string) => ({ target: names.undoing, actions: { type: 'registrarMotivo', params: motivo ? { motivo } : {} } });
  const approve = { target: names.last, actions: { type: last.command.type, params: declaration.params.last } };
  /** From waiting for middle step `from` on: each later middle success moves on; the one before the last sends the last command. */
  const successesFrom = (from: number) =>
    Object.fromEntries(middle.slice(from).map((step, i) => [step.success.event, from + i === middle.length - 1 ? approve : waiting(middle[from + i + 1])]));
  const secondUndone = { [second.compensation.confirmedBy]: undo(declaration.undoneAs) };

  const states: Record<string, object> = {
    inicio: { on: { [declaration.start.event]: { target: names.first, actions: { type: first.command.type, params: declaration.params.first } } } },
    [names.first]: {
      on: {
        [first.success.event]: waiting(middle[0]),
        [first.failure.event]: { target: names.ends.failed, actions: { type: 'registrarMotivo', params: {} } },
        ...successesFrom(0),
        [second.failure.event]: undo(),
        ...secondUndone,
      },
      after: { plazoPaso: undo(`plazo vencido: ${first.command.type}`) },
    },
  };
  middle.forEach((step, i) => {
    states[waiting(step)] = { on: { ...successesFrom(i), ...(i === 0 ? { [second.failure.event]: undo() } : {}), ...secondUndone } };
  });
  states[names.last] = {
    on: {
      [last.success.event]: names.ends.completed,
      [last.failure.event]: { target: names.awaitingUndo, actions: { type: 'registrarMotivo', params: {} } },
      // The second step gave up (its deadline) while the last was under way: undo rather than finish.
      ...secondUndone,
    },
  };
  states[names.awaitingUndo] = { on: { [second.compensation.confirmedBy]: names.undoing } };
  states[names.undoing] = {
    entry: ['contarIntento', { type: first.compensation.command.type, params: declaration.params.compensation }],
    on: { [first.compensation.confirmedBy]: names.ends.undone, [first.compensation.failedBy]: registrarFallo },
    after: { plazoCompensacion: reintentar(names.undoing, first.compensation.command.type) },
  };
  states[names.ends.completed] = { type: 'final', tags: ['completed'] };
  states[names.ends.failed] = { type: 'final', tags: ['compensated'] };
  states[names.ends.undone] = { type: 'final', tags: ['compensated'] };
  states.reparacionManual = reparacionManual(first.compensation.confirmedBy as never, names.ends.undone, declaration.service);

  return partSetup([first.command.type, last.command.type, first.compensation.command.type]).createMachine({
    id: declaration.id,
    context: ({ input }: { input: I }) => ({ ...contextoInicial(input), ...declaration.context(input) }),
    initial: 'inicio',
    states,
  } as never) as unknown as AnyStateMachine;
}

/**
 * The edge part as the runtime registers it: the machine, the topics of what it consumes and
 * sends (from the message catalog), and the request that starts an instance.
 */
export function edgePartSaga<C extends ParticipanteContext, I extends ParticipanteInput, D>(
  declaration: EdgePartDeclaration<C, I, D>,
  options: { type: string; version?: number; serviceName: string; messages: MessageCatalog; customerOf?: (context: C) => string | undefined },
) {
  const { steps } = declaration;
  const first = steps[0];
  const last = steps[steps.length - 1];
  const events = [
    declaration.start.event,
    first.success.event,
    first.failure.event,
    ...steps.slice(1, -1).map((s) => s.success.event),
    steps[1].failure.event,
    steps[1].compensation.confirmedBy,
    last.success.event,
    last.failure.event,
    first.compensation.confirmedBy,
    first.compensation.failedBy,
  ];
  return {
    ...(options.customerOf ? { customerOf: options.customerOf } : {}),
    type: options.type,
    version: options.version ?? 1,
    machine: edgePartMachine(declaration),
    serviceName: options.serviceName,
    consumes: options.messages.topicsOf(new Set(events)),
    commands: options.messages.topicsOf([first.command.type, last.command.type, first.compensation.command.type, 'ReparacionManualRequerida']),
    startedBy: { [declaration.start.event]: declaration.start.input } as Record<string, (data: D, settings: ParticipanteSettings) => I>,
  };
}

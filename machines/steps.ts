import { assign, setup, type AnyEventObject, type AnyStateMachine } from 'xstate';
import type { MessageCatalog } from './messages.ts';
import { esperaCompensacion, intentosEnHorizonte, motivoDe, plazosDe, ultimoFalloDe, type Plazos } from './compensacion.ts';

/** What a command's `params` builder sees: the saga's context and the event that led to the step. */
export interface StepArgs<TContext> {
  context: TContext;
  event: AnyEventObject & { data?: Record<string, unknown> };
}

/** A command of a step: its type (a key of `Commands`) and how it is built. */
export interface StepCommand<TContext> {
  type: string;
  params: (args: StepArgs<TContext>) => object;
}

/**
 * One step of a saga: the command it sends when the saga gets there, the event that says it
 * was done (and what of it to keep), the event that says it failed, and how to undo it.
 */
export interface SagaStep<TContext> {
  /** The state in which the saga waits for the step's answer (`pagando`). */
  state: string;
  command: StepCommand<TContext>;
  success: { event: string; keep?: { [K in keyof TContext]?: (args: StepArgs<TContext>) => TContext[K] } };
  failure: { event: string };
  /**
   * The compensation: the state that waits for its confirmation, its command, the event that
   * confirms it and the one that says it failed. Two steps may share one (the same `state`):
   * it then runs once, at the older step's place.
   */
  compensation: { state: string; command: StepCommand<TContext>; confirmedBy: string; failedBy: string };
}

/** The context every step saga keeps besides its own: deadlines, attempts, why it left the happy path. */
export interface StepSagaContext {
  plazos: Plazos;
  maxReintentos: number;
  motivo?: string;
  intentos: Record<string, number>;
  compensando?: string;
  ultimoFallo?: string;
  pendiente?: string;
  /** How a person settled the saga (`MarcarResuelta`). */
  resolucion?: string;
}

/** What every step saga's input may carry: deadlines and the attempts of a compensation. */
export interface StepSagaInput {
  plazos?: Partial<Plazos>;
  maxReintentos?: number;
}

export interface StepSagaDeclaration<TContext, TInput extends StepSagaInput> {
  /** The machine id (the saga type's name is the definition's). */
  id: string;
  /** The saga's own context from its input (deadlines, attempts and reasons are added). */
  context: (input: TInput) => Omit<TContext, keyof StepSagaContext>;
  /** In order. */
  steps: readonly SagaStep<TContext & StepSagaContext>[];
  /** Names of the end states: every step done; every done step undone; a compensation that kept failing. */
  ends: { completed: string; compensated: string; manualRepair: string; resolved?: string };
  /**
   * What an operator's retry (`ReintentarCompensacion`) may change in the context from its
   * data before the compensation is sent again (e.g. lift a simulated failure).
   */
  retryWith?: (args: { context: TContext & StepSagaContext; data: Record<string, unknown> }) => Partial<TContext>;
}

/**
 * The operator events a step saga accepts in manual repair (`SagaRuntime.repair`,
 * `POST /sagas/:id/repair`), with what each does.
 */
export const STEP_SAGA_REPAIRS = {
  ReintentarCompensacion: 'send the compensation that gave up again, with its attempts counted anew (data: what the saga declares in retryWith)',
  MarcarResuelta: 'end the saga as settled by hand, with a note (data: { nota })',
} as const;

/**
 * The compensations in the order they run when every step is done: newest first, one that
 * two steps share (the same `state`) once, at the older step's place.
 *
 * @example
 * compensationChain(reservaSteps.steps).map((c) => c.command.type); // ['RevertirConfirmacion', 'RevertirPago', 'CancelarReserva']
 */
export function compensationChain<T extends Pick<SagaStep<never>, 'compensation'>>(steps: readonly T[]): T['compensation'][] {
  const newestFirst = [...steps].reverse().map((s) => s.compensation);
  const states = newestFirst.map((c) => c.state);
  return newestFirst.filter((c, i) => states.lastIndexOf(c.state) === i);
}

/**
 * Builds an XState machine from a saga declared as its steps, so that what the saga does
 * on every path follows from the declaration:
 *
 * - the saga enters step 1 and sends its command; a step's success event keeps what it says
 *   (`keep`) and moves to the next step, whose command is sent on entry; the last one's ends it
 *   `completed`;
 * - a step's failure event undoes the steps before it, newest first; its deadline
 *   (`plazos.paso`) undoes it too, since its participant may still have done it late. Each
 *   compensation waits for its confirmation before the next one is sent. A compensation shared
 *   by two steps runs once, at the older step's place;
 * - a compensation that fails or is not confirmed in time is sent again when its wait runs
 *   out (doubling from `plazos.compensacion`, `maxReintentos` attempts in all, by default as
 *   many as fit `plazos.horizonte`), then the saga stops in manual repair (tagged `failed`),
 *   where its late confirmation still resumes it.
 *
 * The result is an ordinary machine: the runtime, `xstate/graph`, `npm run viz`, `/ui` and the
 * inspector take it as they take a hand-written one.
 *
 * @example
 * const machine = stepSagaMachine<MyContext, MyInput>({
 *   id: 'pedido',
 *   context: (input) => ({ id_correlacion: input.id_correlacion }),
 *   steps: [
 *     { state: 'reservando', command: { type: 'ReservarStock', params: ({ context }) => ({ id_correlacion: context.id_correlacion }) },
 *       success: { event: 'StockReservado' }, failure: { event: 'StockAgotado' },
 *       compensation: { state: 'liberando', command: { type: 'LiberarStock', params: … }, confirmedBy: 'StockLiberado', failedBy: 'LiberacionFallida' } },
 *     …
 *   ],
 *   ends: { completed: 'completado', compensated: 'compensado', manualRepair: 'reparacionManual' },
 * });
 */
export function stepSagaMachine<TContext, TInput extends StepSagaInput>(declaration: StepSagaDeclaration<TContext, TInput>): AnyStateMachine {
  const { steps, ends } = declaration;
  if (steps.length === 0) throw new Error(`saga ${declaration.id}: declare at least one step`);
  // Undoing steps 1..k runs the tail of the chain.
  const chain = compensationChain(steps);
  const oldestStep = new Map(chain.map((c) => [c.state, steps.findIndex((s) => s.compensation.state === c.state)]));
  /** Where undoing steps 0..last (inclusive) starts: the first compensation of the chain whose oldest step is done. */
  const undoFrom = (last: number) => chain.find((c) => oldestStep.get(c.state)! <= last)?.state ?? ends.compensated;
  const after = (state: string) => {
    const i = chain.findIndex((c) => c.state === state);
    return chain[i + 1]?.state ?? ends.compensated;
  };

  const commands = new Set([...steps.map((s) => s.command.type), ...chain.map((c) => c.command.type)]);
  const noop = () => {};
  const machineSetup = setup({
    actions: {
      ...Object.fromEntries([...commands].map((type) => [type, noop])),
      registrarMotivo: assign({ motivo: ({ event }: { event: AnyEventObject }, params: { motivo?: string }) => motivoDe(event, params) }),
      contarIntento: assign({
        intentos: ({ context }: { context: StepSagaContext }, params: { paso: string }) => ({ ...context.intentos, [params.paso]: (context.intentos[params.paso] ?? 1) + 1 }),
      }),
      compensar: assign({ compensando: (_: unknown, params: { paso: string }) => params.paso }),
      registrarFallo: assign({ ultimoFallo: ultimoFalloDe }),
      quedaPendiente: assign({ pendiente: (_: unknown, params: { paso: string }) => params.paso }),
      // An operator's retry: the attempts start over, and the context takes what the declaration lets it.
      reintentarPorOperador: assign(({ context, event }: { context: StepSagaContext & Record<string, unknown>; event: AnyEventObject }) => ({
        ...(declaration.retryWith?.({ context: context as never, data: (event.data ?? {}) as Record<string, unknown> }) ?? {}),
        intentos: { ...context.intentos, [context.pendiente!]: 1 },
        pendiente: undefined,
      })),
      registrarResolucion: assign({ resolucion: ({ event }: { event: AnyEventObject }) => String((event.data as { nota?: unknown } | undefined)?.nota ?? 'resuelta a mano') }),
    } as never,
    guards: {
      quedanIntentos: ({ context }: { context: StepSagaContext }, params: { paso: string }) => (context.intentos[params.paso] ?? 1) < context.maxReintentos,
      pendiente: ({ context }: { context: StepSagaContext }, params: { paso: string }) => context.pendiente === params.paso,
    } as never,
    delays: {
      plazoPaso: ({ context }: { context: StepSagaContext }) => context.plazos.paso,
      // Doubling waits: an unconfirmed compensation is sent again later each time.
      plazoCompensacion: ({ context }: { context: StepSagaContext }) => esperaCompensacion(context.plazos, context.compensando ? (context.intentos[context.compensando] ?? 1) : 1),
    } as never,
  });

  const states: Record<string, object> = {};
  steps.forEach((step, i) => {
    const next = steps[i + 1];
    const keep = step.success.keep ? [assign(Object.fromEntries(Object.entries(step.success.keep).map(([key, build]) => [key, build as never])) as never)] : [];
    states[step.state] = {
      entry: { type: step.command.type, params: step.command.params },
      on: {
        [step.success.event]: { target: next ? next.state : ends.completed, ...(keep.length ? { actions: keep } : {}) },
        [step.failure.event]: { target: undoFrom(i - 1), actions: { type: 'registrarMotivo', params: {} } },
      },
      after: { plazoPaso: { target: undoFrom(i), actions: { type: 'registrarMotivo', params: { motivo: `plazo vencido: ${step.command.type}` } } } },
    };
  });
  for (const compensation of chain) {
    const paso = compensation.state;
    states[paso] = {
      entry: [
        { type: 'compensar', params: { paso } },
        { type: compensation.command.type, params: compensation.command.params },
      ],
      on: {
        [compensation.confirmedBy]: { target: after(paso) },
        // Sent again when its wait runs out, not at once: a failing participant is not flooded.
        [compensation.failedBy]: { actions: 'registrarFallo' },
      },
      after: {
        plazoCompensacion: [
          { guard: { type: 'quedanIntentos', params: { paso } }, target: paso, reenter: true, actions: { type: 'contarIntento', params: { paso } } },
          {
            target: ends.manualRepair,
            actions: [
              { type: 'registrarMotivo', params: { motivo: `compensación agotada: ${paso}` } },
              { type: 'quedaPendiente', params: { paso } },
            ],
          },
        ],
      },
    };
  }
  states[ends.completed] = { type: 'final', tags: ['completed'] };
  states[ends.compensated] = { type: 'final', tags: ['compensated'] };
  // Not final: a person repairs it, or the confirmation that comes late resumes the compensation.
  const resolved = ends.resolved ?? 'resueltaManualmente';
  states[ends.manualRepair] = {
    tags: ['failed'],
    on: {
      ...Object.fromEntries(chain.map((c) => [c.confirmedBy, { guard: { type: 'pendiente', params: { paso: c.state } }, target: after(c.state) }])),
      // Operator events (STEP_SAGA_REPAIRS): send the compensation that gave up again, or settle the saga by hand.
      ReintentarCompensacion: chain.map((c) => ({ guard: { type: 'pendiente', params: { paso: c.state } }, target: c.state, actions: 'reintentarPorOperador' })),
      MarcarResuelta: { target: resolved, actions: 'registrarResolucion' },
    },
  };
  // Settled by a person: nothing more is sent; the note says how.
  states[resolved] = { type: 'final', tags: ['compensated'] };

  return machineSetup.createMachine({
    id: declaration.id,
    context: ({ input }: { input: TInput }) => {
      const plazos = plazosDe(input.plazos);
      return { ...declaration.context(input), plazos, maxReintentos: input.maxReintentos ?? intentosEnHorizonte(plazos), intentos: {} };
    },
    initial: steps[0].state,
    states,
  } as never) as unknown as AnyStateMachine;
}

/** The events a step saga consumes: every step's answers and every compensation's. */
export function stepEvents(steps: readonly SagaStep<never>[]): string[] {
  return [...new Set(steps.flatMap((s) => [s.success.event, s.failure.event, s.compensation.confirmedBy, s.compensation.failedBy]))];
}

/** The commands a step saga sends: every step's and every compensation's. */
export function stepCommands(steps: readonly SagaStep<never>[]): string[] {
  return [...new Set(steps.flatMap((s) => [s.command.type, s.compensation.command.type]))];
}

/**
 * The saga as the runtime registers it (`runtime/registry.ts`): the machine built from the
 * steps, and the topics of what it consumes and sends, from the message catalog, so a new
 * step's events and commands are routed without another list to keep.
 *
 * @example
 * export const reservaSaga = stepSaga(reservaSteps, { type: 'reserva', version: 1, serviceName: 'sagas.aeroalpes', messages: AEROALPES_MESSAGES });
 */
export function stepSaga<TContext, TInput extends StepSagaInput>(
  declaration: StepSagaDeclaration<TContext, TInput>,
  options: { type: string; version: number; serviceName: string; messages: MessageCatalog; customerOf?: (context: TContext) => string | undefined },
) {
  const steps = declaration.steps as readonly SagaStep<never>[];
  return {
    ...(options.customerOf ? { customerOf: options.customerOf } : {}),
    type: options.type,
    version: options.version,
    machine: stepSagaMachine(declaration),
    serviceName: options.serviceName,
    consumes: options.messages.topicsOf(stepEvents(steps)),
    commands: options.messages.topicsOf(stepCommands(steps)),
    repairs: STEP_SAGA_REPAIRS,
  };
}

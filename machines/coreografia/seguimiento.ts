import { assign, setup } from 'xstate';
import { AEROALPES_MESSAGES, type EventType, type MessageCatalog } from '../messages.ts';
import { reservaSteps } from '../reserva.ts';
import { compensationChain, stepEvents, type SagaStep } from '../steps.ts';
import type { Evento } from './shared.ts';

export interface SeguimientoContext {
  id_correlacion: string;
  id_reserva: string;
  /** The domain events seen, in the order the tracker saw them. */
  pasos: EventType[];
  motivo?: string;
}

/**
 * The read model of a choreographed saga, which no single process holds: it follows one
 * reservation's domain events on the event topics and tells where the saga stands
 * (`enCurso`, `compensando`, then `completada` or `compensada`, or `reparacionManual` when a
 * participant gave up a compensation). It sends nothing.
 */
export function trackerMachine(steps: readonly SagaStep<never>[]) {
  // Where the saga stands, from its steps: the last step's success completes it; the first
  // step's failure ends it with nothing to undo; a later step's failure, or a compensation
  // confirmed before the last of the chain, means it is being undone; the chain's last
  // confirmation ends it compensated.
  const chain = compensationChain(steps);
  const COMPLETADA = steps[steps.length - 1].success.event as EventType;
  const NADA_QUE_DESHACER = steps[0].failure.event as EventType;
  const DESHECHA = chain[chain.length - 1].confirmedBy as EventType;
  const FALLOS = [...steps.slice(1).map((s) => s.failure.event), ...chain.slice(0, -1).map((c) => c.confirmedBy)] as EventType[];
  return setup({
    types: { context: {} as SeguimientoContext, input: {} as { id_correlacion: string; id_reserva: string }, events: {} as Evento },
    actions: {
      registrarPaso: assign({ pasos: ({ context, event }) => [...context.pasos, event.type] }),
      registrarMotivo: assign({ motivo: ({ context, event }) => context.motivo ?? ('motivo' in event.data ? String(event.data.motivo) : event.type) }),
    },
  }).createMachine({
    id: 'seguimientoReserva',
    context: ({ input }) => ({ id_correlacion: input.id_correlacion, id_reserva: input.id_reserva, pasos: [] }),
    initial: 'enCurso',
    on: { '*': { actions: 'registrarPaso' } },
    states: {
      enCurso: {
        on: {
          [COMPLETADA]: { target: 'completada', actions: 'registrarPaso' },
          [NADA_QUE_DESHACER]: { target: 'compensada', actions: ['registrarPaso', 'registrarMotivo'] },
          [DESHECHA]: { target: 'compensada', actions: ['registrarPaso', 'registrarMotivo'] },
          ...Object.fromEntries(FALLOS.map((f) => [f, { target: 'compensando', actions: ['registrarPaso', 'registrarMotivo'] }])),
          ReparacionManualRequerida: { target: 'reparacionManual', actions: ['registrarPaso', 'registrarMotivo'] },
        },
      },
      compensando: {
        on: {
          [DESHECHA]: { target: 'compensada', actions: 'registrarPaso' },
          ReparacionManualRequerida: { target: 'reparacionManual', actions: ['registrarPaso', 'registrarMotivo'] },
        },
      },
      // A participant gave up a compensation: a person must repair it. Not final: once the late
      // confirmation lets vuelos cancel, the saga ends compensated.
      reparacionManual: {
        tags: ['failed'],
        on: { [DESHECHA]: { target: 'compensada', actions: 'registrarPaso' } },
      },
      completada: { type: 'final', tags: ['completed'] },
      compensada: { type: 'final', tags: ['compensated'] },
    },
  });
}

/**
 * The tracker as the runtime registers it: it consumes every event of the steps and
 * `ReparacionManualRequerida`; the first one of a reservation starts it.
 */
export function trackerSaga(steps: readonly SagaStep<never>[], options: { type: string; version?: number; serviceName: string; messages: MessageCatalog }) {
  const events = [...stepEvents(steps), 'ReparacionManualRequerida'];
  const start = (data: { id_correlacion: string; id_reserva: string }) => ({ id_correlacion: data.id_correlacion, id_reserva: data.id_reserva });
  return {
    type: options.type,
    version: options.version ?? 1,
    machine: trackerMachine(steps),
    serviceName: options.serviceName,
    consumes: options.messages.topicsOf(events),
    commands: {},
    startedBy: Object.fromEntries(events.map((t) => [t, start])),
  };
}

/** The AeroAlpes tracker (`reserva-coreografia`), from the orchestrated saga's steps. */
export const seguimientoSaga = trackerSaga(reservaSteps.steps as never, { type: 'reserva-coreografia', serviceName: 'sagas.aeroalpes', messages: AEROALPES_MESSAGES });
export const seguimientoMachine = seguimientoSaga.machine;

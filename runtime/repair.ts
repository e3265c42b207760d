import { transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { encodeStateValue, resolveEffects, statusOf } from './effects.ts';
import { RepairNotAcceptedError } from './errors.ts';
import type { SagaInstanceRecord, SagaStatus } from './ports.ts';
import type { SagaDefinition } from './registry.ts';

/** An operator's event: a type the definition declares in `repairs`, and its data. */
export interface RepairEvent {
  type: string;
  data?: Record<string, unknown>;
}

/** What a repair would do, computed with XState's pure `transition()`; nothing is written. */
export interface RepairPreview {
  sagaType: string;
  id: string;
  event: RepairEvent;
  from: { state: string; status: SagaStatus };
  to: { state: string; status: SagaStatus };
  commands: { type: string; topic: string; data: unknown }[];
  /** Deadlines it would set, with their delay from when the command that arms them is published (or from the commit). */
  deadlines: { timerId: string; delayMs: number; event: string }[];
  /** Deadlines it would cancel. */
  cancelled: string[];
}

function current(definition: SagaDefinition, record: SagaInstanceRecord): AnyMachineSnapshot {
  const machine = definition.machine as AnyStateMachine;
  return machine.resolveState(record.snapshot as Parameters<AnyStateMachine['resolveState']>[0]);
}

/** The repair events the saga accepts now: those its definition declares that its state has a transition for. */
export function acceptedRepairs(definition: SagaDefinition, record: SagaInstanceRecord): string[] {
  const snapshot = current(definition, record);
  return Object.keys(definition.repairs ?? {}).filter((type) => snapshot.can({ type } as never));
}

/**
 * What `event` would do to the saga: its next state and status, the commands it would send
 * (with their topics), the deadlines it would set and cancel.
 *
 * @throws RepairNotAcceptedError when the definition does not declare the event or the current state does not accept it
 * @example
 * previewRepair(reservaSaga, record, { type: 'ReintentarCompensacion' }); // { to: { state: 'revirtiendoPago', … }, commands: [{ type: 'RevertirPago', … }], … }
 */
export function previewRepair(definition: SagaDefinition, record: SagaInstanceRecord, event: RepairEvent): RepairPreview {
  const accepted = acceptedRepairs(definition, record);
  if (!(event.type in (definition.repairs ?? {}))) {
    throw new RepairNotAcceptedError(`${record.sagaType} v${record.version} declares no repair "${event.type}"`, accepted);
  }
  if (!accepted.includes(event.type)) throw new RepairNotAcceptedError(`${event.type} is not accepted in state ${record.stateValue} (${record.status})`, accepted);
  const [next, actions] = transition(definition.machine as AnyStateMachine, current(definition, record), event as never);
  const effects = resolveEffects(definition, actions);
  return {
    sagaType: record.sagaType,
    id: record.id,
    event,
    from: { state: record.stateValue, status: record.status },
    to: { state: encodeStateValue(next.value), status: statusOf(next) },
    commands: effects.flatMap((e) => (e.kind === 'command' ? [{ type: e.type, topic: e.topic, data: e.data }] : [])),
    deadlines: effects.flatMap((e) => (e.kind === 'schedule' ? [{ timerId: e.timerId, delayMs: e.delay, event: e.event.type }] : [])),
    cancelled: effects.flatMap((e) => (e.kind === 'cancel' ? [e.timerId] : [])),
  };
}

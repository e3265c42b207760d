import type { AnyMachineSnapshot } from 'xstate';
import { TransitionError } from './errors.ts';
import type { SagaDefinition } from './registry.ts';
import type { SagaStatus } from './ports.ts';

type CommandData = Record<string, unknown> & { id_correlacion: string };

/** What a transition asks the runtime to do, in the order XState listed it. */
export type Effect =
  | { kind: 'command'; type: string; topic: string; data: CommandData }
  | { kind: 'schedule'; timerId: string; delay: number; event: { type: string } }
  | { kind: 'cancel'; timerId: string };

interface ActionLike {
  type: string;
  params?: unknown;
}

/**
 * Turns the executable actions returned by XState's pure `transition()` into effects.
 * Commands are the definition's named actions; delayed raises (`after`) become durable
 * deadlines; cancels remove them. Anything else has no implementation in the runtime and
 * is refused, so a machine cannot silently lose an effect.
 */
export function resolveEffects(definition: SagaDefinition, actions: readonly ActionLike[]): Effect[] {
  const effects: Effect[] = [];
  for (const action of actions) {
    const params = (action.params ?? {}) as Record<string, unknown>;
    if (action.type in definition.commands) {
      effects.push({
        kind: 'command',
        type: action.type,
        topic: definition.commands[action.type],
        data: params as CommandData,
      });
    } else if (action.type === 'xstate.raise' && typeof params.delay === 'number') {
      effects.push({
        kind: 'schedule',
        timerId: String(params.id),
        delay: params.delay,
        event: params.event as { type: string },
      });
    } else if (action.type === 'xstate.cancel') {
      effects.push({ kind: 'cancel', timerId: String(params.sendId) });
    } else {
      throw new TransitionError(
        `${definition.type} v${definition.version}: action "${action.type}" has no runtime implementation`,
      );
    }
  }
  return effects;
}

/** The saga status of a snapshot, from the tags of its final states. */
export function statusOf(snapshot: AnyMachineSnapshot): SagaStatus {
  if (snapshot.hasTag('failed')) return 'failed';
  if (snapshot.status !== 'done') return 'running';
  return snapshot.hasTag('compensated') ? 'compensated' : 'completed';
}

/** A state value as one string: `pagando`, or JSON for nested and parallel states. */
export function encodeStateValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

import { expect } from 'chai';
import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';

type Action = { type: string; params?: unknown };

/** What a step shows from outside: state, context, tags, and the actions with their data (assignments show in the context). */
function observe(snapshot: AnyMachineSnapshot, actions: readonly Action[]): string {
  const visible = actions.filter((a) => !a.type.startsWith('xstate.assign')).map((a) => ({ type: a.type, params: a.params }));
  return JSON.stringify({ value: snapshot.value, context: snapshot.context, status: snapshot.status, tags: [...snapshot.tags].sort(), actions: visible });
}

/**
 * Checks that `built` behaves like `oracle` from `input`: every event of `events` in every
 * state reachable from the start leads both to the same state, context, status, tags and
 * actions (with their data), up to `maxDepth` events from the start. Returns how many states
 * were explored.
 *
 * @example
 * const states = expectSameBehaviour(handWritten, built, input, events);
 */
export function expectSameBehaviour(oracle: AnyStateMachine, built: AnyStateMachine, input: unknown, events: readonly { type: string; data?: unknown }[], maxDepth = Infinity): number {
  const [a0, aActions] = initialTransition(oracle, input as never);
  const [b0, bActions] = initialTransition(built, input as never);
  expect(observe(b0, bActions as Action[]), 'start').to.equal(observe(a0, aActions as Action[]));
  expect(Object.keys(built.root.states).sort(), 'the same states').to.deep.equal(Object.keys(oracle.root.states).sort());
  // A context that grows with every event (a history) has no end: `maxDepth` bounds the events per path.
  const queue: [AnyMachineSnapshot, AnyMachineSnapshot, string, number][] = [[a0, b0, 'start', 0]];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const [a, b, path, depth] = queue.shift()!;
    const key = JSON.stringify({ value: a.value, context: a.context });
    if (seen.has(key) || a.status !== 'active' || depth >= maxDepth) continue;
    seen.add(key);
    for (const event of events) {
      const [aNext, aOut] = transition(oracle, a, event as never) as [AnyMachineSnapshot, Action[]];
      const [bNext, bOut] = transition(built, b, event as never) as [AnyMachineSnapshot, Action[]];
      const where = `${path} → ${event.type}`;
      expect(observe(bNext, bOut), where).to.equal(observe(aNext, aOut));
      if (JSON.stringify(aNext.value) !== JSON.stringify(a.value) || JSON.stringify(aNext.context) !== JSON.stringify(a.context)) queue.push([aNext, bNext, where, depth + 1]);
    }
  }
  return seen.size;
}

/** Every event a machine can be sent: the message types given, with data, and each state's deadlines. */
export function eventsOf(machine: AnyStateMachine, messages: readonly string[], data: (type: string) => unknown): { type: string; data?: unknown }[] {
  const events: { type: string; data?: unknown }[] = messages.map((type) => ({ type, data: data(type) }));
  for (const state of Object.keys(machine.root.states)) for (const delay of ['plazoPaso', 'plazoCompensacion']) events.push({ type: `xstate.after.${delay}.${machine.id}.${state}` });
  return events;
}

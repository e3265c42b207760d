import { expect } from 'chai';
import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { reservaMachine, reservaSaga } from '../machines/reserva.ts';
import { handWrittenReservaMachine } from './support/model/hand-written-reserva.ts';
import { ORCHESTRATED_INPUTS } from './support/model/definitions.ts';
import { sampleData } from './support/model/messages.ts';

/**
 * The saga declared as its steps (`machines/steps.ts`, `reservaSteps`) against the
 * hand-written statechart it replaces: from the same input, every event in every reachable
 * state must lead both to the same state, context, status and the same actions (commands with
 * their data, deadlines scheduled and cancelled), all the way down.
 */

const ids = { id_correlacion: 'saga-1', id_reserva: 'R-1' };

type Action = { type: string; params?: unknown };

/** What a step shows from outside: state, context, tags, and the actions with their data (assignments show in the context). */
function observe(snapshot: AnyMachineSnapshot, actions: readonly Action[]): string {
  const visible = actions.filter((a) => !a.type.startsWith('xstate.assign')).map((a) => ({ type: a.type, params: a.params }));
  return JSON.stringify({ value: snapshot.value, context: snapshot.context, status: snapshot.status, tags: [...snapshot.tags].sort(), actions: visible });
}

/** Every event the machine can be sent: the messages the saga consumes, and each state's deadlines. */
function alphabet(machine: AnyStateMachine): { type: string; data?: unknown }[] {
  const events: { type: string; data?: unknown }[] = Object.keys(reservaSaga.consumes).map((type) => ({ type, data: sampleData(type, ids) }));
  for (const state of Object.keys(machine.root.states)) for (const delay of ['plazoPaso', 'plazoCompensacion']) events.push({ type: `xstate.after.${delay}.${machine.id}.${state}` });
  return events;
}

describe('a saga declared as its steps (machines/steps.ts)', () => {
  it('should behave like the hand-written reservation statechart in every reachable state, for every event', () => {
    const input = ORCHESTRATED_INPUTS.reserva(ids);
    const [a0, aActions] = initialTransition(handWrittenReservaMachine, input as never);
    const [b0, bActions] = initialTransition(reservaMachine, input as never);
    expect(observe(b0, bActions as Action[]), 'start').to.equal(observe(a0, aActions as Action[]));
    expect(Object.keys(reservaMachine.root.states).sort(), 'the same states').to.deep.equal(Object.keys(handWrittenReservaMachine.root.states).sort());

    const events = alphabet(handWrittenReservaMachine as AnyStateMachine);
    const queue: [AnyMachineSnapshot, AnyMachineSnapshot, string][] = [[a0, b0, 'start']];
    const seen = new Set<string>();
    let compared = 0;
    while (queue.length > 0) {
      const [a, b, path] = queue.shift()!;
      const key = JSON.stringify({ value: a.value, context: a.context });
      if (seen.has(key) || a.status !== 'active') continue;
      seen.add(key);
      for (const event of events) {
        const [aNext, aOut] = transition(handWrittenReservaMachine, a as never, event as never) as [AnyMachineSnapshot, Action[]];
        const [bNext, bOut] = transition(reservaMachine, b, event as never) as [AnyMachineSnapshot, Action[]];
        const where = `${path} → ${event.type}`;
        expect(observe(bNext, bOut), where).to.equal(observe(aNext, aOut));
        compared++;
        if (JSON.stringify(aNext.value) !== JSON.stringify(a.value) || JSON.stringify(aNext.context) !== JSON.stringify(a.context)) queue.push([aNext, bNext, where]);
      }
    }
    expect(seen.size, 'states explored').to.be.greaterThan(10);
    expect(compared).to.be.greaterThan(100);
  });
});

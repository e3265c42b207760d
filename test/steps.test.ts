import { expect } from 'chai';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import { getSimplePaths } from 'xstate/graph';
import { stepSagaMachine } from '../machines/steps.ts';
import { HOTEL_STEPS } from './support/hotel.ts';
import { RESERVA_STEPS, refereeOrchestration } from './support/model/referee.ts';
import { ORCHESTRATED_INPUTS } from './support/model/definitions.ts';

/**
 * A fifth step added to the saga's declaration: the built statechart, on every simple path
 * `xstate/graph` finds, sends the commands and ends as the referee's five steps call for. The
 * referee (test/support/model/referee.ts) knows only the steps, written out apart from the
 * declaration. (When the sagas were first declared as their steps, each built machine was
 * compared with the hand-written statechart it replaced, in every reachable state for every
 * event, and matched; those copies were then removed, so each statechart is described once.)
 */

const ids = { id_correlacion: 'saga-1', id_reserva: 'R-1' };

type Action = { type: string; params?: unknown };

/** The reservation saga with the hotel step inserted after GDS (test/support/hotel.ts): the only change to the saga is one entry in the list. */
const hotelMachine = stepSagaMachine({ ...HOTEL_STEPS, id: 'reservaHotel' });

/** The five steps as the referee knows them, written out apart from the declaration. */
const HOTEL_REFEREE_STEPS = [
  ...RESERVA_STEPS.slice(0, 3),
  { command: 'ReservarHotel', success: 'HotelReservado', failure: 'HotelRechazado', compensation: { command: 'LiberarHotel', confirmedBy: 'HotelLiberado', failedBy: 'LiberacionHotelFallida' } },
  RESERVA_STEPS[3],
];

describe('a fifth step added to the declaration (a hotel booking between GDS and approval)', () => {
  it('should send the commands and end as the five steps call for, on every path xstate/graph finds', () => {
    // Two attempts per compensation keep the simple paths few (a few thousand with three).
    const input = { ...(ORCHESTRATED_INPUTS.reserva(ids) as object), maxReintentos: 2 };
    const events = [
      ...new Set(HOTEL_STEPS.steps.flatMap((s) => [s.success.event, s.failure.event, s.compensation.confirmedBy, s.compensation.failedBy])),
    ].map((type) => ({ type, data: { ...ids, id_pago: 'p-1', motivo: `motivo de ${type}` } }));
    for (const state of Object.keys(hotelMachine.root.states)) for (const delay of ['plazoPaso', 'plazoCompensacion']) events.push({ type: `xstate.after.${delay}.${hotelMachine.id}.${state}` } as never);
    // States told apart by value and attempts, so retries are paths too (bounded by the attempts).
    const serializeState = (s: AnyMachineSnapshot) => JSON.stringify({ value: s.value, intentos: (s.context as { intentos: unknown }).intentos });
    const paths = getSimplePaths(hotelMachine, { events, input, serializeState } as never) as { steps: { event: { type: string } }[] }[];
    expect(paths.length, 'paths').to.be.greaterThan(20);
    let judged = 0;
    for (const path of paths) {
      const [initial, initialActions] = initialTransition(hotelMachine, input as never);
      let snapshot = initial as AnyMachineSnapshot;
      const sent = (initialActions as Action[]).map((a) => a.type);
      const inputs: string[] = [];
      for (const step of path.steps.slice(1)) {
        const [next, actions] = transition(hotelMachine, snapshot, step.event as never) as [AnyMachineSnapshot, Action[]];
        snapshot = next;
        inputs.push(step.event.type);
        sent.push(...actions.map((a) => a.type));
      }
      const commands = sent.filter((type) => /^[A-Z]/.test(type));
      const status = snapshot.hasTag('completed') ? 'completed' : snapshot.hasTag('compensated') ? 'compensated' : snapshot.hasTag('failed') ? 'failed' : 'running';
      const verdict = refereeOrchestration(inputs, HOTEL_REFEREE_STEPS, 2);
      expect({ commands, status }, inputs.join(' → ')).to.deep.equal(verdict);
      judged++;
    }
    expect(judged).to.equal(paths.length);
    console.log(`      (${judged} paths judged)`);
  });

});

import { expect } from 'chai';
import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { getSimplePaths } from 'xstate/graph';
import { reservaMachine, reservaSaga } from '../machines/reserva.ts';
import { stepSagaMachine } from '../machines/steps.ts';
import { HOTEL_STEPS } from './support/hotel.ts';
import { RESERVA_STEPS, refereeOrchestration } from './support/model/referee.ts';
import { handWrittenReservaMachine } from './support/model/hand-written-reserva.ts';
import { gdsReservaMachine, gdsReservaSaga, pagosReservaMachine, pagosReservaSaga, seguimientoMachine, seguimientoSaga, vuelosReservaMachine, vuelosReservaSaga } from '../machines/coreografia/index.ts';
import { handWrittenSeguimientoMachine } from './support/model/hand-written-seguimiento.ts';
import { MODEL_PLAZOS, ORCHESTRATED_INPUTS } from './support/model/definitions.ts';
import { handWrittenGdsMachine, handWrittenPagosMachine, handWrittenVuelosMachine } from './support/model/hand-written-parts.ts';
import { eventsOf, expectSameBehaviour } from './support/model/same-behaviour.ts';
import { sampleData } from './support/model/messages.ts';

/**
 * The saga declared as its steps (`machines/steps.ts`, `reservaSteps`) against the
 * hand-written statechart it replaces: from the same input, every event in every reachable
 * state must lead both to the same state, context, status and the same actions (commands with
 * their data, deadlines scheduled and cancelled), all the way down.
 */

const ids = { id_correlacion: 'saga-1', id_reserva: 'R-1' };

type Action = { type: string; params?: unknown };

describe('a saga declared as its steps (machines/steps.ts)', () => {
  it('should behave like the hand-written reservation statechart in every reachable state, for every event', () => {
    const events = eventsOf(handWrittenReservaMachine as AnyStateMachine, Object.keys(reservaSaga.consumes), (type) => sampleData(type, ids));
    const states = expectSameBehaviour(handWrittenReservaMachine as AnyStateMachine, reservaMachine, ORCHESTRATED_INPUTS.reserva(ids), events);
    expect(states, 'states explored').to.be.greaterThan(10);
  });
});

describe('choreography parts and the tracker wired from the same steps (machines/coreografia/step-part.ts, seguimiento.ts)', () => {
  for (const [name, oracle, built, definition] of [
    ['vuelos', handWrittenVuelosMachine, vuelosReservaMachine, vuelosReservaSaga],
    ['pagos', handWrittenPagosMachine, pagosReservaMachine, pagosReservaSaga],
    ['gds', handWrittenGdsMachine, gdsReservaMachine, gdsReservaSaga],
    ['tracker', handWrittenSeguimientoMachine, seguimientoMachine, seguimientoSaga],
  ] as const) {
    it(`should behave like the hand-written ${name} ${name === 'tracker' ? 'in every state two events from the start' : 'part in every reachable state'}, for every event`, () => {
      const input = { ...ids, plazos: MODEL_PLAZOS, ...(name === 'vuelos' ? { solicitud: { ...ids, id_cliente: 'cliente-1', monto: 250, monto_vat: 47.5, itinerarios: [] } } : {}) };
      const events = eventsOf(oracle as AnyStateMachine, Object.keys(definition.consumes), (type) => sampleData(type, ids));
      // The tracker keeps every event it saw, so its states never repeat; each of its transitions is at most two events from the start.
      const depth = name === 'tracker' ? 2 : Infinity;
      expect(expectSameBehaviour(oracle as AnyStateMachine, built as AnyStateMachine, input, events, depth), 'states explored').to.be.greaterThan(5);
    });
  }
});

// --- A fifth step: a hotel booking between GDS and approval, declared in one place ---------

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

import { expect } from 'chai';
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import type { CommandType, EventType, Events } from '../machines/messages.ts';
import { DEFAULT_PLAZOS, reservaMachine, reservaSaga, type ReservaInput, type SagaEvent } from '../machines/reserva.ts';
import { resolveEffects, statusOf, type Effect } from '../runtime/effects.ts';
import { EVENT_DATA } from './support/event-samples.ts';

type Snapshot = SnapshotFrom<typeof reservaMachine>;
type CommandEffect = Extract<Effect, { kind: 'command' }>;
/** A domain event, or a fired `after` timer (`xstate.after.<delay>.reserva.<state>`). */
type Incoming = SagaEvent | { type: `xstate.after.${string}` };

const PLAZOS = { paso: 1_500, compensacion: 700 };

function reservaInput(overrides: Partial<ReservaInput> = {}): ReservaInput {
  return {
    id_correlacion: 'saga-1',
    id_reserva: 'R-1',
    id_cliente: 'cliente-1',
    monto: 250,
    monto_vat: 47.5,
    itinerarios: [{ origen: 'BOG', destino: 'MDE', fecha: '2026-12-24' }],
    plazos: PLAZOS,
    ...overrides,
  };
}

const base = { id_correlacion: 'saga-1', id_reserva: 'R-1' };

/** The event `type`, with valid data and `changes` applied. */
function event<T extends EventType>(type: T, changes: Partial<Events[T]> = {}): SagaEvent {
  return { type, data: { ...EVENT_DATA[type], ...changes } } as unknown as SagaEvent;
}

const stepDeadline = (state: string) => ({ type: `xstate.after.plazoPaso.reserva.${state}` }) as const;
const compensationDeadline = (state: string) => ({ type: `xstate.after.plazoCompensacion.reserva.${state}` }) as const;

/**
 * A saga instance driven through XState's pure transitions, as the runtime drives it:
 * `given` events (effects discarded), then `receive` one and look at what it asked for.
 */
class SagaUnderTest {
  /** Effects of the last transition. */
  effects: Effect[];
  /** Every command sent since the start, in order. */
  readonly sent: CommandEffect[] = [];

  private constructor(
    public snapshot: Snapshot,
    effects: Effect[],
  ) {
    this.effects = effects;
    this.record(effects);
  }

  static start(input: ReservaInput = reservaInput()): SagaUnderTest {
    const [snapshot, actions] = initialTransition(reservaMachine, input);
    return new SagaUnderTest(snapshot, resolveEffects(reservaSaga, actions));
  }

  receive(incoming: Incoming): this {
    const [next, actions] = transition(reservaMachine, this.snapshot, incoming as SagaEvent);
    this.snapshot = next;
    this.effects = resolveEffects(reservaSaga, actions);
    this.record(this.effects);
    return this;
  }

  given(...incoming: Incoming[]): this {
    incoming.forEach((e) => this.receive(e));
    return this;
  }

  /** Command types of the last transition. */
  get commands(): string[] {
    return this.commandEffects.map((c) => c.type);
  }

  get commandEffects(): CommandEffect[] {
    return this.effects.filter((e): e is CommandEffect => e.kind === 'command');
  }

  get schedules(): Extract<Effect, { kind: 'schedule' }>[] {
    return this.effects.filter((e): e is Extract<Effect, { kind: 'schedule' }> => e.kind === 'schedule');
  }

  get state(): unknown {
    return this.snapshot.value;
  }

  sentOf(type: CommandType): CommandEffect[] {
    return this.sent.filter((c) => c.type === type);
  }

  private record(effects: Effect[]): void {
    for (const e of effects) if (e.kind === 'command') this.sent.push(e);
  }
}

/** Events that bring a new saga to each step. */
const TO = {
  creandoReserva: [] as Incoming[],
  pagando: [event('ReservaCreada')],
  confirmandoGds: [event('ReservaCreada'), event('ReservaPagada')],
  aprobando: [event('ReservaCreada'), event('ReservaPagada'), event('ReservaGDSConfirmada')],
};

function expectCompensated(saga: SagaUnderTest, motivo: string): void {
  expect(saga.state).to.equal('compensada');
  expect(saga.snapshot.status).to.equal('done');
  expect(saga.snapshot.hasTag('compensated')).to.equal(true);
  expect(statusOf(saga.snapshot)).to.equal('compensated');
  expect(saga.snapshot.context.motivo).to.equal(motivo);
}

/** Each compensation: its command, the state waiting for its confirmation, and the confirmation. */
const COMPENSATIONS = {
  RevertirConfirmacion: { state: 'revirtiendoConfirmacion', confirmation: 'ConfirmacionGDSRevertida', failure: 'ReversionConfirmacionFallida' },
  RevertirPago: { state: 'revirtiendoPago', confirmation: 'PagoRevertido', failure: 'ReversionPagoFallida' },
  CancelarReserva: { state: 'cancelandoReserva', confirmation: 'ReservaCancelada', failure: 'CancelacionReservaFallida' },
} as const;
type CompensationCommand = keyof typeof COMPENSATIONS;

/**
 * Plays the compensation chain after `saga` left the happy path: each command must be the
 * only one sent, wait for its own confirmation (other confirmations change nothing), and
 * carry `motivo`.
 */
function expectCompensationChain(saga: SagaUnderTest, chain: CompensationCommand[], motivo: string): void {
  chain.forEach((command, i) => {
    const { state, confirmation } = COMPENSATIONS[command];
    expect(saga.commands, `command of compensation ${i + 1}`).to.deep.equal([command]);
    expect(saga.commandEffects[0].data).to.deep.equal({ id_correlacion: 'saga-1', id_reserva: 'R-1', motivo });
    expect(saga.state).to.equal(state);
    expect(saga.schedules.map((s) => s.delay), `deadline of ${command}`).to.deep.equal([PLAZOS.compensacion]);

    for (const other of Object.values(COMPENSATIONS).filter((c) => c.confirmation !== confirmation)) {
      const before = saga.snapshot;
      saga.receive(event(other.confirmation));
      expect(saga.effects, `${other.confirmation} while waiting for ${confirmation}`).to.deep.equal([]);
      expect(saga.snapshot.value).to.equal(before.value);
    }
    saga.receive(event(confirmation));
  });
  expect(saga.commands, 'commands after the last confirmation').to.deep.equal([]);
  expectCompensated(saga, motivo);
}

describe('reservaMachine', () => {
  describe('start', () => {
    it('should send CrearReserva built from the input and schedule the step deadline', () => {
      const input = reservaInput();
      const saga = SagaUnderTest.start(input);

      expect(saga.state).to.equal('creandoReserva');
      expect(saga.effects).to.deep.equal([
        {
          kind: 'command',
          type: 'CrearReserva',
          topic: 'comando-crear-reserva',
          data: {
            id_correlacion: input.id_correlacion,
            id_reserva: input.id_reserva,
            id_cliente: input.id_cliente,
            monto: input.monto,
            monto_vat: input.monto_vat,
            itinerarios: input.itinerarios,
          },
        },
        {
          kind: 'schedule',
          timerId: 'xstate.after.plazoPaso.reserva.creandoReserva',
          delay: PLAZOS.paso,
          event: stepDeadline('creandoReserva'),
        },
      ]);
      expect(statusOf(saga.snapshot)).to.equal('running');
    });

    it('should schedule the step deadline as an xstate.raise action with delay plazos.paso', () => {
      const [, actions] = initialTransition(reservaMachine, reservaInput({ plazos: { paso: 4_321 } }));
      const raises = actions.filter((a) => a.type === 'xstate.raise');
      expect(raises).to.have.length(1);
      expect(raises[0].params).to.deep.include({ delay: 4_321, event: stepDeadline('creandoReserva') });
    });

    it('should use the default deadlines, and as many compensation attempts as fit in 6 hours, when the input gives none', () => {
      const { plazos: _, ...input } = reservaInput();
      const saga = SagaUnderTest.start(input);
      expect(saga.schedules.map((s) => s.delay)).to.deep.equal([DEFAULT_PLAZOS.paso]);
      expect(saga.snapshot.context.plazos).to.deep.equal({ paso: 30_000, compensacion: 10_000, compensacionMax: 600_000, horizonte: 6 * 3_600_000 });
      // Waits of 10, 20, 40, 80, 160, 320 s, then 10 min each: 6 + 34 attempts stay within 6 h.
      expect(saga.snapshot.context.maxReintentos).to.equal(40);
    });

    it('should carry simular_fallo from the input into every command', () => {
      const saga = SagaUnderTest.start(reservaInput({ simular_fallo: 'aprobacion' })).given(...TO.aprobando);
      expect(saga.sent.map((c) => [c.type, c.data.simular_fallo])).to.deep.equal([
        ['CrearReserva', 'aprobacion'],
        ['PagarReserva', 'aprobacion'],
        ['ConfirmarReserva', 'aprobacion'],
        ['AprobarReserva', 'aprobacion'],
      ]);
    });
  });

  describe('happy path', () => {
    it('should create, pay, confirm and approve the reservation, then complete', () => {
      const saga = SagaUnderTest.start();
      const states: unknown[] = [saga.state];
      for (const e of [event('ReservaCreada'), event('ReservaPagada'), event('ReservaGDSConfirmada'), event('ReservaAprobada')]) {
        states.push(saga.receive(e).state);
      }

      expect(saga.sent.map((c) => c.type)).to.deep.equal(['CrearReserva', 'PagarReserva', 'ConfirmarReserva', 'AprobarReserva']);
      expect(saga.sent.map((c) => c.topic)).to.deep.equal([
        'comando-crear-reserva',
        'comando-pagar-reserva',
        'comando-confirmar-reserva',
        'comando-aprobar-reserva',
      ]);
      expect(states).to.deep.equal(['creandoReserva', 'pagando', 'confirmandoGds', 'aprobando', 'completada']);
      expect(saga.snapshot.status).to.equal('done');
      expect(saga.snapshot.hasTag('completed')).to.equal(true);
      expect(statusOf(saga.snapshot)).to.equal('completed');
      expect(saga.snapshot.context.motivo).to.equal(undefined);
    });

    it('should build PagarReserva from the ReservaCreada event\'s data', () => {
      const saga = SagaUnderTest.start().receive(event('ReservaCreada', { id_reserva: 'R-asignada', monto: 300, monto_vat: 57 }));
      expect(saga.commandEffects).to.have.length(1);
      expect(saga.commandEffects[0]).to.deep.equal({
        kind: 'command',
        type: 'PagarReserva',
        topic: 'comando-pagar-reserva',
        data: { id_correlacion: 'saga-1', id_reserva: 'R-asignada', monto: 300, monto_vat: 57 },
      });
    });

    it('should ask the GDS to confirm and then approve the reservation the event names', () => {
      const saga = SagaUnderTest.start().given(event('ReservaCreada')).receive(event('ReservaPagada', { id_pago: 'P-9' }));
      expect(saga.commandEffects.map((c) => [c.type, c.data])).to.deep.equal([['ConfirmarReserva', base]]);
      expect(saga.snapshot.context.id_pago).to.equal('P-9');

      saga.receive(event('ReservaGDSConfirmada'));
      expect(saga.commandEffects.map((c) => [c.type, c.data])).to.deep.equal([['AprobarReserva', base]]);
    });

    it('should replace each step\'s deadline with the next step\'s and leave none when completed', () => {
      const saga = SagaUnderTest.start();
      const steps = ['creandoReserva', 'pagando', 'confirmandoGds', 'aprobando'];
      const answers = [event('ReservaCreada'), event('ReservaPagada'), event('ReservaGDSConfirmada'), event('ReservaAprobada')];
      answers.forEach((answer, i) => {
        saga.receive(answer);
        const timers = saga.effects.filter((e) => e.kind !== 'command');
        const next = steps[i + 1];
        expect(timers, `timers after ${answer.type}`).to.deep.equal([
          { kind: 'cancel', timerId: `xstate.after.plazoPaso.reserva.${steps[i]}` },
          ...(next ? [{ kind: 'schedule', timerId: `xstate.after.plazoPaso.reserva.${next}`, delay: PLAZOS.paso, event: stepDeadline(next) }] : []),
        ]);
      });
    });
  });

  describe('failure of a step', () => {
    it('should end compensated without any compensation when creating the reservation fails', () => {
      const saga = SagaUnderTest.start().receive(event('CreacionReservaFallida', { motivo: 'sin cupo' }));
      expect(saga.commands).to.deep.equal([]);
      expect(saga.effects).to.deep.equal([{ kind: 'cancel', timerId: 'xstate.after.plazoPaso.reserva.creandoReserva' }]);
      expectCompensated(saga, 'sin cupo');
      expect(saga.sent.map((c) => c.type)).to.deep.equal(['CrearReserva']);
    });

    it('should cancel the reservation when payment fails', () => {
      const saga = SagaUnderTest.start().given(...TO.pagando).receive(event('PagoFallido', { motivo: 'tarjeta rechazada' }));
      expectCompensationChain(saga, ['CancelarReserva'], 'tarjeta rechazada');
    });

    it('should compensate payment then reservation when GDS confirmation fails', () => {
      const saga = SagaUnderTest.start().given(...TO.confirmandoGds).receive(event('ConfirmacionFallida', { motivo: 'GDS sin cupo' }));
      expectCompensationChain(saga, ['RevertirPago', 'CancelarReserva'], 'GDS sin cupo');
    });

    it('should revert confirmation, payment and reservation, newest first, when approval fails', () => {
      const saga = SagaUnderTest.start().given(...TO.aprobando).receive(event('AprobacionReservaFallida', { motivo: 'rechazada' }));
      expectCompensationChain(saga, ['RevertirConfirmacion', 'RevertirPago', 'CancelarReserva'], 'rechazada');
      expect(saga.sent.map((c) => c.type)).to.deep.equal([
        'CrearReserva',
        'PagarReserva',
        'ConfirmarReserva',
        'AprobarReserva',
        'RevertirConfirmacion',
        'RevertirPago',
        'CancelarReserva',
      ]);
    });

    it('should pass simular_fallo on to RevertirPago only', () => {
      const saga = SagaUnderTest.start(reservaInput({ simular_fallo: 'gds' })).given(...TO.confirmandoGds, event('ConfirmacionFallida'));
      expect(saga.commandEffects[0].data).to.include({ simular_fallo: 'gds' });
      saga.receive(event('PagoRevertido'));
      expect(saga.commands).to.deep.equal(['CancelarReserva']);
      expect(saga.commandEffects[0].data).to.not.have.property('simular_fallo');
    });
  });

  describe('reservation id', () => {
    it('should compensate the reservation that ReservaCreada named, not the requested id', () => {
      const saga = SagaUnderTest.start().given(event('ReservaCreada', { id_reserva: 'R-asignada' }));
      expect(saga.commandEffects[0].data.id_reserva).to.equal('R-asignada');

      saga.receive(event('PagoFallido'));

      expect(saga.commands).to.deep.equal(['CancelarReserva']);
      expect(saga.commandEffects[0].data.id_reserva).to.equal('R-asignada');
    });
  });

  describe('expired step deadline', () => {
    const cases: { step: keyof typeof TO; command: CommandType; chain: CompensationCommand[] }[] = [
      { step: 'creandoReserva', command: 'CrearReserva', chain: ['CancelarReserva'] },
      { step: 'pagando', command: 'PagarReserva', chain: ['RevertirPago', 'CancelarReserva'] },
      { step: 'confirmandoGds', command: 'ConfirmarReserva', chain: ['RevertirConfirmacion', 'RevertirPago', 'CancelarReserva'] },
      { step: 'aprobando', command: 'AprobarReserva', chain: ['RevertirConfirmacion', 'RevertirPago', 'CancelarReserva'] },
    ];
    for (const { step, command, chain } of cases) {
      it(`should compensate ${chain.join(', ')} when ${command} is not answered in time`, () => {
        const saga = SagaUnderTest.start().given(...TO[step]).receive(stepDeadline(step));
        expectCompensationChain(saga, chain, `plazo vencido: ${command}`);
      });
    }

    it('should ignore the answer of a step that arrives after its deadline expired', () => {
      const saga = SagaUnderTest.start().given(...TO.pagando, stepDeadline('pagando'));
      const before = saga.snapshot;
      saga.receive(event('ReservaPagada'));
      expect(saga.effects).to.deep.equal([]);
      expect(saga.state).to.equal('revirtiendoPago');
      expect(saga.snapshot.context).to.deep.equal(before.context);
    });
  });

  describe('failed compensation', () => {
    it('should record a failure answer and send the compensation again only when its wait runs out, then continue once it succeeds', () => {
      const saga = SagaUnderTest.start().given(...TO.confirmandoGds, event('ConfirmacionFallida', { motivo: 'GDS caído' }));
      saga.receive(event('ReversionPagoFallida', { motivo: 'pasarela caída' }));
      expect(saga.effects, 'nothing is sent at once, the wait goes on').to.deep.equal([]);
      expect(saga.state).to.equal('revirtiendoPago');
      expect(saga.snapshot.context.ultimoFallo).to.equal('pasarela caída');

      saga.receive(compensationDeadline('revirtiendoPago'));
      expect(saga.commandEffects.map((c) => [c.type, c.data])).to.deep.equal([
        ['RevertirPago', { id_correlacion: 'saga-1', id_reserva: 'R-1', motivo: 'GDS caído' }],
      ]);
      expect(saga.schedules.map((s) => [s.timerId, s.delay]), 'the second wait is twice the first').to.deep.equal([
        ['xstate.after.plazoCompensacion.reserva.revirtiendoPago', 2 * PLAZOS.compensacion],
      ]);

      saga.receive(event('PagoRevertido'));
      expect(saga.commands).to.deep.equal(['CancelarReserva']);
      expect(saga.schedules.map((s) => s.delay), 'the next compensation starts with the first wait').to.deep.equal([PLAZOS.compensacion]);
      saga.receive(event('ReservaCancelada'));
      expectCompensated(saga, 'GDS caído');
      expect(saga.sentOf('RevertirPago')).to.have.length(2);
    });

    it('should wait twice as long before each new attempt, up to compensacionMax', () => {
      const saga = SagaUnderTest.start(reservaInput({ plazos: { ...PLAZOS, compensacionMax: 2_000 } })).given(...TO.pagando, event('PagoFallido'));
      const waits = [saga.schedules[0].delay];
      for (let i = 0; i < 4; i++) waits.push(saga.receive(compensationDeadline('cancelandoReserva')).schedules[0].delay);
      expect(waits).to.deep.equal([700, 1_400, 2_000, 2_000, 2_000]);
      expect(saga.sentOf('CancelarReserva')).to.have.length(5);
    });

    it('should try for the horizon it is given: the attempts whose waits add up to it at most', () => {
      const saga = SagaUnderTest.start(reservaInput({ plazos: { paso: 1_000, compensacion: 1_000, compensacionMax: 4_000, horizonte: 15_000 } }));
      // 1 + 2 + 4 + 4 + 4 = 15 s: five attempts.
      expect(saga.snapshot.context.maxReintentos).to.equal(5);
    });

    const exhausted: { compensation: CompensationCommand; given: Incoming[] }[] = [
      { compensation: 'RevertirConfirmacion', given: [...TO.aprobando, event('AprobacionReservaFallida')] },
      { compensation: 'RevertirPago', given: [...TO.confirmandoGds, event('ConfirmacionFallida')] },
      { compensation: 'CancelarReserva', given: [...TO.pagando, event('PagoFallido')] },
    ];
    for (const { compensation, given } of exhausted) {
      const { state, failure, confirmation } = COMPENSATIONS[compensation];
      it(`should stop in reparacionManual, not final, after maxReintentos unconfirmed attempts of ${compensation}`, () => {
        const saga = SagaUnderTest.start(reservaInput({ maxReintentos: 3 })).given(...given);
        const sentBefore = saga.sent.length;
        saga.receive(event(failure)).receive(compensationDeadline(state)).receive(event(failure)).receive(compensationDeadline(state));
        expect(saga.state, 'after 2 unconfirmed attempts').to.equal(state);
        saga.receive(compensationDeadline(state));

        expect(saga.sentOf(compensation), `${compensation} attempts`).to.have.length(3);
        expect(saga.sent.slice(sentBefore).map((c) => c.type), 'commands after the first').to.deep.equal([compensation, compensation]);
        expect(saga.commands, 'nothing sent on the last wait').to.deep.equal([]);
        expect(saga.state).to.equal('reparacionManual');
        expect(saga.snapshot.status, 'a late confirmation may still come').to.equal('active');
        expect(saga.snapshot.hasTag('failed')).to.equal(true);
        expect(statusOf(saga.snapshot)).to.equal('failed');
        expect(saga.snapshot.context.motivo).to.equal(`compensación agotada: ${state}`);
        expect(saga.snapshot.can(event(confirmation)), `${confirmation} resumes it`).to.equal(true);
      });
    }

    it('should resume the compensation chain when the confirmation comes while the saga waits in manual repair', () => {
      const saga = SagaUnderTest.start(reservaInput({ maxReintentos: 2 })).given(...TO.confirmandoGds, event('ConfirmacionFallida', { motivo: 'GDS caído' }));
      saga.given(compensationDeadline('revirtiendoPago'), compensationDeadline('revirtiendoPago'));
      expect(saga.state).to.equal('reparacionManual');
      saga.receive(event('ReservaCancelada'));
      expect(saga.state, 'the confirmation of another compensation changes nothing').to.equal('reparacionManual');

      saga.receive(event('PagoRevertido'));
      expect(saga.state).to.equal('cancelandoReserva');
      expect(statusOf(saga.snapshot)).to.equal('running');
      expect(saga.commands).to.deep.equal(['CancelarReserva']);
      saga.receive(event('ReservaCancelada'));
      expect(saga.state).to.equal('compensada');
      expect(statusOf(saga.snapshot)).to.equal('compensated');
    });

    it('should count only the waits that ran out, not the failure answers', () => {
      const saga = SagaUnderTest.start(reservaInput({ maxReintentos: 2 })).given(...TO.confirmandoGds, event('ConfirmacionFallida'));
      saga.given(event('ReversionPagoFallida'), event('ReversionPagoFallida'), event('ReversionPagoFallida'));
      expect(saga.state).to.equal('revirtiendoPago');
      saga.receive(compensationDeadline('revirtiendoPago'));
      expect(saga.commands).to.deep.equal(['RevertirPago']);
      saga.receive(compensationDeadline('revirtiendoPago'));
      expect(saga.state).to.equal('reparacionManual');
      expect(saga.sentOf('RevertirPago')).to.have.length(2);
      expect(saga.snapshot.context.motivo).to.equal('compensación agotada: revirtiendoPago');
    });

    it('should need manual repair when the first wait runs out and maxReintentos is 1', () => {
      const saga = SagaUnderTest.start(reservaInput({ maxReintentos: 1 })).given(...TO.pagando, event('PagoFallido'));
      saga.receive(event('CancelacionReservaFallida'));
      expect(saga.state).to.equal('cancelandoReserva');
      saga.receive(compensationDeadline('cancelandoReserva'));
      expect(saga.commands).to.deep.equal([]);
      expect(saga.state).to.equal('reparacionManual');
    });

    it('should count attempts per compensation', () => {
      const saga = SagaUnderTest.start(reservaInput({ maxReintentos: 3 })).given(...TO.aprobando, event('AprobacionReservaFallida'));
      saga.given(compensationDeadline('revirtiendoConfirmacion'), compensationDeadline('revirtiendoConfirmacion'), event('ConfirmacionGDSRevertida'));
      expect(saga.sentOf('RevertirConfirmacion')).to.have.length(3);
      expect(saga.commands).to.deep.equal(['RevertirPago']);

      saga.given(compensationDeadline('revirtiendoPago'), compensationDeadline('revirtiendoPago'));
      expect(saga.state, 'RevertirPago after 2 unconfirmed of 3 allowed').to.equal('revirtiendoPago');
      expect(saga.sentOf('RevertirPago')).to.have.length(3);
      saga.given(event('PagoRevertido'), event('ReservaCancelada'));
      expectCompensated(saga, 'aprobación rechazada');
    });
  });

  describe('events that do not apply', () => {
    const cases: { state: string; given: Incoming[]; ignored: Incoming[]; input?: Partial<ReservaInput> }[] = [
      {
        state: 'creandoReserva',
        given: [],
        ignored: [event('ReservaPagada'), event('PagoRevertido'), event('ReservaCancelada'), compensationDeadline('cancelandoReserva')],
      },
      { state: 'pagando', given: TO.pagando, ignored: [event('ReservaCreada'), event('CreacionReservaFallida'), stepDeadline('creandoReserva')] },
      { state: 'confirmandoGds', given: TO.confirmandoGds, ignored: [event('PagoFallido'), event('ReservaAprobada'), stepDeadline('pagando')] },
      { state: 'aprobando', given: TO.aprobando, ignored: [event('ConfirmacionFallida'), event('ReservaGDSConfirmada')] },
      {
        state: 'revirtiendoPago',
        given: [...TO.confirmandoGds, event('ConfirmacionFallida')],
        ignored: [event('ReservaGDSConfirmada'), event('ReservaPagada'), event('CancelacionReservaFallida'), stepDeadline('confirmandoGds')],
      },
      { state: 'completada', given: [...TO.aprobando, event('ReservaAprobada')], ignored: [event('AprobacionReservaFallida'), stepDeadline('aprobando')] },
      { state: 'compensada', given: [event('CreacionReservaFallida')], ignored: [event('ReservaCreada'), stepDeadline('creandoReserva')] },
      {
        state: 'reparacionManual',
        input: { maxReintentos: 3 },
        given: [...TO.pagando, event('PagoFallido'), ...Array(3).fill(compensationDeadline('cancelandoReserva'))],
        ignored: [event('PagoRevertido'), event('ConfirmacionGDSRevertida'), event('CancelacionReservaFallida'), compensationDeadline('cancelandoReserva')],
      },
    ];
    for (const { state, given, ignored, input } of cases) {
      it(`should change nothing in ${state} on ${ignored.map((e) => e.type.replace(/^xstate\.after\./, 'timer ')).join(', ')}`, () => {
        const saga = SagaUnderTest.start(reservaInput(input)).given(...given);
        expect(saga.state).to.equal(state);
        for (const incoming of ignored) {
          const before = saga.snapshot;
          saga.receive(incoming);
          expect(saga.effects, `effects of ${incoming.type}`).to.deep.equal([]);
          expect(saga.snapshot.value, `state after ${incoming.type}`).to.deep.equal(before.value);
          expect(saga.snapshot.context, `context after ${incoming.type}`).to.deep.equal(before.context);
          expect(saga.snapshot.status).to.equal(before.status);
        }
      });
    }
  });
});

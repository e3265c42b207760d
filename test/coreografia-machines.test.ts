import { expect } from 'chai';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import {
  gdsReservaSaga,
  pagosReservaSaga,
  seguimientoSaga,
  vuelosReservaSaga,
  type ParticipanteContext,
  type ParticipanteSettings,
  type SeguimientoContext,
  type VuelosReservaContext,
} from '../machines/coreografia/index.ts';
import { DEFAULT_PLAZOS } from '../machines/compensacion.ts';
import { EVENT_TOPICS, TOPICS, type CommandType, type Commands, type EventType, type Events, type MessageType } from '../machines/messages.ts';
import { resolveEffects, statusOf, type Effect } from '../runtime/effects.ts';
import type { SagaDefinition } from '../runtime/registry.ts';
import { EVENT_DATA } from './support/event-samples.ts';

/**
 * The choreographed saga's machines, driven through XState's pure transitions as the
 * runtime drives them: an instance is created from a `startedBy` builder's input and then
 * handles the message that started it; `given` events (effects kept but not looked at),
 * then `receive` one and look at what it asked for.
 */

type CommandEffect = Extract<Effect, { kind: 'command' }>;
/** A domain event, the request that starts vuelos, or a fired `after` timer. */
type Incoming = { type: string; data?: unknown };

const SETTINGS: ParticipanteSettings = { plazos: { paso: 1_500, compensacion: 700 } };
const PLAZOS = { paso: 1_500, compensacion: 700 };

const base = { id_correlacion: 'saga-1', id_reserva: 'R-1' };
const ALL_EVENTS = Object.keys(EVENT_DATA) as EventType[];

/** The event `type`, with valid data and `changes` applied. */
function event<T extends EventType>(type: T, changes: Partial<Events[T]> = {}): { type: T; data: Events[T] } {
  return { type, data: { ...EVENT_DATA[type], ...changes } };
}

/** A customer's reservation request, the message that starts vuelos' part. */
function solicitud(changes: Partial<Commands['IniciarReserva']> = {}): Commands['IniciarReserva'] {
  return { ...base, id_cliente: 'cliente-1', monto: 250, monto_vat: 47.5, itinerarios: [{ origen: 'BOG', destino: 'MDE', fecha: '2026-12-24' }], ...changes };
}

const stepDeadline = (machineId: string, state: string) => ({ type: `xstate.after.plazoPaso.${machineId}.${state}` });
const compensationDeadline = (machineId: string, state: string) => ({ type: `xstate.after.plazoCompensacion.${machineId}.${state}` });

/** One instance of a definition, as the runtime would hold it. */
class Instance<C = ParticipanteContext> {
  /** Effects of the last transition. */
  effects: Effect[];
  /** Every command sent since the instance was created, in order. */
  readonly sent: CommandEffect[] = [];
  /** State and effects of the instance right after it was created, before the starting message. */
  readonly created: { state: unknown; effects: Effect[] };

  private constructor(
    readonly definition: SagaDefinition,
    public snapshot: AnyMachineSnapshot,
    effects: Effect[],
  ) {
    this.effects = effects;
    this.created = { state: snapshot.value, effects };
    this.record(effects);
  }

  /** An instance created from `input` (no message handled yet). */
  static create<C = ParticipanteContext>(definition: SagaDefinition, input: unknown): Instance<C> {
    const [snapshot, actions] = initialTransition(definition.machine, input);
    return new Instance<C>(definition, snapshot, resolveEffects(definition, actions));
  }

  /**
   * What the runtime does with a message no instance exists for: builds the input with the
   * definition's `startedBy` builder (plus `overrides`), creates the instance, and lets it
   * handle the message.
   */
  static startedBy<C = ParticipanteContext>(
    definition: SagaDefinition,
    incoming: { type: MessageType; data: unknown },
    settings: ParticipanteSettings = SETTINGS,
    overrides: Record<string, unknown> = {},
  ): Instance<C> {
    const starter = definition.startedBy?.[incoming.type];
    if (!starter) throw new Error(`${definition.type} is not started by ${incoming.type}`);
    const input = { ...(starter(incoming.data as never, settings as never) as object), ...overrides };
    return Instance.create<C>(definition, input).receive(incoming);
  }

  receive(incoming: Incoming): this {
    const [next, actions] = transition(this.definition.machine, this.snapshot, incoming as never);
    this.snapshot = next;
    this.effects = resolveEffects(this.definition, actions);
    this.record(this.effects);
    return this;
  }

  given(...incoming: Incoming[]): this {
    incoming.forEach((e) => this.receive(e));
    return this;
  }

  get state(): unknown {
    return this.snapshot.value;
  }

  get context(): C {
    return this.snapshot.context as C;
  }

  get status() {
    return statusOf(this.snapshot);
  }

  /** Command types of the last transition. */
  get commands(): string[] {
    return this.commandEffects.map((c) => c.type);
  }

  get commandEffects(): CommandEffect[] {
    return this.effects.filter((e): e is CommandEffect => e.kind === 'command');
  }

  /** Schedules and cancels of the last transition. */
  get timers(): Effect[] {
    return this.effects.filter((e) => e.kind !== 'command');
  }

  sentOf(type: CommandType): CommandEffect[] {
    return this.sent.filter((c) => c.type === type);
  }

  private record(effects: Effect[]): void {
    for (const e of effects) if (e.kind === 'command') this.sent.push(e);
  }
}

const startVuelos = (changes: Partial<Commands['IniciarReserva']> = {}, overrides: Record<string, unknown> = {}) =>
  Instance.startedBy<VuelosReservaContext>(vuelosReservaSaga, { type: 'IniciarReserva', data: solicitud(changes) }, SETTINGS, overrides);
const startPagos = (changes: Partial<Events['ReservaCreada']> = {}, overrides: Record<string, unknown> = {}) =>
  Instance.startedBy(pagosReservaSaga, event('ReservaCreada', changes), SETTINGS, overrides);
const startGds = (changes: Partial<Events['ReservaPagada']> = {}, overrides: Record<string, unknown> = {}) =>
  Instance.startedBy(gdsReservaSaga, event('ReservaPagada', changes), SETTINGS, overrides);

function command(type: CommandType, data: Record<string, unknown>): CommandEffect {
  return { kind: 'command', type, topic: TOPICS[type], data: data as CommandEffect['data'] };
}
/** An event a machine publishes itself (through the outbox, as a command). */
function published(type: EventType, data: Record<string, unknown>): CommandEffect {
  return { kind: 'command', type, topic: TOPICS[type], data: data as CommandEffect['data'] };
}
function schedule(timer: { type: string }, delay: number): Effect {
  return { kind: 'schedule', timerId: timer.type, delay, event: timer };
}
function cancel(timer: { type: string }): Effect {
  return { kind: 'cancel', timerId: timer.type };
}

function expectFinal(instance: Instance<ParticipanteContext>, state: string, status: 'completed' | 'compensated' | 'failed', motivo?: string): void {
  expect(instance.state).to.equal(state);
  // Manual repair is not final: the confirmation that comes late still ends it.
  expect(instance.snapshot.status).to.equal(status === 'failed' ? 'active' : 'done');
  expect(instance.snapshot.hasTag(status)).to.equal(true);
  expect(instance.status).to.equal(status);
  expect(instance.context.motivo).to.equal(motivo);
}

/** Feeds each of `ignored` to the instance and expects no effect and no change at all. */
function expectUnchangedBy(instance: Instance<unknown>, ignored: Incoming[]): void {
  for (const incoming of ignored) {
    const before = instance.snapshot;
    instance.receive(incoming);
    expect(instance.effects, `effects of ${incoming.type} in ${JSON.stringify(before.value)}`).to.deep.equal([]);
    expect(instance.snapshot.value, `state after ${incoming.type}`).to.deep.equal(before.value);
    expect(instance.snapshot.context, `context after ${incoming.type}`).to.deep.equal(before.context);
    expect(instance.snapshot.status, `status after ${incoming.type}`).to.equal(before.status);
  }
}

const label = (incoming: Incoming[]) => incoming.map((e) => e.type.replace(/^xstate\.after\.(\w+)\.\w+\./, 'timer $1 in ')).join(', ');

describe('the choreographed saga machines', () => {
  describe('vuelosReservaMachine', () => {
    const ID = 'vuelosReserva';

    describe('start', () => {
      it('should be started by IniciarReserva with the request, the failure to simulate and the deadlines as input', () => {
        const request = solicitud({ simular_fallo: 'gds', plazos: { paso: 5_000 } });
        const input = vuelosReservaSaga.startedBy.IniciarReserva(request, SETTINGS);
        expect(input).to.deep.equal({
          ...base,
          simular_fallo: 'gds',
          plazos: { paso: 5_000, compensacion: 700 }, // the request's deadlines win over the process's
          solicitud: { ...base, id_cliente: 'cliente-1', monto: 250, monto_vat: 47.5, itinerarios: request.itinerarios },
        });
      });

      it('should send CrearReserva built from the request, with simular_fallo, and schedule its step deadline', () => {
        const vuelos = startVuelos({ simular_fallo: 'reserva' });

        expect(vuelos.created).to.deep.equal({ state: 'inicio', effects: [] });
        expect(vuelos.state).to.equal('creando');
        expect(vuelos.effects).to.deep.equal([
          command('CrearReserva', {
            ...base,
            simular_fallo: 'reserva',
            id_cliente: 'cliente-1',
            monto: 250,
            monto_vat: 47.5,
            itinerarios: [{ origen: 'BOG', destino: 'MDE', fecha: '2026-12-24' }],
          }),
          schedule(stepDeadline(ID, 'creando'), PLAZOS.paso),
        ]);
        expect(vuelos.status).to.equal('running');
      });

      it('should leave simular_fallo out of CrearReserva when the request has none', () => {
        const vuelos = startVuelos();
        expect(vuelos.commandEffects[0].data).to.not.have.property('simular_fallo');
        expect(vuelos.context).to.not.have.property('simular_fallo');
      });

      it('should use the default deadlines, and as many compensation attempts as fit in 6 hours, when neither the process nor the request gives any', () => {
        const vuelos = Instance.startedBy<VuelosReservaContext>(vuelosReservaSaga, { type: 'IniciarReserva', data: solicitud() }, {});
        expect(vuelos.context.plazos).to.deep.equal(DEFAULT_PLAZOS);
        expect(vuelos.context.maxReintentos).to.equal(40);
        expect(vuelos.context.intentos).to.equal(0);
        expect(vuelos.timers).to.deep.equal([schedule(stepDeadline(ID, 'creando'), DEFAULT_PLAZOS.paso)]);
      });
    });

    describe('happy path', () => {
      it('should wait for the payment and the GDS, approve the reservation and complete', () => {
        const vuelos = startVuelos();
        const states: unknown[] = [vuelos.state];
        for (const e of [event('ReservaCreada'), event('ReservaPagada'), event('ReservaGDSConfirmada'), event('ReservaAprobada')]) states.push(vuelos.receive(e).state);

        expect(states).to.deep.equal(['creando', 'esperandoPago', 'esperandoConfirmacion', 'aprobando', 'aprobada']);
        expect(vuelos.sent).to.deep.equal([
          command('CrearReserva', { ...base, id_cliente: 'cliente-1', monto: 250, monto_vat: 47.5, itinerarios: solicitud().itinerarios }),
          command('AprobarReserva', base),
        ]);
        expectFinal(vuelos, 'aprobada', 'completed');
      });

      it('should cancel the step deadline once the reservation is created, and set no other', () => {
        const vuelos = startVuelos().receive(event('ReservaCreada'));
        expect(vuelos.effects).to.deep.equal([cancel(stepDeadline(ID, 'creando'))]);
        for (const e of [event('ReservaPagada'), event('ReservaGDSConfirmada'), event('ReservaAprobada')]) {
          expect(vuelos.receive(e).timers, `timers after ${e.type}`).to.deep.equal([]);
        }
      });

      it('should pass simular_fallo on to AprobarReserva', () => {
        const vuelos = startVuelos({ simular_fallo: 'aprobacion' }).given(event('ReservaCreada'), event('ReservaPagada'), event('ReservaGDSConfirmada'));
        expect(vuelos.effects).to.deep.equal([command('AprobarReserva', { ...base, simular_fallo: 'aprobacion' })]);
      });
    });

    describe('failures', () => {
      it('should end compensated, sending nothing, when creating the reservation fails', () => {
        const vuelos = startVuelos().receive(event('CreacionReservaFallida', { motivo: 'sin sillas' }));
        expect(vuelos.effects).to.deep.equal([cancel(stepDeadline(ID, 'creando'))]);
        expectFinal(vuelos, 'fallida', 'compensated', 'sin sillas');
      });

      it('should cancel the reservation when the payment fails, then end compensated', () => {
        const vuelos = startVuelos({ simular_fallo: 'pago' }).given(event('ReservaCreada')).receive(event('PagoFallido', { motivo: 'tarjeta rechazada' }));
        expect(vuelos.state).to.equal('cancelando');
        expect(vuelos.effects).to.deep.equal([
          command('CancelarReserva', { ...base, motivo: 'tarjeta rechazada' }), // no simular_fallo on a compensation of vuelos
          schedule(compensationDeadline(ID, 'cancelando'), PLAZOS.compensacion),
        ]);
        vuelos.receive(event('ReservaCancelada'));
        expect(vuelos.effects).to.deep.equal([cancel(compensationDeadline(ID, 'cancelando'))]);
        expectFinal(vuelos, 'cancelada', 'compensated', 'tarjeta rechazada');
      });

      it('should cancel the reservation when pagos refunds before paying (its deadline expired)', () => {
        const vuelos = startVuelos().given(event('ReservaCreada')).receive(event('PagoRevertido'));
        expect(vuelos.commandEffects).to.deep.equal([command('CancelarReserva', { ...base, motivo: 'pago revertido' })]);
        expect(vuelos.state).to.equal('cancelando');
      });

      it('should cancel the reservation once the payment is refunded after the GDS failed', () => {
        const vuelos = startVuelos().given(event('ReservaCreada'), event('ReservaPagada'));
        expectUnchangedBy(vuelos, [event('ConfirmacionFallida')]); // not its business: pagos refunds first
        vuelos.receive(event('PagoRevertido'));
        expect(vuelos.commandEffects).to.deep.equal([command('CancelarReserva', { ...base, motivo: 'pago revertido' })]);
        vuelos.receive(event('ReservaCancelada'));
        expectFinal(vuelos, 'cancelada', 'compensated', 'pago revertido');
      });

      it('should cancel the reservation after a failed approval only once PagoRevertido arrives (gds and pagos undo first)', () => {
        const vuelos = startVuelos().given(event('ReservaCreada'), event('ReservaPagada'), event('ReservaGDSConfirmada'));
        vuelos.receive(event('AprobacionReservaFallida', { motivo: 'rechazada' }));
        expect(vuelos.effects, 'effects of AprobacionReservaFallida').to.deep.equal([]);
        expect(vuelos.state).to.equal('esperandoReversiones');
        expect(vuelos.status).to.equal('running');

        expectUnchangedBy(vuelos, [event('ConfirmacionGDSRevertida'), event('ReservaCancelada'), event('ReservaAprobada')]);
        vuelos.receive(event('PagoRevertido'));
        expect(vuelos.effects).to.deep.equal([
          command('CancelarReserva', { ...base, motivo: 'rechazada' }),
          schedule(compensationDeadline(ID, 'cancelando'), PLAZOS.compensacion),
        ]);
        vuelos.receive(event('ReservaCancelada'));
        expectFinal(vuelos, 'cancelada', 'compensated', 'rechazada');
        expect(vuelos.sent.map((c) => c.type)).to.deep.equal(['CrearReserva', 'AprobarReserva', 'CancelarReserva']);
      });
    });

    describe('step deadline', () => {
      it('should cancel its own reservation when CrearReserva is not answered in time', () => {
        const vuelos = startVuelos().receive(stepDeadline(ID, 'creando'));
        expect(vuelos.state).to.equal('cancelando');
        expect(vuelos.effects).to.deep.equal([
          cancel(stepDeadline(ID, 'creando')),
          command('CancelarReserva', { ...base, motivo: 'plazo vencido: CrearReserva' }),
          schedule(compensationDeadline(ID, 'cancelando'), PLAZOS.compensacion),
        ]);
        vuelos.receive(event('ReservaCancelada'));
        expectFinal(vuelos, 'cancelada', 'compensated', 'plazo vencido: CrearReserva');
      });

      it('should ignore the reservation created after its deadline expired', () => {
        const vuelos = startVuelos().given(stepDeadline(ID, 'creando'));
        expectUnchangedBy(vuelos, [event('ReservaCreada'), event('CreacionReservaFallida')]);
      });
    });

    describe('events that do not apply', () => {
      const TO = {
        creando: [] as Incoming[],
        esperandoPago: [event('ReservaCreada')],
        esperandoConfirmacion: [event('ReservaCreada'), event('ReservaPagada')],
        aprobando: [event('ReservaCreada'), event('ReservaPagada'), event('ReservaGDSConfirmada')],
      };
      it('should take the payment and GDS events that overtake ReservaCreada as if it had come first', () => {
        const paid = startVuelos().receive(event('ReservaPagada'));
        expect(paid.state).to.equal('esperandoConfirmacion');
        paid.receive(event('ReservaGDSConfirmada'));
        expect(paid.commands).to.deep.equal(['AprobarReserva']);
        paid.receive(event('ReservaCreada'));
        expect(paid.state, 'the late ReservaCreada changes nothing').to.equal('aprobando');

        const confirmed = startVuelos().receive(event('ReservaGDSConfirmada'));
        expect(confirmed.state).to.equal('aprobando');
        expect(confirmed.commands).to.deep.equal(['AprobarReserva']);

        for (const failure of [event('PagoFallido'), event('PagoRevertido')]) {
          const failed = startVuelos().receive(failure);
          expect(failed.state, failure.type).to.equal('cancelando');
          expect(failed.commands, failure.type).to.deep.equal(['CancelarReserva']);
        }
      });

      const cases: { state: string; given: Incoming[]; ignored: Incoming[] }[] = [
        { state: 'creando', given: TO.creando, ignored: [event('ReservaAprobada'), event('ConfirmacionFallida'), compensationDeadline(ID, 'cancelando')] },
        { state: 'esperandoPago', given: TO.esperandoPago, ignored: [event('ReservaCreada'), event('AprobacionReservaFallida'), stepDeadline(ID, 'creando')] },
        { state: 'esperandoConfirmacion', given: TO.esperandoConfirmacion, ignored: [event('PagoFallido'), event('ReservaAprobada'), event('ConfirmacionFallida')] },
        { state: 'aprobando', given: TO.aprobando, ignored: [event('ReservaGDSConfirmada'), event('PagoFallido'), event('ReservaCancelada')] },
        { state: 'aprobada', given: [...TO.aprobando, event('ReservaAprobada')], ignored: [event('AprobacionReservaFallida'), event('PagoRevertido')] },
        {
          state: 'cancelando',
          given: [...TO.esperandoPago, event('PagoFallido')],
          ignored: [event('ReservaPagada'), event('PagoRevertido'), event('ReservaAprobada'), stepDeadline(ID, 'creando')],
        },
        { state: 'fallida', given: [event('CreacionReservaFallida')], ignored: [event('ReservaCreada'), stepDeadline(ID, 'creando')] },
      ];
      for (const { state, given, ignored } of cases) {
        it(`should change nothing in ${state} on ${label(ignored)}`, () => {
          const vuelos = startVuelos().given(...given);
          expect(vuelos.state).to.equal(state);
          expectUnchangedBy(vuelos, ignored);
        });
      }
    });
  });

  describe('pagosReservaMachine', () => {
    const ID = 'pagosReserva';

    describe('start', () => {
      it('should be started by ReservaCreada with the failure it carries and the process\'s deadlines as input', () => {
        const input = pagosReservaSaga.startedBy.ReservaCreada({ ...EVENT_DATA.ReservaCreada, simular_fallo: 'timeout-pago' }, SETTINGS);
        expect(input).to.deep.equal({ ...base, simular_fallo: 'timeout-pago', plazos: PLAZOS });
      });

      it('should send PagarReserva built from the ReservaCreada event, with simular_fallo, and schedule its step deadline', () => {
        const pagos = startPagos({ id_reserva: 'R-1', monto: 300, monto_vat: 57, simular_fallo: 'pago' });

        expect(pagos.created).to.deep.equal({ state: 'inicio', effects: [] });
        expect(pagos.state).to.equal('pagando');
        expect(pagos.effects).to.deep.equal([
          command('PagarReserva', { ...base, simular_fallo: 'pago', monto: 300, monto_vat: 57 }),
          schedule(stepDeadline(ID, 'pagando'), PLAZOS.paso),
        ]);
        expect(pagos.status).to.equal('running');
      });

      it('should leave simular_fallo out of PagarReserva when the event has none', () => {
        expect(startPagos().commandEffects[0].data).to.deep.equal({ ...base, monto: 250, monto_vat: 47.5 });
      });
    });

    describe('happy path', () => {
      it('should charge once, wait for the approval and complete', () => {
        const pagos = startPagos();
        const states: unknown[] = [pagos.state];
        for (const e of [event('ReservaPagada'), event('ReservaAprobada')]) states.push(pagos.receive(e).state);

        expect(states).to.deep.equal(['pagando', 'pagado', 'completado']);
        expect(pagos.sent.map((c) => c.type)).to.deep.equal(['PagarReserva']);
        expectFinal(pagos, 'completado', 'completed');
      });

      it('should cancel the step deadline once paid', () => {
        expect(startPagos().receive(event('ReservaPagada')).effects).to.deep.equal([cancel(stepDeadline(ID, 'pagando'))]);
      });
    });

    describe('failures', () => {
      it('should end compensated, refunding nothing, when its own payment fails', () => {
        const pagos = startPagos().receive(event('PagoFallido', { motivo: 'tarjeta rechazada' }));
        expect(pagos.effects).to.deep.equal([cancel(stepDeadline(ID, 'pagando'))]);
        expectFinal(pagos, 'fallido', 'compensated', 'tarjeta rechazada');
      });

      it('should refund, with simular_fallo, when the GDS confirmation fails, then end compensated', () => {
        const pagos = startPagos({ simular_fallo: 'gds' }).given(event('ReservaPagada')).receive(event('ConfirmacionFallida', { motivo: 'GDS sin cupo' }));
        expect(pagos.state).to.equal('revirtiendo');
        expect(pagos.effects).to.deep.equal([
          command('RevertirPago', { ...base, simular_fallo: 'gds', motivo: 'GDS sin cupo' }),
          schedule(compensationDeadline(ID, 'revirtiendo'), PLAZOS.compensacion),
        ]);
        pagos.receive(event('PagoRevertido'));
        expect(pagos.effects).to.deep.equal([cancel(compensationDeadline(ID, 'revirtiendo'))]);
        expectFinal(pagos, 'revertido', 'compensated', 'GDS sin cupo');
      });

      it('should refund when the GDS confirmation is undone', () => {
        const pagos = startPagos().given(event('ReservaPagada')).receive(event('ConfirmacionGDSRevertida'));
        expect(pagos.commandEffects).to.deep.equal([command('RevertirPago', { ...base, motivo: 'confirmación revertida' })]);
        pagos.receive(event('PagoRevertido'));
        expectFinal(pagos, 'revertido', 'compensated', 'confirmación revertida');
      });

      it('should not refund on AprobacionReservaFallida: gds reverts its confirmation first, then pagos refunds', () => {
        expect(pagosReservaSaga.consumes).to.not.have.property('AprobacionReservaFallida');
        const pagos = startPagos().given(event('ReservaPagada'));
        expectUnchangedBy(pagos, [event('AprobacionReservaFallida')]);
        expect(pagos.state).to.equal('pagado');

        pagos.receive(event('ConfirmacionGDSRevertida'));
        expect(pagos.commands).to.deep.equal(['RevertirPago']);
      });
    });

    describe('step deadline', () => {
      it('should refund its own payment when PagarReserva is not answered in time (it may have charged late)', () => {
        const pagos = startPagos({ simular_fallo: 'timeout-pago' }).receive(stepDeadline(ID, 'pagando'));
        expect(pagos.state).to.equal('revirtiendo');
        expect(pagos.effects).to.deep.equal([
          cancel(stepDeadline(ID, 'pagando')),
          command('RevertirPago', { ...base, simular_fallo: 'timeout-pago', motivo: 'plazo vencido: PagarReserva' }),
          schedule(compensationDeadline(ID, 'revirtiendo'), PLAZOS.compensacion),
        ]);
        pagos.receive(event('PagoRevertido'));
        expectFinal(pagos, 'revertido', 'compensated', 'plazo vencido: PagarReserva');
      });

      it('should ignore the payment answered after its deadline expired', () => {
        const pagos = startPagos().given(stepDeadline(ID, 'pagando'));
        expectUnchangedBy(pagos, [event('ReservaPagada'), event('PagoFallido')]);
      });
    });

    describe('events that do not apply', () => {
      const cases: { state: string; given: Incoming[]; ignored: Incoming[] }[] = [
        { state: 'pagando', given: [], ignored: [event('ReservaCreada'), event('PagoRevertido')] },
        { state: 'pagado', given: [event('ReservaPagada')], ignored: [event('PagoFallido'), event('ReservaPagada'), event('PagoRevertido'), stepDeadline(ID, 'pagando')] },
        {
          state: 'revirtiendo',
          given: [event('ReservaPagada'), event('ConfirmacionFallida')],
          ignored: [event('ConfirmacionGDSRevertida'), event('ConfirmacionFallida'), event('ReservaAprobada'), stepDeadline(ID, 'pagando')],
        },
        { state: 'completado', given: [event('ReservaPagada'), event('ReservaAprobada')], ignored: [event('ConfirmacionFallida'), event('ConfirmacionGDSRevertida')] },
        { state: 'fallido', given: [event('PagoFallido')], ignored: [event('ReservaPagada'), stepDeadline(ID, 'pagando')] },
      ];
      for (const { state, given, ignored } of cases) {
        it(`should change nothing in ${state} on ${label(ignored)}`, () => {
          const pagos = startPagos().given(...given);
          expect(pagos.state).to.equal(state);
          expectUnchangedBy(pagos, ignored);
        });
      }
    });
  });

  describe('gdsReservaMachine', () => {
    const ID = 'gdsReserva';

    describe('start', () => {
      it('should be started by ReservaPagada with the failure it carries and the process\'s deadlines as input', () => {
        const input = gdsReservaSaga.startedBy.ReservaPagada({ ...EVENT_DATA.ReservaPagada, simular_fallo: 'aprobacion' }, SETTINGS);
        expect(input).to.deep.equal({ ...base, simular_fallo: 'aprobacion', plazos: PLAZOS });
      });

      it('should send ConfirmarReserva with simular_fallo and schedule its step deadline', () => {
        const gds = startGds({ simular_fallo: 'gds' });

        expect(gds.created).to.deep.equal({ state: 'inicio', effects: [] });
        expect(gds.state).to.equal('confirmando');
        expect(gds.effects).to.deep.equal([command('ConfirmarReserva', { ...base, simular_fallo: 'gds' }), schedule(stepDeadline(ID, 'confirmando'), PLAZOS.paso)]);
        expect(gds.status).to.equal('running');
      });

      it('should leave simular_fallo out of ConfirmarReserva when the event has none', () => {
        expect(startGds().commandEffects[0].data).to.deep.equal(base);
      });
    });

    describe('happy path', () => {
      it('should confirm with the GDS, wait for the approval and complete', () => {
        const gds = startGds();
        const states: unknown[] = [gds.state];
        for (const e of [event('ReservaGDSConfirmada'), event('ReservaAprobada')]) states.push(gds.receive(e).state);

        expect(states).to.deep.equal(['confirmando', 'confirmado', 'completado']);
        expect(gds.sent.map((c) => c.type)).to.deep.equal(['ConfirmarReserva']);
        expectFinal(gds, 'completado', 'completed');
      });
    });

    describe('failures', () => {
      it('should end compensated, reverting nothing, when its own confirmation fails', () => {
        const gds = startGds().receive(event('ConfirmacionFallida', { motivo: 'GDS sin cupo' }));
        expect(gds.effects).to.deep.equal([cancel(stepDeadline(ID, 'confirmando'))]);
        expectFinal(gds, 'fallido', 'compensated', 'GDS sin cupo');
      });

      it('should revert the confirmation when the approval fails, then end compensated', () => {
        const gds = startGds({ simular_fallo: 'aprobacion' }).given(event('ReservaGDSConfirmada')).receive(event('AprobacionReservaFallida', { motivo: 'rechazada' }));
        expect(gds.state).to.equal('revirtiendo');
        expect(gds.effects).to.deep.equal([
          command('RevertirConfirmacion', { ...base, motivo: 'rechazada' }),
          schedule(compensationDeadline(ID, 'revirtiendo'), PLAZOS.compensacion),
        ]);
        gds.receive(event('ConfirmacionGDSRevertida'));
        expect(gds.effects).to.deep.equal([cancel(compensationDeadline(ID, 'revirtiendo'))]);
        expectFinal(gds, 'revertido', 'compensated', 'rechazada');
      });
    });

    describe('step deadline', () => {
      it('should revert its own confirmation when ConfirmarReserva is not answered in time', () => {
        const gds = startGds().receive(stepDeadline(ID, 'confirmando'));
        expect(gds.state).to.equal('revirtiendo');
        expect(gds.effects).to.deep.equal([
          cancel(stepDeadline(ID, 'confirmando')),
          command('RevertirConfirmacion', { ...base, motivo: 'plazo vencido: ConfirmarReserva' }),
          schedule(compensationDeadline(ID, 'revirtiendo'), PLAZOS.compensacion),
        ]);
        gds.receive(event('ConfirmacionGDSRevertida'));
        expectFinal(gds, 'revertido', 'compensated', 'plazo vencido: ConfirmarReserva');
      });

      it('should ignore the confirmation answered after its deadline expired', () => {
        const gds = startGds().given(stepDeadline(ID, 'confirmando'));
        expectUnchangedBy(gds, [event('ReservaGDSConfirmada'), event('ConfirmacionFallida')]);
      });
    });

    describe('events that do not apply', () => {
      const cases: { state: string; given: Incoming[]; ignored: Incoming[] }[] = [
        { state: 'confirmando', given: [], ignored: [event('ReservaPagada'), event('ConfirmacionGDSRevertida'), event('ReversionConfirmacionFallida')] },
        { state: 'confirmado', given: [event('ReservaGDSConfirmada')], ignored: [event('ConfirmacionFallida'), event('ReservaGDSConfirmada'), stepDeadline(ID, 'confirmando')] },
        {
          state: 'revirtiendo',
          given: [event('ReservaGDSConfirmada'), event('AprobacionReservaFallida')],
          ignored: [event('AprobacionReservaFallida'), event('ReservaAprobada'), event('PagoRevertido'), stepDeadline(ID, 'confirmando')],
        },
        { state: 'completado', given: [event('ReservaGDSConfirmada'), event('ReservaAprobada')], ignored: [event('AprobacionReservaFallida')] },
        { state: 'fallido', given: [event('ConfirmacionFallida')], ignored: [event('ReservaGDSConfirmada'), stepDeadline(ID, 'confirmando')] },
      ];
      for (const { state, given, ignored } of cases) {
        it(`should change nothing in ${state} on ${label(ignored)}`, () => {
          const gds = startGds().given(...given);
          expect(gds.state).to.equal(state);
          expectUnchangedBy(gds, ignored);
        });
      }
    });
  });

  describe('compensations retried', () => {
    const cases = [
      {
        participant: 'vuelos',
        id: 'vuelosReserva',
        command: 'CancelarReserva',
        state: 'cancelando',
        confirmation: event('ReservaCancelada'),
        failure: event('CancelacionReservaFallida'),
        done: 'cancelada',
        reach: (overrides: Record<string, unknown> = {}) => startVuelos({ simular_fallo: 'pago' }, overrides).given(event('ReservaCreada'), event('PagoFallido', { motivo: 'tarjeta rechazada' })),
        data: { ...base, motivo: 'tarjeta rechazada' },
      },
      {
        participant: 'pagos',
        id: 'pagosReserva',
        command: 'RevertirPago',
        state: 'revirtiendo',
        confirmation: event('PagoRevertido'),
        failure: event('ReversionPagoFallida'),
        done: 'revertido',
        reach: (overrides: Record<string, unknown> = {}) =>
          startPagos({ simular_fallo: 'revertir-pago' }, overrides).given(event('ReservaPagada'), event('ConfirmacionFallida', { motivo: 'GDS sin cupo' })),
        data: { ...base, simular_fallo: 'revertir-pago', motivo: 'GDS sin cupo' },
      },
      {
        participant: 'gds',
        id: 'gdsReserva',
        command: 'RevertirConfirmacion',
        state: 'revirtiendo',
        confirmation: event('ConfirmacionGDSRevertida'),
        failure: event('ReversionConfirmacionFallida'),
        done: 'revertido',
        reach: (overrides: Record<string, unknown> = {}) => startGds({}, overrides).given(event('ReservaGDSConfirmada'), event('AprobacionReservaFallida', { motivo: 'rechazada' })),
        data: { ...base, motivo: 'rechazada' },
      },
    ] as const;

    for (const c of cases) {
      const deadline = compensationDeadline(c.id, c.state);
      describe(`${c.command} (${c.participant})`, () => {
        it(`should record ${c.failure.type}, send ${c.command} again only when its wait runs out, waiting longer each time, and finish once confirmed`, () => {
          const instance = c.reach();
          expect(instance.context.intentos, 'first attempt').to.equal(1);
          instance.receive(c.failure);
          expect(instance.state).to.equal(c.state);
          expect(instance.effects, 'nothing sent at once').to.deep.equal([]);
          expect(instance.context.ultimoFallo).to.equal(c.failure.data.motivo);

          instance.receive(deadline);
          expect(instance.effects).to.deep.equal([cancel(deadline), command(c.command, c.data), schedule(deadline, 2 * PLAZOS.compensacion)]);
          expect(instance.context.intentos).to.equal(2);

          instance.receive(c.confirmation);
          expectFinal(instance, c.done, 'compensated', c.data.motivo);
          expect(instance.sentOf(c.command)).to.have.length(2);
        });

        it(`should stop in reparacionManual after maxReintentos unconfirmed attempts of ${c.command}, and finish when the confirmation comes late`, () => {
          const instance = c.reach({ maxReintentos: 3 });
          instance.given(c.failure, deadline, deadline);
          expect(instance.state, 'after 2 unconfirmed attempts of 3').to.equal(c.state);
          instance.receive(c.failure).receive(deadline);

          const participant = { vuelosReserva: 'vuelos', pagosReserva: 'pagos', gdsReserva: 'gds' }[c.id];
          const aviso = { ...base, servicio: participant, motivo: `compensación agotada: ${c.command}` };
          expect(instance.effects, 'effects of the last wait: the tracker is told').to.deep.equal([cancel(deadline), published('ReparacionManualRequerida', aviso)]);
          expect(instance.sentOf(c.command).map((s) => s.data), `${c.command} attempts`).to.deep.equal([c.data, c.data, c.data]);
          expectFinal(instance, 'reparacionManual', 'failed', `compensación agotada: ${c.command}`);
          expectUnchangedBy(instance, [c.failure, deadline]);

          instance.receive(c.confirmation);
          expect(instance.state).to.equal(c.done);
          expect(instance.status).to.equal('compensated');
        });

        it('should honour maxReintentos from the input', () => {
          const instance = c.reach({ maxReintentos: 1 }).receive(deadline);
          expect(instance.commands, 'no second attempt; the tracker is told').to.deep.equal(['ReparacionManualRequerida']);
          expectFinal(instance, 'reparacionManual', 'failed', `compensación agotada: ${c.command}`);
        });
      });
    }
  });

  describe('seguimientoMachine (the tracker)', () => {
    const startTracker = (first: Incoming) => Instance.startedBy<SeguimientoContext>(seguimientoSaga, first as { type: EventType; data: unknown });

    /** Feeds the events one by one, expecting no effect from any, and returns the states it went through. */
    function follow(events: Incoming[]) {
      const tracker = startTracker(events[0]);
      expect(tracker.effects, `effects of ${events[0].type}`).to.deep.equal([]);
      const states: unknown[] = [tracker.state];
      for (const e of events.slice(1)) {
        tracker.receive(e);
        expect(tracker.effects, `effects of ${e.type}`).to.deep.equal([]);
        states.push(tracker.state);
      }
      return { tracker, states };
    }

    it('should start on any domain event and record it as the first step', () => {
      const expected: Partial<Record<EventType, string>> = {
        ReservaAprobada: 'completada',
        CreacionReservaFallida: 'compensada',
        ReservaCancelada: 'compensada',
        PagoFallido: 'compensando',
        ConfirmacionFallida: 'compensando',
        AprobacionReservaFallida: 'compensando',
        PagoRevertido: 'compensando',
        ConfirmacionGDSRevertida: 'compensando',
        ReparacionManualRequerida: 'reparacionManual',
      };
      for (const type of ALL_EVENTS) {
        const data = { ...EVENT_DATA[type], id_correlacion: 'saga-9', id_reserva: 'R-9' };
        expect(seguimientoSaga.startedBy[type](data), `input built from ${type}`).to.deep.equal({ id_correlacion: 'saga-9', id_reserva: 'R-9' });
        const tracker = startTracker({ type, data });
        expect(tracker.created.state).to.equal('enCurso');
        expect(tracker.context.pasos, type).to.deep.equal([type]);
        expect(tracker.state, type).to.equal(expected[type] ?? 'enCurso');
        expect(tracker.effects, type).to.deep.equal([]);
      }
    });

    it('should follow the happy path and complete on ReservaAprobada', () => {
      const steps = [event('ReservaCreada'), event('ReservaPagada'), event('ReservaGDSConfirmada'), event('ReservaAprobada')];
      const { tracker, states } = follow(steps);
      expect(states).to.deep.equal(['enCurso', 'enCurso', 'enCurso', 'completada']);
      expect(tracker.context.pasos).to.deep.equal(steps.map((s) => s.type));
      expect(tracker.status).to.equal('completed');
      expect(tracker.snapshot.hasTag('completed')).to.equal(true);
      expect(tracker.context.motivo).to.equal(undefined);
    });

    it('should go through compensando on a failure and end compensated on ReservaCancelada, recording every step in order', () => {
      const steps = [
        event('ReservaCreada'),
        event('ReservaPagada'),
        event('ReservaGDSConfirmada'),
        event('AprobacionReservaFallida', { motivo: 'rechazada' }),
        event('ConfirmacionGDSRevertida'),
        event('PagoRevertido'),
        event('ReservaCancelada'),
      ];
      const { tracker, states } = follow(steps);
      expect(states).to.deep.equal(['enCurso', 'enCurso', 'enCurso', 'compensando', 'compensando', 'compensando', 'compensada']);
      expect(tracker.context.pasos).to.deep.equal(steps.map((s) => s.type));
      expect(tracker.context.motivo, 'the first failure tells why').to.equal('rechazada');
      expect(tracker.status).to.equal('compensated');
      expect(tracker.snapshot.hasTag('compensated')).to.equal(true);
    });

    const fallos = [event('PagoFallido'), event('ConfirmacionFallida'), event('AprobacionReservaFallida'), event('PagoRevertido'), event('ConfirmacionGDSRevertida')];
    for (const fallo of fallos) {
      it(`should be compensating, still running, after ${fallo.type}`, () => {
        const { tracker } = follow([event('ReservaCreada'), fallo]);
        expect(tracker.state).to.equal('compensando');
        expect(tracker.status).to.equal('running');
        expect(tracker.context.motivo).to.equal('motivo' in fallo.data ? fallo.data.motivo : fallo.type);
        tracker.receive(event('ReservaCancelada'));
        expect(tracker.status).to.equal('compensated');
      });
    }

    it('should end compensated directly on CreacionReservaFallida', () => {
      const { tracker, states } = follow([event('CreacionReservaFallida', { motivo: 'sin sillas' })]);
      expect(states).to.deep.equal(['compensada']);
      expect(tracker.context).to.deep.equal({ ...base, pasos: ['CreacionReservaFallida'], motivo: 'sin sillas' });
      expect(tracker.status).to.equal('compensated');
    });

    it('should end compensated on ReservaCancelada without a failure event before it (vuelos\' own deadline)', () => {
      const { tracker } = follow([event('ReservaCancelada')]);
      expect(tracker.status).to.equal('compensated');
      expect(tracker.context.pasos).to.deep.equal(['ReservaCancelada']);
    });

    it('should record failed compensations while compensating, without finishing', () => {
      const { tracker } = follow([event('ReservaCreada'), event('PagoFallido'), event('CancelacionReservaFallida'), event('CancelacionReservaFallida')]);
      expect(tracker.state).to.equal('compensando');
      expect(tracker.context.pasos).to.deep.equal(['ReservaCreada', 'PagoFallido', 'CancelacionReservaFallida', 'CancelacionReservaFallida']);
    });

    it('should show the saga failed when a participant stops for manual repair, and compensated once the reservation is cancelled after all', () => {
      const { tracker } = follow([event('ReservaCreada'), event('ReservaPagada'), event('ConfirmacionFallida'), event('ReversionPagoFallida'), event('ReparacionManualRequerida')]);
      expect(tracker.state).to.equal('reparacionManual');
      expect(tracker.status).to.equal('failed');
      tracker.given(event('PagoRevertido'), event('ReservaCancelada'));
      expect(tracker.state).to.equal('compensada');
      expect(tracker.status).to.equal('compensated');
    });

    it('should stay where it ended, sending nothing, when an event arrives once final', () => {
      const { tracker } = follow([event('ReservaCreada'), event('ReservaPagada'), event('ReservaGDSConfirmada'), event('ReservaAprobada')]);
      for (const late of [event('AprobacionReservaFallida'), event('ReservaCancelada')]) {
        tracker.receive(late);
        expect(tracker.effects, late.type).to.deep.equal([]);
        expect(tracker.state, late.type).to.equal('completada');
        expect(tracker.status, late.type).to.equal('completed');
        expect(tracker.context.motivo, late.type).to.equal(undefined);
      }
    });

    it('should send no command', () => {
      expect(seguimientoSaga.commands).to.deep.equal({});
    });
  });

  describe('definitions', () => {
    const definitions = [vuelosReservaSaga, pagosReservaSaga, gdsReservaSaga, seguimientoSaga] as const;
    const starters: Record<string, string[]> = {
      'vuelos-reserva': ['IniciarReserva'],
      'pagos-reserva': ['ReservaCreada'],
      'gds-reserva': ['ReservaPagada'],
      'reserva-coreografia': ALL_EVENTS,
    };

    for (const definition of definitions) {
      describe(definition.type, () => {
        it('should consume every message type that starts it', () => {
          expect(Object.keys(definition.startedBy)).to.have.members(starters[definition.type]);
          for (const type of Object.keys(definition.startedBy)) expect(definition.consumes, `${type} starts ${definition.type}`).to.have.property(type);
        });

        it('should consume each message type from the topic TOPICS names for it, and send each command to its topic', () => {
          for (const [type, topic] of Object.entries(definition.consumes)) expect(topic, type).to.equal(TOPICS[type as MessageType]);
          for (const [type, topic] of Object.entries(definition.commands)) expect(topic, type).to.equal(TOPICS[type as MessageType]);
        });

        it('should consume domain events from the event topics only (and vuelos its start request)', () => {
          for (const [type, topic] of Object.entries(definition.consumes)) {
            if (type === 'IniciarReserva') continue;
            expect(EVENT_TOPICS as readonly string[], type).to.include(topic);
          }
        });
      });
    }

    it('should let the tracker consume every domain event', () => {
      expect(Object.keys(seguimientoSaga.consumes)).to.have.members(ALL_EVENTS);
    });
  });
});

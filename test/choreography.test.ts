import { expect } from 'chai';
import { TOPICS, type CommandType, type SimulatedFailure } from '../machines/messages.ts';
import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import type { OutgoingMessage, Transport } from '../runtime/ports.ts';
import type { ReservaInput } from '../machines/reserva.ts';
import type { SagaInstanceRecord, SagaStatus } from '../runtime/ports.ts';
import { loadConfig, type Config } from '../services/config.ts';
import { createSystem, type System, type SystemOptions } from '../services/system.ts';
import { eachDatabase } from './support/databases.ts';
import { reservaInput, waitForStatus } from './support/system.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const TRACKER = 'reserva-coreografia';
const PARTICIPANTS = ['vuelos-reserva', 'pagos-reserva', 'gds-reserva'] as const;
type ParticipantSaga = (typeof PARTICIPANTS)[number];

/** Step deadline of the scenarios that wait for one; the others use one they never reach. */
const PLAZO_CORTO_MS = 1_000;
const PLAZO_LARGO_MS = 10_000;

/** A whole system in one process on `databaseUrl`, in the given saga style, polling fast. */
async function startStyle(databaseUrl: string, style: Config['style'], plazoPasoMs: number, options: SystemOptions = {}): Promise<System> {
  const config = { ...loadConfig({ SAGA_STYLE: style, SAGA_PLAZO_PASO_MS: String(plazoPasoMs), SAGA_OUTAGE_GRACE_MS: '0' }), databaseUrl };
  return createSystem(config, { relayPollMs: 50, deadlinePollMs: 100, ...options });
}

/** Polls the store until the tracker of the choreographed saga `id` is final. */
async function waitForTracker(system: System, id: string, timeoutMs = 10_000): Promise<SagaInstanceRecord> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const tracker = await system.store.getInstance(TRACKER, id);
    if (tracker && tracker.status !== 'running') return tracker;
    if (Date.now() > until) {
      const parts = await Promise.all(PARTICIPANTS.map(async (t) => `${t}: ${(await system.store.getInstance(t, id))?.stateValue ?? '-'}`));
      throw new Error(`the tracker of ${id} is not final after ${timeoutMs} ms (${tracker?.stateValue ?? 'no tracker'}; ${parts.join(', ')})`);
    }
    await sleep(25);
  }
}

/** The domain events in the tracker's log, in the order it saw them. */
async function trackedEvents(system: System, id: string): Promise<string[]> {
  return (await system.store.readLog(TRACKER, id)).filter((e) => e.kind === 'event' && e.type !== 'xstate.init').map((e) => e.type);
}

/** Final state and status of each participant's part of saga `id` (null when it never started). */
async function participantInstances(system: System, id: string) {
  const parts = {} as Record<ParticipantSaga, { state: string; status: SagaStatus } | null>;
  for (const type of PARTICIPANTS) {
    const record = await system.store.getInstance(type, id);
    parts[type] = record ? { state: record.stateValue, status: record.status } : null;
  }
  return parts;
}

/**
 * What each participant holds of one reservation in its own tables, without what is
 * different on every run (timestamps, the payment's random id).
 */
async function participantTables(system: System, idReserva: string) {
  const strip = (row: object | null) => {
    if (!row) return null;
    const { fecha_creacion: _c, fecha_actualizacion: _a, id_pago: _p, ...rest } = row as Record<string, unknown>;
    for (const key of ['monto', 'monto_vat', 'cargos', 'reembolsos']) if (key in rest) rest[key] = Number(rest[key]);
    return rest;
  };
  return {
    vuelos: strip(await system.vuelos.row(idReserva)),
    pagos: strip(await system.pagos.row(idReserva)),
    gds: strip(await system.gds.row(idReserva)),
  };
}

interface Scenario {
  fallo: SimulatedFailure | null;
  status: SagaStatus;
  tracker: string;
  events: string[];
  instances: Record<ParticipantSaga, string | null>;
  reserva: string | null;
  pago: { estado: string; cargos: number; reembolsos: number } | null;
  gds: string | null;
}

const SCENARIOS: Scenario[] = [
  {
    fallo: null,
    status: 'completed',
    tracker: 'completada',
    events: ['ReservaCreada', 'ReservaPagada', 'ReservaGDSConfirmada', 'ReservaAprobada'],
    instances: { 'vuelos-reserva': 'aprobada', 'pagos-reserva': 'completado', 'gds-reserva': 'completado' },
    reserva: 'aprobada',
    pago: { estado: 'pagado', cargos: 1, reembolsos: 0 },
    gds: 'confirmada',
  },
  {
    fallo: 'reserva',
    status: 'compensated',
    tracker: 'compensada',
    events: ['CreacionReservaFallida'],
    instances: { 'vuelos-reserva': 'fallida', 'pagos-reserva': null, 'gds-reserva': null },
    reserva: null,
    pago: null,
    gds: null,
  },
  {
    fallo: 'pago',
    status: 'compensated',
    tracker: 'compensada',
    events: ['ReservaCreada', 'PagoFallido', 'ReservaCancelada'],
    instances: { 'vuelos-reserva': 'cancelada', 'pagos-reserva': 'fallido', 'gds-reserva': null },
    reserva: 'cancelada',
    pago: null,
    gds: null,
  },
  {
    fallo: 'gds',
    status: 'compensated',
    tracker: 'compensada',
    events: ['ReservaCreada', 'ReservaPagada', 'ConfirmacionFallida', 'PagoRevertido', 'ReservaCancelada'],
    instances: { 'vuelos-reserva': 'cancelada', 'pagos-reserva': 'revertido', 'gds-reserva': 'fallido' },
    reserva: 'cancelada',
    pago: { estado: 'revertido', cargos: 1, reembolsos: 1 },
    gds: null,
  },
  {
    fallo: 'aprobacion',
    status: 'compensated',
    tracker: 'compensada',
    events: ['ReservaCreada', 'ReservaPagada', 'ReservaGDSConfirmada', 'AprobacionReservaFallida', 'ConfirmacionGDSRevertida', 'PagoRevertido', 'ReservaCancelada'],
    instances: { 'vuelos-reserva': 'cancelada', 'pagos-reserva': 'revertido', 'gds-reserva': 'revertido' },
    reserva: 'cancelada',
    pago: { estado: 'revertido', cargos: 1, reembolsos: 1 },
    gds: 'revertida',
  },
  {
    // pagos never answers: pagos' own step deadline refunds (a tombstone: nothing was charged), then vuelos cancels.
    fallo: 'timeout-pago',
    status: 'compensated',
    tracker: 'compensada',
    events: ['ReservaCreada', 'PagoRevertido', 'ReservaCancelada'],
    instances: { 'vuelos-reserva': 'cancelada', 'pagos-reserva': 'revertido', 'gds-reserva': null },
    reserva: 'cancelada',
    pago: { estado: 'revertido', cargos: 0, reembolsos: 0 },
    gds: null,
  },
];

const STATUS_OF_STATE: Record<string, SagaStatus> = {
  aprobada: 'completed',
  completado: 'completed',
  fallida: 'compensated',
  fallido: 'compensated',
  cancelada: 'compensated',
  revertido: 'compensated',
};

describe('the saga by choreography, in one process', function () {
  this.timeout(20_000);

  eachDatabase((db) => {
    const systems: System[] = [];
    const start = async (url: string, style: Config['style'], plazoPasoMs: number) => {
      const system = await startStyle(url, style, plazoPasoMs);
      systems.push(system);
      return system;
    };
    const stop = async (system: System) => {
      systems.splice(systems.indexOf(system), 1);
      await system.close();
    };
    afterEach(async () => {
      for (const system of systems.splice(0)) await system.close().catch(() => undefined);
    });

    for (const s of SCENARIOS) {
      it(`should end "${s.fallo ?? 'happy path'}" ${s.status}, leaving the participants' tables as the orchestrated saga does`, async () => {
        const timeout = s.fallo === 'timeout-pago';
        const plazo = timeout ? PLAZO_CORTO_MS : PLAZO_LARGO_MS;
        const [choreography, orchestration] = await Promise.all([start(await db.fresh(), 'choreography', plazo), start(await db.fresh(), 'orchestration', plazo)]);
        // The same request in both styles (each on its own database): same ids, so the rows compare whole.
        const input: ReservaInput = reservaInput({
          ...(s.fallo ? { simular_fallo: s.fallo } : {}),
          ...(timeout ? { plazos: { paso: PLAZO_CORTO_MS } } : {}), // the orchestrated saga takes its deadlines from the request
        });
        const id = input.id_correlacion;

        await Promise.all([choreography.requestReserva(input), orchestration.requestReserva(input)]);
        const [tracker, orchestrated] = await Promise.all([waitForTracker(choreography, id), waitForStatus(orchestration, id, 'final')]);

        // The tracker: where the saga stands, and every domain event in the order it saw them.
        expect(tracker.status).to.equal(s.status);
        expect(tracker.stateValue).to.equal(s.tracker);
        expect(await trackedEvents(choreography, id)).to.deep.equal(s.events);
        expect(await choreography.store.readLog(TRACKER, id).then((log) => log.filter((e) => e.kind === 'command'))).to.deep.equal([]);

        // Each participant's part of the saga is final once the tracker is.
        const expectedInstances = Object.fromEntries(
          PARTICIPANTS.map((t) => [t, s.instances[t] === null ? null : { state: s.instances[t], status: STATUS_OF_STATE[s.instances[t]!] }]),
        );
        expect(await participantInstances(choreography, id)).to.deep.equal(expectedInstances);

        // The participants' own tables.
        const tables = await participantTables(choreography, input.id_reserva);
        expect(tables.vuelos?.estado ?? null, 'vuelos').to.equal(s.reserva);
        if (s.reserva === 'aprobada') expect(tables.vuelos).to.include({ id_correlacion: id, id_cliente: input.id_cliente, monto: input.monto, monto_vat: input.monto_vat });
        expect(tables.pagos && { estado: tables.pagos.estado, cargos: tables.pagos.cargos, reembolsos: tables.pagos.reembolsos }, 'pagos').to.deep.equal(s.pago);
        if (s.pago?.cargos) expect(tables.pagos).to.include({ monto: input.monto, monto_vat: input.monto_vat });
        expect(tables.gds?.estado ?? null, 'gds').to.equal(s.gds);

        // ... exactly as the orchestrated saga leaves them for the same request.
        expect(orchestrated.status).to.equal(s.status);
        expect(tables, 'choreography vs orchestration').to.deep.equal(await participantTables(orchestration, input.id_reserva));

        // Every instance's snapshot is what its log replays to.
        for (const type of [TRACKER, ...PARTICIPANTS.filter((t) => s.instances[t] !== null)]) {
          const report = await choreography.runtime.verify(type, id);
          expect(report.ok, `verify ${type}: ${report.differences.join('; ')}`).to.equal(true);
        }
        expect((await orchestration.runtime.verify('reserva', id)).ok).to.equal(true);
      });
    }

    for (const slow of [['PagarReserva', 'RevertirPago'], ['CrearReserva', 'CancelarReserva']] as CommandType[][]) {
      it(`should leave nothing done when ${slow[0]} is answered after its deadline`, async () => {
        const config = { ...loadConfig({ SAGA_STYLE: 'choreography', SAGA_PLAZO_PASO_MS: '400', SAGA_OUTAGE_GRACE_MS: '0' }), databaseUrl: await db.fresh() };
        const system = await createSystem(config, { relayPollMs: 50, deadlinePollMs: 100, transport: new SlowParticipantTransport(slow, 900) });
        systems.push(system);
        const input = reservaInput({ plazos: { paso: 400 } });
        await system.requestReserva(input);
        await waitForStatus(system, input.id_correlacion, 'final', 10_000, 'reserva-coreografia').catch(() => undefined);
        const until = Date.now() + 10_000;
        const parts = ['vuelos-reserva', 'pagos-reserva', 'gds-reserva'];
        const running = async () => (await Promise.all(parts.map((t) => system.store.getInstance(t, input.id_correlacion)))).filter((r) => r?.status === 'running');
        while ((await running()).length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));

        expect((await running()).map((r) => `${r?.sagaType}:${r?.stateValue}`)).to.deep.equal([]);
        const pago = await system.pagos.row(input.id_reserva);
        expect(pago === null || pago.cargos === pago.reembolsos, 'every charge refunded').to.equal(true);
        expect((await system.gds.row(input.id_reserva))?.estado ?? 'revertida').to.equal('revertida');
        expect((await system.vuelos.row(input.id_reserva))?.estado).to.equal('cancelada');
      });
    }

    it('should fire a deadline that fell due while the process was down once it is back, and compensate', async () => {
      const url = await db.fresh();
      const plazo = PLAZO_CORTO_MS;
      const first = await start(url, 'choreography', plazo);
      const input = reservaInput({ simular_fallo: 'timeout-pago' });
      const id = input.id_correlacion;
      await first.requestReserva(input);

      // pagos charged nothing and will never answer; stop the process while its part waits in pagando.
      const until = Date.now() + 5_000;
      while ((await first.store.getInstance('pagos-reserva', id))?.stateValue !== 'pagando') {
        if (Date.now() > until) throw new Error('pagos-reserva never reached pagando');
        await sleep(5);
      }
      await stop(first);

      const probe = await startStyle(url, 'choreography', plazo, { listen: false }); // reads the store; runs nothing
      const [deadline] = await probe.store.deadlinesOf('pagos-reserva', id);
      expect((await probe.store.getInstance('pagos-reserva', id))?.stateValue, 'pagos-reserva when the process stopped').to.equal('pagando');
      expect((await probe.store.getInstance(TRACKER, id))?.status).to.equal('running');
      expect(deadline?.timerId).to.equal('xstate.after.plazoPaso.pagosReserva.pagando');
      await probe.close();

      await sleep(Math.max(0, deadline.dueAt - Date.now()) + 200);
      const restartedAt = Date.now();
      const second = await start(url, 'choreography', plazo);
      const tracker = await waitForTracker(second, id);

      expect(tracker.status).to.equal('compensated');
      expect(await trackedEvents(second, id)).to.deep.equal(['ReservaCreada', 'PagoRevertido', 'ReservaCancelada']);
      const timers = (await second.store.readLog('pagos-reserva', id)).filter((e) => e.kind === 'timer');
      expect(timers.map((t) => t.type)).to.deep.equal(['xstate.after.plazoPaso.pagosReserva.pagando']);
      expect(timers[0].at, 'fired after the restart').to.be.at.least(restartedAt);
      expect(await participantInstances(second, id)).to.deep.equal({
        'vuelos-reserva': { state: 'cancelada', status: 'compensated' },
        'pagos-reserva': { state: 'revertido', status: 'compensated' },
        'gds-reserva': null,
      });
      expect((await second.vuelos.row(input.id_reserva))?.estado).to.equal('cancelada');
      expect(await second.pagos.row(input.id_reserva)).to.include({ estado: 'revertido', cargos: 0, reembolsos: 0 });
      for (const type of [TRACKER, 'vuelos-reserva', 'pagos-reserva']) {
        const report = await second.runtime.verify(type, id);
        expect(report.ok, `verify ${type}: ${report.differences.join('; ')}`).to.equal(true);
      }
    });
  });
});

/** Delays the first of a participant's commands by `delayMs` (keeping their order): a participant answering late. */
class SlowParticipantTransport implements Transport {
  private readonly inner = new InMemoryTransport();
  private queue: Promise<unknown> = Promise.resolve();
  private first = true;
  private readonly topics: Set<string>;
  constructor(commands: CommandType[], private readonly delayMs: number) {
    this.topics = new Set(commands.map((c) => TOPICS[c]));
  }
  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    if (!this.topics.has(topic)) return this.inner.publish(topic, message);
    const wait = this.first ? this.delayMs : 0;
    this.first = false;
    this.queue = this.queue.then(() => new Promise((r) => setTimeout(r, wait))).then(() => this.inner.publish(topic, message)).catch(() => undefined);
  }
  subscribe: Transport['subscribe'] = (options) => this.inner.subscribe(options);
  close = () => this.inner.close();
}

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { QueryTypes } from 'sequelize';
import { reservaSaga } from '../machines/reserva.ts';
import type { SimulatedFailure } from '../machines/messages.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import { UnavailableError, UnknownMachineVersionError } from '../runtime/errors.ts';
import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import type { OutgoingMessage, SagaStore, Transport, UnitOfWork } from '../runtime/ports.ts';
import { SagaRuntime } from '../runtime/saga-runtime.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { connect } from '../db/connect.ts';
import type { System } from '../services/system.ts';
import { eachDatabase } from './support/databases.ts';
import { reservaInput, startSystem, waitForStatus } from './support/system.ts';
import { waitFor } from './support/wait.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function commandsOf(system: System, id: string): Promise<string[]> {
  return (await system.store.readLog('reserva', id)).filter((e) => e.kind === 'command').map((e) => e.type);
}

async function eventsOf(system: System, id: string): Promise<string[]> {
  return (await system.store.readLog('reserva', id)).filter((e) => e.kind === 'event').map((e) => e.type);
}

async function waitForState(system: System, id: string, state: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await system.store.getInstance('reserva', id))?.stateValue !== state) {
    if (Date.now() > until) throw new Error(`saga ${id} never reached ${state}`);
    await sleep(20);
  }
}

/** A transport that can be "down", or that fails right after publishing chosen messages. */
class FaultyTransport implements Transport {
  down = false;
  readonly published: { topic: string; id: string }[] = [];
  failAfterPublishing = new Set<string>();
  constructor(private readonly inner: Transport) {}
  async publish(topic: string, message: OutgoingMessage) {
    if (this.down) throw new UnavailableError('broker unreachable');
    await this.inner.publish(topic, message);
    const id = JSON.parse(message.payload).id as string;
    this.published.push({ topic, id });
    if (this.failAfterPublishing.delete(topic)) throw new Error('crashed after publish, before marking sent');
  }
  subscribe: Transport['subscribe'] = (options) => this.inner.subscribe(options);
  close = () => this.inner.close();
}

describe('SagaRuntime with the reservation saga', function () {
  this.timeout(30_000);

  eachDatabase((db) => {
    let system: System;
    const systems: System[] = [];
    const start = async (url: string, options: Parameters<typeof startSystem>[1] = {}) => {
      const s = await startSystem(url, options);
      systems.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of systems.splice(0)) await s.close().catch(() => undefined);
    });

    it('should complete the reservation on the happy path, with every step in the saga log', async () => {
      system = await start(await db.fresh());
      const input = reservaInput();
      await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
      const done = await waitForStatus(system, input.id_correlacion, 'completed');

      expect(done.stateValue).to.equal('completada');
      expect(await commandsOf(system, input.id_correlacion)).to.deep.equal(['CrearReserva', 'PagarReserva', 'ConfirmarReserva', 'AprobarReserva']);
      expect(await eventsOf(system, input.id_correlacion)).to.deep.equal(['xstate.init', 'ReservaCreada', 'ReservaPagada', 'ReservaGDSConfirmada', 'ReservaAprobada']);
      const log = await system.store.readLog('reserva', input.id_correlacion);
      expect(log.map((e) => e.seq)).to.deep.equal(log.map((_, i) => i + 1));
      expect((await system.vuelos.row(input.id_reserva))?.estado).to.equal('aprobada');
      const pago = await system.pagos.row(input.id_reserva);
      expect(pago).to.include({ estado: 'pagado', cargos: 1, monto: input.monto });
      expect((await system.gds.row(input.id_reserva))?.estado).to.equal('confirmada');
      await waitUntil(async () => (await system.notificaciones.enviadas(input.id_correlacion)).length === 1);
      expect((await system.runtime.verify('reserva', input.id_correlacion)).ok).to.equal(true);
    });

    const failures: { fallo: SimulatedFailure; commands: string[]; reserva: string | null; pago: string | null; gds: string | null }[] = [
      { fallo: 'reserva', commands: ['CrearReserva'], reserva: null, pago: null, gds: null },
      { fallo: 'pago', commands: ['CrearReserva', 'PagarReserva', 'CancelarReserva'], reserva: 'cancelada', pago: null, gds: null },
      { fallo: 'gds', commands: ['CrearReserva', 'PagarReserva', 'ConfirmarReserva', 'RevertirPago', 'CancelarReserva'], reserva: 'cancelada', pago: 'revertido', gds: null },
      {
        fallo: 'aprobacion',
        commands: ['CrearReserva', 'PagarReserva', 'ConfirmarReserva', 'AprobarReserva', 'RevertirConfirmacion', 'RevertirPago', 'CancelarReserva'],
        reserva: 'cancelada',
        pago: 'revertido',
        gds: 'revertida',
      },
    ];
    for (const f of failures) {
      it(`should compensate the done steps newest first when step "${f.fallo}" fails`, async () => {
        system = await start(await db.fresh());
        const input = reservaInput({ simular_fallo: f.fallo });
        await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
        const done = await waitForStatus(system, input.id_correlacion, 'final');

        expect(done.status).to.equal('compensated');
        expect(done.stateValue).to.equal('compensada');
        expect(await commandsOf(system, input.id_correlacion)).to.deep.equal(f.commands);
        expect((await system.vuelos.row(input.id_reserva))?.estado ?? null).to.equal(f.reserva);
        expect((await system.pagos.row(input.id_reserva))?.estado ?? null).to.equal(f.pago);
        expect((await system.gds.row(input.id_reserva))?.estado ?? null).to.equal(f.gds);
        if (f.pago === 'revertido') expect(await system.pagos.row(input.id_reserva)).to.include({ cargos: 1, reembolsos: 1 });
        expect((await system.runtime.verify('reserva', input.id_correlacion)).ok).to.equal(true);
      });
    }

    it('should compensate the unanswered step and the ones before it when a deadline expires', async () => {
      system = await start(await db.fresh());
      const input = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 300 } });
      await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
      const done = await waitForStatus(system, input.id_correlacion, 'final');

      expect(done.status).to.equal('compensated');
      expect(await commandsOf(system, input.id_correlacion)).to.deep.equal(['CrearReserva', 'PagarReserva', 'RevertirPago', 'CancelarReserva']);
      const timers = (await system.store.readLog('reserva', input.id_correlacion)).filter((e) => e.kind === 'timer');
      expect(timers.map((t) => t.type)).to.deep.equal(['xstate.after.plazoPaso.reserva.pagando']);
      expect(await system.pagos.row(input.id_reserva)).to.include({ estado: 'revertido', cargos: 0 });
      expect(await system.store.deadlinesOf('reserva', input.id_correlacion)).to.deep.equal([]);
    });

    it('should fire a deadline that fell due while the runtime was down, at once after restart', async () => {
      const url = await db.fresh();
      system = await start(url);
      const input = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 800 } });
      await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
      await waitForState(system, input.id_correlacion, 'pagando');
      const [pending] = await system.store.deadlinesOf('reserva', input.id_correlacion);
      expect(pending.timerId).to.equal('xstate.after.plazoPaso.reserva.pagando');
      await system.close();

      await sleep(Math.max(0, pending.dueAt - Date.now()) + 200);
      const restartedAt = Date.now();
      const restarted = await start(url);
      const done = await waitForStatus(restarted, input.id_correlacion, 'compensated');
      const timer = (await restarted.store.readLog('reserva', input.id_correlacion)).find((e) => e.kind === 'timer')!;
      expect(timer.at).to.be.at.least(restartedAt);
      expect(done.stateValue).to.equal('compensada');
      expect(await commandsOf(restarted, input.id_correlacion)).to.deep.equal(['CrearReserva', 'PagarReserva', 'RevertirPago', 'CancelarReserva']);
    });

    it('should not fire a restored deadline before it is due', async () => {
      const url = await db.fresh();
      system = await start(url);
      const input = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 1500 } });
      await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
      await waitForState(system, input.id_correlacion, 'pagando');
      // Armed once PagarReserva is published and marked sent (the relay marks within markDelayMs).
      await waitFor(async () => (await system.store.deadlinesOf('reserva', input.id_correlacion))[0]?.afterMessage === null, 'the step deadline to be armed');
      const [pending] = await system.store.deadlinesOf('reserva', input.id_correlacion);
      await system.close();

      const restarted = await start(url);
      await sleep(200);
      expect((await restarted.store.getInstance('reserva', input.id_correlacion))?.stateValue).to.equal('pagando');
      await waitForStatus(restarted, input.id_correlacion, 'compensated');
      const timer = (await restarted.store.readLog('reserva', input.id_correlacion)).find((e) => e.kind === 'timer')!;
      expect(timer.at).to.be.at.least(pending.dueAt);
    });

    it('should acknowledge and ignore a duplicate delivery of the same event', async () => {
      system = await start(await db.fresh());
      const input = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 60_000 } });
      const id = input.id_correlacion;
      await system.runtime.startSaga('reserva', input, { id });
      await waitForState(system, id, 'pagando');
      const pagada = makeEnvelope('ReservaPagada', { id_correlacion: id, id_reserva: input.id_reserva, id_pago: 'P-1', monto: 250, monto_vat: 47.5, fecha_creacion: Date.now() }, 'pagos.aeroalpes');

      const first = await system.runtime.handle(pagada);
      const second = await system.runtime.handle(pagada);
      await system.transport.publish('evento-pago', { key: id, payload: JSON.stringify(pagada) });

      expect(first.status).to.equal('applied');
      expect(second.status).to.equal('duplicate');
      await waitForStatus(system, id, 'completed');
      expect((await eventsOf(system, id)).filter((t) => t === 'ReservaPagada')).to.have.length(1);
      expect((await commandsOf(system, id)).filter((t) => t === 'ConfirmarReserva')).to.have.length(1);
    });

    it('should publish after restart a command committed before a crash, and apply it once at the consumer', async () => {
      const url = await db.fresh();
      const faulty = new FaultyTransport(new InMemoryTransport());
      faulty.down = true;
      system = await start(url, { transport: faulty });
      const input = reservaInput();
      await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
      await sleep(150);
      const pending = await system.store.pendingOutbox(10);
      expect(pending.map((m) => m.topic)).to.deep.equal(['comando-crear-reserva']);
      await system.close(); // the process dies with the command committed but not published

      // After restart the broker is back; the first PagarReserva is published and then the relay "crashes".
      const again = new FaultyTransport(new InMemoryTransport());
      again.failAfterPublishing.add('comando-pagar-reserva');
      const restarted = await start(url, { transport: again });
      await waitForStatus(restarted, input.id_correlacion, 'completed');

      expect(again.published.filter((p) => p.id === pending[0].messageId)).to.have.length(1);
      const pagar = again.published.filter((p) => p.topic === 'comando-pagar-reserva');
      expect(pagar).to.have.length(2);
      expect(pagar[0].id).to.equal(pagar[1].id);
      expect(await restarted.pagos.row(input.id_reserva)).to.include({ cargos: 1, estado: 'pagado' });
      expect((await eventsOf(restarted, input.id_correlacion)).filter((t) => t === 'ReservaPagada')).to.have.length(1);
      // The last commands are marked sent within the relay's markDelayMs of their publication.
      await waitFor(async () => (await restarted.store.pendingOutbox(10)).length === 0, 'every row marked sent');
      expect(await restarted.store.pendingOutbox(10)).to.deep.equal([]);
    });

    it('should let one of two concurrent handlers of the same saga win and retry the other, losing nothing', async () => {
      const url = await db.fresh();
      system = await start(url, { listen: false }); // no participants: only the two handlers touch the saga
      const input = reservaInput();
      const id = input.id_correlacion;
      await system.runtime.startSaga('reserva', input, { id });
      const before = (await system.store.getInstance('reserva', id))!;

      // A second runtime on its own connection, as in another process; both read the saga before either writes.
      const otherStore = new SequelizeSagaStore(await connect(url));
      let loads = 0;
      let release!: () => void;
      const bothLoaded = new Promise<void>((resolve) => (release = resolve));
      const barrier = (store: SagaStore): SagaStore =>
        Object.assign(Object.create(store), {
          transaction: <T>(work: (uow: UnitOfWork) => Promise<T>) =>
            store.transaction((uow) =>
              work(
                Object.assign(Object.create(uow), {
                  loadInstance: async (type: string, sagaId: string) => {
                    const record = await uow.loadInstance(type, sagaId);
                    if (++loads === 2) release();
                    await Promise.race([bothLoaded, sleep(2000)]);
                    return record;
                  },
                }),
              ),
            ),
        });
      const retries: string[] = [];
      const log = (message: string) => message === 'retrying transaction' && retries.push(message);
      const a = new SagaRuntime({ store: barrier(system.store), transport: new InMemoryTransport(), sagas: [reservaSaga], log });
      const b = new SagaRuntime({ store: barrier(otherStore), transport: new InMemoryTransport(), sagas: [reservaSaga], log });
      const creada = makeEnvelope('ReservaCreada', { id_correlacion: id, id_reserva: input.id_reserva, id_cliente: 'c', estado: 'pendiente', fecha_creacion: 1, monto: 250, monto_vat: 47.5 }, 'vuelos.aeroalpes');
      const fallida = makeEnvelope('CreacionReservaFallida', { id_correlacion: id, id_reserva: input.id_reserva, motivo: 'tarde' }, 'vuelos.aeroalpes');
      try {
        const outcomes = await Promise.all([a.handle(creada), b.handle(fallida)]);
        // The loser is retried on the winner's state, where its event no longer applies: logged and said so, not lost.
        expect(outcomes.map((o) => o.status).sort()).to.deep.equal(['applied', 'ignored']);
      } finally {
        await otherStore.close();
      }

      expect(retries.length).to.be.at.least(1);
      const after = (await system.store.getInstance('reserva', id))!;
      expect(after.rowVersion).to.equal(before.rowVersion + 2);
      const events = await eventsOf(system, id);
      expect(events).to.include.members(['ReservaCreada', 'CreacionReservaFallida']);
      const notes = (await system.store.readLog('reserva', id)).filter((e) => e.kind === 'note');
      expect(notes.map((n) => n.type)).to.deep.equal(['ignored']);
      expect((await system.runtime.verify('reserva', id)).ok).to.equal(true);
    });

    it('should report a stored snapshot that the saga log does not explain', async () => {
      system = await start(await db.fresh());
      const input = reservaInput();
      await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
      await waitForStatus(system, input.id_correlacion, 'completed');
      const record = (await system.store.getInstance('reserva', input.id_correlacion))!;
      const tampered = record.snapshot as { context: { monto: number } };
      tampered.context.monto = 1;
      await system.sequelize.query('UPDATE saga_instances SET snapshot = ? WHERE id = ?', { replacements: [JSON.stringify(tampered), record.id], type: QueryTypes.UPDATE });

      const report = await system.runtime.verify('reserva', input.id_correlacion);
      expect(report.ok).to.equal(false);
      expect(report.differences.join('\n')).to.contain('context');
    });

    it('should dead-letter malformed and unknown-saga messages with their reason and keep running', async () => {
      system = await start(await db.fresh());
      const ghost = makeEnvelope('ReservaPagada', { id_correlacion: randomUUID(), id_reserva: 'R-x', id_pago: 'P', monto: 1, monto_vat: 0, fecha_creacion: 1 }, 'pagos.aeroalpes');
      await system.transport.publish('evento-pago', { key: 'k1', payload: '{not json' });
      await system.transport.publish('evento-pago', { key: 'k2', payload: JSON.stringify({ ...ghost, id: randomUUID(), data: { id_correlacion: 'x' } }) });
      await system.transport.publish('evento-pago', { key: ghost.data.id_correlacion, payload: JSON.stringify(ghost) });
      await waitUntil(async () => (await system.store.listDeadLetters()).length >= 3);

      const letters = await system.store.listDeadLetters();
      const reasons = letters.map((l) => `${l.code}: ${l.reason}`).join('\n');
      expect(reasons).to.match(/invalid: not JSON/);
      expect(reasons).to.contain('invalid: ReservaPagada: data.id_reserva: expected string, received undefined');
      expect(reasons).to.contain(`unknown_saga: no saga instance "${ghost.data.id_correlacion}"`);
      expect(letters.find((l) => l.code === 'unknown_saga')?.payload).to.contain(ghost.id);

      const input = reservaInput();
      await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
      await waitForStatus(system, input.id_correlacion, 'completed');
    });

    it('should stop in manual repair when a compensation keeps failing', async () => {
      system = await start(await db.fresh());
      const input = reservaInput({ simular_fallo: 'revertir-pago', maxReintentos: 3, plazos: { compensacion: 100 } });
      await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
      const done = await waitForStatus(system, input.id_correlacion, 'final');

      expect(done.status).to.equal('failed');
      expect(done.stateValue).to.equal('reparacionManual');
      expect(await commandsOf(system, input.id_correlacion)).to.deep.equal(['CrearReserva', 'PagarReserva', 'ConfirmarReserva', 'RevertirPago', 'RevertirPago', 'RevertirPago']);
      expect((done.snapshot as { context: { motivo: string } }).context.motivo).to.contain('revirtiendoPago');
      expect(await system.pagos.row(input.id_reserva)).to.include({ estado: 'pagado' });
    });

    it('should keep in-flight sagas on the machine version they started with, and refuse unknown versions', async () => {
      system = await start(await db.fresh(), { listen: false });
      const v2 = { ...reservaSaga, version: 2 };
      const runtime = new SagaRuntime({ store: system.store, transport: system.transport, sagas: [reservaSaga, v2] });
      const old = reservaInput();
      await runtime.startSaga('reserva', old, { id: old.id_correlacion, version: 1 });
      const fresh = reservaInput();
      await runtime.startSaga('reserva', fresh, { id: fresh.id_correlacion });
      expect((await system.store.getInstance('reserva', old.id_correlacion))?.version).to.equal(1);
      expect((await system.store.getInstance('reserva', fresh.id_correlacion))?.version).to.equal(2);

      let error: unknown;
      await runtime.startSaga('reserva', reservaInput(), { version: 9 }).catch((e) => (error = e));
      expect(error).to.be.instanceOf(UnknownMachineVersionError);
      expect((error as Error).message).to.equal('saga machine "reserva" has no version 9; registered: 1, 2');

      // A runtime that no longer has v1 dead-letters messages for v1 sagas instead of guessing.
      const onlyV2 = new SagaRuntime({ store: system.store, transport: system.transport, sagas: [v2] });
      const creada = makeEnvelope('ReservaCreada', { id_correlacion: old.id_correlacion, id_reserva: old.id_reserva, id_cliente: 'c', estado: 'pendiente', fecha_creacion: 1, monto: 1, monto_vat: 0 }, 'vuelos.aeroalpes');
      const outcome = await onlyV2.handle(creada);
      expect(outcome).to.deep.include({ status: 'dead-lettered', code: 'unknown_machine_version' });
    });
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(25);
  }
}

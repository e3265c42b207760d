import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { initialTransition } from 'xstate';
import { reservaMachine, reservaSaga } from '../machines/reserva.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import { UnavailableError } from '../runtime/errors.ts';
import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import { OutboxRelay } from '../runtime/outbox-relay.ts';
import type { OutgoingMessage, SagaStore, Subscription, SubscribeOptions, Transport, UnitOfWork } from '../runtime/ports.ts';
import { SagaRuntime } from '../runtime/saga-runtime.ts';
import { loadConfig } from '../services/config.ts';
import { createSystem, type System } from '../services/system.ts';
import { eachDatabase } from './support/databases.ts';
import { reservaInput, startSystem, waitForStatus } from './support/system.ts';
import { sleep, waitFor } from './support/wait.ts';

/** A broker that cannot take messages while `open` is false, as the transports report it (UnavailableError). */
class GatedTransport implements Transport {
  open = true;
  constructor(readonly inner: InMemoryTransport) {}
  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    if (!this.open) throw new UnavailableError('broker unreachable');
    await this.inner.publish(topic, message);
  }
  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return this.inner.subscribe(options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A store whose transactions fail with a plain Error (one nobody classified) when they touch saga `poisonId`. */
function failingFor(store: SagaStore, poisonId: string): SagaStore {
  return Object.assign(Object.create(store) as SagaStore, {
    transaction: <T>(work: (uow: UnitOfWork) => Promise<T>) =>
      store.transaction((uow) =>
        work(
          Object.assign(Object.create(uow) as UnitOfWork, {
            loadInstance: async (type: string, id: string) => {
              if (id === poisonId) throw new Error('boom: a driver error nobody classified');
              return uow.loadInstance(type, id);
            },
          }),
        ),
      ),
  });
}

describe('faults the runtime survives without losing or inventing anything', function () {
  this.timeout(40_000);

  eachDatabase((db) => {
    const systems: System[] = [];
    const start = async (url: string, options: Parameters<typeof startSystem>[1] = {}) => {
      const system = await startSystem(url, options);
      systems.push(system);
      return system;
    };
    afterEach(async () => {
      for (const system of systems.splice(0)) await system.close();
    });

    describe('the outbox relay', () => {
      it('should dead-letter a row the broker refuses for good, with the broker’s reason, and publish the rows behind it', async () => {
        const transport = new InMemoryTransport({ maxPayloadBytes: 4_000 });
        const system = await start(await db.fresh(), { transport, listen: false });
        const received: string[] = [];
        await transport.subscribe({ topics: ['comando-pagar-reserva'], subscription: 'probe', handler: async (d) => void received.push(JSON.parse(d.payload).id) });
        const row = (id: string, key: string, size = 0) => ({
          messageId: id,
          sagaType: 'reserva',
          sagaId: key,
          topic: 'comando-pagar-reserva',
          key,
          payload: JSON.stringify({ id, pad: 'x'.repeat(size) }),
          createdAt: Date.now(),
        });
        const [big, behind, other] = [row(randomUUID(), 'saga-a', 10_000), row(randomUUID(), 'saga-a'), row(randomUUID(), 'saga-b')];
        await system.store.transaction(async (uow) => {
          await uow.enqueue([big, behind, other]);
          // The deadline of the step the refused command started: it must not wait forever.
          await uow.upsertDeadline({ sagaType: 'reserva', sagaId: 'saga-a', timerId: 't-1', dueAt: 0, event: { type: 'xstate.after.t' }, afterMessage: big.messageId, delayMs: 60_000 });
        });

        const before = Date.now();
        await system.relay.flush();

        expect(received, 'the rows behind it are published (other keys do not wait)').to.have.members([behind.messageId, other.messageId]);
        expect(await system.store.pendingOutbox(10)).to.deep.equal([]);
        const [letter] = await system.store.listDeadLetters();
        expect(letter).to.include({ source: 'publish', code: 'message_rejected', messageId: big.messageId, topic: 'comando-pagar-reserva', key: 'saga-a', status: 'open', consumer: 'reserva' });
        expect(letter.reason).to.match(/refused.*too big/);
        expect(letter.payload).to.equal(big.payload);
        const [deadline] = await system.store.deadlinesOf('reserva', 'saga-a');
        expect(deadline.afterMessage, 'armed as if the command had gone out').to.equal(null);
        expect(deadline.dueAt).to.be.within(before + 60_000, Date.now() + 60_000);
      });

      it('should keep a row that fails in a way nobody classified, holding only its key, and dead-letter it after bounded attempts', async () => {
        const inner = new InMemoryTransport();
        const poison = randomUUID();
        const transport: Transport = Object.assign(Object.create(inner) as Transport, {
          publish: async (topic: string, message: OutgoingMessage) => {
            if (message.payload.includes(poison)) throw new Error('strange driver error');
            return inner.publish(topic, message);
          },
        });
        const system = await start(await db.fresh(), { transport, listen: false });
        const relay = new OutboxRelay(system.store, transport, { maxRowAttempts: 3 });
        const received: string[] = [];
        await inner.subscribe({ topics: ['t'], subscription: 'probe', handler: async (d) => void received.push(d.payload) });
        const row = (payload: string, key: string) => ({ messageId: randomUUID(), sagaType: 'reserva', sagaId: key, topic: 't', key, payload, createdAt: Date.now() });
        await system.store.transaction((uow) => uow.enqueue([row(poison, 'k1'), row('same key, after it', 'k1'), row('another key', 'k2')]));

        await relay.flush();
        await waitFor(() => received.includes('another key'), 'the other key to be published');
        expect(received, 'the same key waits behind the failing row').to.deep.equal(['another key']);
        await relay.flush();
        await relay.flush();

        expect(received).to.deep.equal(['another key', 'same key, after it']);
        const [letter] = await system.store.listDeadLetters();
        expect(letter).to.include({ source: 'publish', code: 'failed', payload: poison });
        expect(letter.reason).to.contain('failed 3 times: strange driver error');
        expect(await system.store.pendingOutbox(10)).to.deep.equal([]);
      });
    });

    describe('the deadline scheduler', () => {
      it('should fire only its own saga types’ deadlines, and dead-letter one it cannot fire without holding back the others', async () => {
        const system = await start(await db.fresh(), { listen: false });
        const { store, runtime } = system;
        const now = Date.now();
        // An instance on a machine version this process does not run, with an overdue deadline.
        const [snapshot] = initialTransition(reservaMachine, reservaInput());
        await store.transaction(async (uow) => {
          await uow.insertInstance({ sagaType: 'reserva', id: 'v99', version: 99, stateValue: 'creandoReserva', status: 'running', snapshot: reservaMachine.getPersistedSnapshot(snapshot), rowVersion: 1, logSeq: 0, createdAt: now, updatedAt: now });
          await uow.upsertDeadline({ sagaType: 'reserva', sagaId: 'v99', timerId: 'xstate.after.plazoPaso.reserva.creandoReserva', dueAt: now - 9_000, event: { type: 'xstate.after.plazoPaso.reserva.creandoReserva' } });
          // Another service's deadline in the same database (choreography with one DATABASE_URL).
          await uow.upsertDeadline({ sagaType: 'pagos-reserva', sagaId: 'p-1', timerId: 'xstate.after.plazoPaso.pagosReserva.pagando', dueAt: now - 8_000, event: { type: 'xstate.after.plazoPaso.pagosReserva.pagando' } });
        });
        const input = reservaInput({ plazos: { paso: 1_000 } });
        await runtime.startSaga('reserva', input, { id: input.id_correlacion });
        await store.markSent(await store.pendingOutbox(10), now - 5_000); // CrearReserva went out 5 s ago: due 4 s ago

        expect(await runtime.fireDueDeadlines()).to.equal(2);

        expect((await store.getInstance('reserva', input.id_correlacion))?.stateValue, 'its own deadline fired').to.equal('cancelandoReserva');
        const [letter] = await store.listDeadLetters();
        expect(letter).to.include({ source: 'deadline', code: 'unknown_machine_version', sagaId: 'v99', consumer: 'reserva' });
        expect(JSON.parse(letter.payload)).to.include({ timerId: 'xstate.after.plazoPaso.reserva.creandoReserva' });
        expect(await store.deadlinesOf('reserva', 'v99'), 'the unfireable row is gone').to.deep.equal([]);
        expect(await store.deadlinesOf('pagos-reserva', 'p-1'), 'pagos’ deadline is left to pagos').to.have.length(1);
        expect(await runtime.fireDueDeadlines(), 'nothing is retried forever').to.equal(0);
      });

      it('should start a step’s deadline when its command is published, not while the broker cannot take it', async () => {
        const transport = new GatedTransport(new InMemoryTransport());
        const system = await start(await db.fresh(), { listen: false });
        const relay = new OutboxRelay(system.store, transport, { pollMs: 50, maxBackoffMs: 100 });
        const runtime = new SagaRuntime({ store: system.store, transport, relay, sagas: [reservaSaga], deadlinePollMs: 50 });
        transport.open = false;
        await runtime.listen();
        relay.start();
        try {
          const input = reservaInput({ plazos: { paso: 300 } });
          await runtime.startSaga('reserva', input, { id: input.id_correlacion });
          await sleep(1_500); // five times the step's deadline, with the broker down
          expect((await system.store.getInstance('reserva', input.id_correlacion))?.stateValue, 'no deadline while CrearReserva could not go out').to.equal('creandoReserva');
          const [waiting] = await system.store.deadlinesOf('reserva', input.id_correlacion);
          expect(waiting.afterMessage).to.be.a('string');

          const openedAt = Date.now();
          transport.open = true;
          const done = await waitFor(async () => {
            const record = await system.store.getInstance('reserva', input.id_correlacion);
            return record?.stateValue === 'cancelandoReserva' && record;
          }, 'the step deadline to fire once the command was published');
          const timer = (await system.store.readLog('reserva', done.id)).find((e) => e.kind === 'timer')!;
          expect(timer.at - openedAt, 'counted from the publication').to.be.at.least(300);
        } finally {
          await runtime.close();
          await relay.stop();
        }
      });
    });

    describe('inputs that can never succeed', () => {
      it('should dead-letter a message whose fields are longer than their columns, naming the field', async () => {
        const system = await start(await db.fresh());
        const long = 'x'.repeat(65);
        const ghost = makeEnvelope('ReservaPagada', { id_correlacion: long, id_reserva: 'R-1', id_pago: 'P', monto: 1, monto_vat: 0, fecha_creacion: 1 }, 'pagos.aeroalpes');
        const longId = { ...makeEnvelope('ReservaPagada', { id_correlacion: 'c', id_reserva: 'R-1', id_pago: 'P', monto: 1, monto_vat: 0, fecha_creacion: 1 }, 'pagos.aeroalpes'), id: 'i'.repeat(70) };
        await system.transport.publish('evento-pago', { key: long, payload: JSON.stringify(ghost) });
        await system.transport.publish('evento-pago', { key: 'c', payload: JSON.stringify(longId) });

        const letters = await waitFor(async () => {
          const found = (await system.store.listDeadLetters()).filter((l) => l.consumer === 'sagas');
          return found.length === 2 && found;
        }, 'both to be dead-lettered');
        const reasons = letters.map((l) => `${l.code}: ${l.reason}`).sort();
        expect(reasons).to.deep.equal([
          'invalid: ReservaPagada: data.id_correlacion: longer than 64 characters',
          'invalid: envelope: id: longer than 64 characters',
        ]);
        expect(letters.every((l) => l.topic === 'evento-pago' && l.status === 'open')).to.equal(true);
      });

      it('should dead-letter an input that fails in a way nobody classified after bounded attempts, and commit the others of its batch', async () => {
        const system = await start(await db.fresh(), { listen: false });
        const store = failingFor(system.store, 'poison');
        const runtime = new SagaRuntime({ store, transport: new InMemoryTransport(), sagas: [reservaSaga], maxAttempts: 3 });
        const good = reservaInput();
        await system.runtime.startSaga('reserva', good, { id: good.id_correlacion });
        const creada = (id: string) => makeEnvelope('ReservaCreada', { id_correlacion: id, id_reserva: 'R', id_cliente: 'c', estado: 'pendiente', fecha_creacion: 1, monto: 250, monto_vat: 0 }, 'vuelos.aeroalpes');

        const outcomes = await Promise.all([runtime.handle(creada('poison')), runtime.handle(creada(good.id_correlacion))]);

        expect(outcomes.map((o) => o.status)).to.deep.equal(['dead-lettered', 'applied']);
        const [letter] = await system.store.listDeadLetters();
        expect(letter).to.include({ code: 'failed', sagaId: 'poison', source: 'message' });
        expect(letter.reason).to.equal('failed 3 times: boom: a driver error nobody classified');
        expect((await system.store.getInstance('reserva', good.id_correlacion))?.stateValue).to.equal('pagando');
      });
    });

    describe('a late answer', () => {
      it('should be handled as the statechart says and noted in the saga log, not dropped silently', async () => {
        const system = await start(await db.fresh(), { listen: false });
        const input = reservaInput({ plazos: { paso: 1 } });
        await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
        await system.store.markSent(await system.store.pendingOutbox(10), Date.now() - 10);
        await system.runtime.fireDueDeadlines();
        expect((await system.store.getInstance('reserva', input.id_correlacion))?.stateValue).to.equal('cancelandoReserva');

        const late = makeEnvelope('ReservaCreada', { id_correlacion: input.id_correlacion, id_reserva: input.id_reserva, id_cliente: 'c', estado: 'pendiente', fecha_creacion: 1, monto: 250, monto_vat: 0 }, 'vuelos.aeroalpes');
        const outcome = await system.runtime.handle(late);

        expect(outcome).to.deep.equal({ status: 'ignored', sagaId: input.id_correlacion, reason: 'ReservaCreada is not accepted in state cancelandoReserva (running)' });
        const log = await system.store.readLog('reserva', input.id_correlacion);
        expect(log.slice(-2).map((e) => `${e.kind} ${e.type}`)).to.deep.equal(['event ReservaCreada', 'note ignored']);
        expect(log.at(-1)!.payload).to.include({ event: 'ReservaCreada', state: 'cancelandoReserva' });
        expect((await system.runtime.verify('reserva', input.id_correlacion)).ok).to.equal(true);
      });
    });

    describe('closing', () => {
      it('should let the message in flight commit and be acknowledged before it closes, so nothing is delivered twice', async () => {
        const transport = new InMemoryTransport();
        const system = await start(await db.fresh(), { listen: false });
        let entered!: () => void;
        const inFlight = new Promise<void>((resolve) => (entered = resolve));
        const slow: SagaStore = Object.assign(Object.create(system.store) as SagaStore, {
          transaction: <T>(work: (uow: UnitOfWork) => Promise<T>) =>
            system.store.transaction(async (uow) => {
              entered();
              await sleep(500);
              return work(uow);
            }),
        });
        const runtime = new SagaRuntime({ store: slow, transport, sagas: [reservaSaga] });
        await runtime.listen();
        const input = reservaInput();
        await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
        const creada = makeEnvelope('ReservaCreada', { id_correlacion: input.id_correlacion, id_reserva: input.id_reserva, id_cliente: 'c', estado: 'pendiente', fecha_creacion: 1, monto: 250, monto_vat: 0 }, 'vuelos.aeroalpes');
        await transport.publish('evento-reserva', { key: input.id_correlacion, payload: JSON.stringify(creada) });
        await inFlight;

        await runtime.close(5_000);

        expect((await system.store.getInstance('reserva', input.id_correlacion))?.stateValue, 'committed before close resolved').to.equal('pagando');
        expect(transport.backlog('sagas'), 'acknowledged: nothing goes back to the broker').to.equal(0);
      });
    });

    describe('test mode', () => {
      it('should make the participants ignore simular_fallo in messages when test mode is off in their process', async () => {
        const config = { ...loadConfig({ NODE_ENV: 'production' }), databaseUrl: await db.fresh(), outageGraceMs: 0 };
        expect(config.testEndpoints).to.equal(false);
        const system = await createSystem(config, { relayPollMs: 50, deadlinePollMs: 100 });
        systems.push(system);
        // A command that asks for a failure, as a message from elsewhere could.
        const input = reservaInput({ simular_fallo: 'pago' });
        await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
        const done = await waitForStatus(system, input.id_correlacion, 'final');
        expect(done.status, 'pagos charged as if no failure was asked for').to.equal('completed');
        expect(await system.pagos.row(input.id_reserva)).to.include({ estado: 'pagado', cargos: 1 });
      });
    });
  });
});

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect } from '../db/connect.ts';
import { migrate } from '../db/migrator.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { ConcurrencyError } from '../runtime/errors.ts';
import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import { OutboxRelay } from '../runtime/outbox-relay.ts';
import type { NewOutboxMessage, OutgoingMessage, SagaStore, Transport } from '../runtime/ports.ts';
import { eachDatabase } from './support/databases.ts';
import { sleep, waitFor } from './support/wait.ts';

const row = (sagaType: string, key: string, payload: string): NewOutboxMessage => ({
  messageId: randomUUID(),
  sagaType,
  sagaId: key,
  topic: 't',
  key,
  payload,
  createdAt: Date.now(),
});

/** The store, counting how often the relay reads pending rows back. */
function counting(store: SequelizeSagaStore): { store: SagaStore; reads: () => number } {
  let reads = 0;
  const wrapped = Object.create(store) as SagaStore;
  wrapped.pendingOutbox = (limit, types) => (reads++, store.pendingOutbox(limit, types));
  return { store: wrapped, reads: () => reads };
}

describe('OutboxRelay (publishing what was committed)', () => {
  eachDatabase((db) => {
    let store: SequelizeSagaStore;
    let transport: InMemoryTransport;
    let received: string[];
    const relays: OutboxRelay[] = [];

    beforeEach(async () => {
      const sequelize = await connect(await db.fresh());
      await migrate(sequelize);
      store = new SequelizeSagaStore(sequelize);
      transport = new InMemoryTransport();
      received = [];
      await transport.subscribe({ topics: ['t'], subscription: 'probe', handler: async (d) => void received.push(d.payload) });
    });
    afterEach(async () => {
      await Promise.all(relays.splice(0).map((r) => r.stop()));
      await store.close();
    });

    const relay = (s: SagaStore, options: ConstructorParameters<typeof OutboxRelay>[2] = {}) => {
      const r = new OutboxRelay(s, transport, { pollMs: 60_000, ...options });
      relays.push(r);
      return r;
    };

    it('should publish the rows a commit reports without reading them back, once each, and mark them sent', async () => {
      const { store: watched, reads } = counting(store);
      const r = relay(watched);
      r.start();
      await waitFor(async () => reads() === 1, 'the first round to read what was pending at start');
      await store.transaction((uow) => uow.enqueue([row('reserva', 'a', 'a-1'), row('reserva', 'b', 'b-1')]));
      r.kick();
      await waitFor(() => received.length === 2, 'both rows to be published');
      await store.transaction((uow) => uow.enqueue([row('reserva', 'a', 'a-2')]));
      r.kick();
      await waitFor(async () => received.length === 3 && (await store.pendingOutbox(10)).length === 0, 'a-2 published and every row marked sent');
      expect(reads(), 'no read after the first round').to.equal(1);
      expect([...received].sort()).to.deep.equal(['a-1', 'a-2', 'b-1']);
      expect(received.indexOf('a-1')).to.be.below(received.indexOf('a-2'));
      await r.drain(1_000);
      await sleep(100);
      expect(received, 'nothing published twice').to.have.length(3);
    });

    it('should publish only the rows of its own writers, so relays of several processes on one database send each row once', async () => {
      const coordinator = relay(store, { sagaTypes: () => ['reserva'] });
      const pagos = relay(store, { sagaTypes: () => ['pagos'] });
      await store.transaction((uow) => uow.enqueue([row('reserva', 's1', 'command'), row('pagos', 's1', 'reply'), row('gds', 's1', 'someone else')]));
      coordinator.start();
      pagos.start();
      await waitFor(() => received.length === 2, 'the two owned rows');
      await coordinator.drain(500);
      await pagos.drain(500);
      await sleep(100);
      expect([...received].sort()).to.deep.equal(['command', 'reply']);
      expect((await store.pendingOutbox(10)).map((r) => r.payload), 'the row nobody here wrote waits for its own process').to.deep.equal(['someone else']);
    });

    it('should go back to reading pending rows after a held row, so a key keeps its order across rounds', async () => {
      let failing = true;
      const flaky: Transport = Object.assign(Object.create(transport) as Transport, {
        publish: async (topic: string, message: OutgoingMessage) => {
          if (failing && message.payload === 'k-1') throw new Error('strange driver error');
          return transport.publish(topic, message);
        },
      });
      const r = new OutboxRelay(store, flaky, { pollMs: 60_000, maxRowAttempts: 10 });
      relays.push(r);
      r.start();
      await store.transaction((uow) => uow.enqueue([row('reserva', 'k', 'k-1')]));
      r.kick();
      await sleep(200);
      await store.transaction((uow) => uow.enqueue([row('reserva', 'k', 'k-2'), row('reserva', 'other', 'other-1')]));
      r.kick();
      await waitFor(() => received.includes('other-1'), 'the other key to go out');
      expect(received, 'k-2 waits behind k-1').to.not.include('k-2');
      failing = false;
      r.kick();
      await waitFor(() => received.includes('k-2'), 'k-1 and k-2 to go out once k-1 is taken');
      expect(received.filter((p) => p.startsWith('k-'))).to.deep.equal(['k-1', 'k-2']);
    });
  });
});

describe('SequelizeSagaStore transactions on MariaDB (round trips)', () => {
  eachDatabase((db) => {
    if (db.name !== 'mariadb') return;

    it('should send START TRANSACTION with the reads and COMMIT with the writes (after them when a version is checked), and roll back a failed check', async () => {
      const sequelize = await connect(await db.fresh());
      await migrate(sequelize);
      const store = new SequelizeSagaStore(sequelize);
      const sent: string[] = [];
      const manager = (sequelize as unknown as { connectionManager: { getConnection(o: object): Promise<{ query: (...a: unknown[]) => unknown }> } }).connectionManager;
      const acquire = manager.getConnection.bind(manager);
      manager.getConnection = async (options) => {
        const connection = await acquire(options);
        const query = connection.query.bind(connection) as (...a: unknown[]) => unknown;
        if (!(connection as { counted?: boolean }).counted) {
          Object.assign(connection, { counted: true, query: (...args: unknown[]) => (sent.push(String(args[0])), query(...args)) });
        }
        return connection;
      };
      try {
        const record = { sagaType: 'reserva', id: 'a', version: 1, stateValue: 'x', status: 'running' as const, snapshot: { v: 1 }, rowVersion: 1, logSeq: 0, createdAt: 1, updatedAt: 1 };
        await store.transaction((uow) => uow.insertInstance(record));
        sent.length = 0;
        await store.transaction(async (uow) => {
          await uow.prefetch({ instances: [{ sagaType: 'reserva', id: 'a' }], processed: [{ consumer: 'reserva/a', messageId: 'm1' }] });
          const loaded = (await uow.loadInstance('reserva', 'a'))!;
          await uow.remember('reserva/a', 'm1', 2);
          await uow.updateInstance({ ...loaded, stateValue: 'y', rowVersion: 2, logSeq: 1 }, 1);
          await uow.enqueue([row('reserva', 'a', 'command')]);
        });
        expect(sent, 'the reads, then the writes').to.have.length(3);
        expect(sent[0]).to.match(/^START TRANSACTION;\nSELECT .* FROM saga_instances .*;\nSELECT consumer, message_id FROM processed_messages/s);
        expect(sent[1]).to.match(/^UPDATE saga_instances .*;\nINSERT INTO processed_messages .*;\nINSERT INTO outbox/s);
        expect(sent[2], 'COMMIT after the version check passed').to.equal('COMMIT');

        sent.length = 0;
        await store.transaction((uow) => uow.remember('pagos', 'm2', 3)); // a participant's writes: nothing to check
        expect(sent).to.have.length(1);
        expect(sent[0]).to.match(/^START TRANSACTION;\nINSERT INTO processed_messages .*;\nCOMMIT$/s);

        let error: unknown;
        await store
          .transaction(async (uow) => {
            const loaded = (await uow.loadInstance('reserva', 'a'))!;
            await uow.updateInstance({ ...loaded, stateValue: 'z', rowVersion: 3, logSeq: 2 }, 1); // read version 2, claims 1
            await uow.enqueue([row('reserva', 'a', 'never')]);
          })
          .catch((e: unknown) => (error = e));
        expect(error).to.be.instanceOf(ConcurrencyError);
        expect(sent.at(-1)).to.equal('ROLLBACK');
        expect((await store.getInstance('reserva', 'a'))!.stateValue).to.equal('y');
        expect((await store.pendingOutbox(10)).map((r) => r.payload)).to.deep.equal(['command']);
      } finally {
        await store.close();
      }
    });
  });
});

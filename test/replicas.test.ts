import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { Sequelize } from 'sequelize';
import { connect } from '../db/connect.ts';
import { migrate } from '../db/migrator.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { ReplicaConflictError } from '../runtime/errors.ts';
import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import { OutboxRelay } from '../runtime/outbox-relay.ts';
import type { NewOutboxMessage } from '../runtime/ports.ts';
import { REPLICA_HOST, ReplicaLease } from '../runtime/replica-lease.ts';
import { SagaRuntime } from '../runtime/saga-runtime.ts';
import { reservaSaga } from '../machines/reserva.ts';
import { reservaInput } from './support/system.ts';
import { eachDatabase } from './support/databases.ts';
import { rejection, sleep, waitFor } from './support/wait.ts';

const row = (writer: string, key: string, payload: string): NewOutboxMessage => ({
  messageId: randomUUID(),
  sagaType: writer,
  sagaId: key,
  topic: 't',
  key,
  payload,
  createdAt: Date.now(),
});

describe('replicas of one service over one database', () => {
  eachDatabase((db) => {
    let url: string;
    const opened: { sequelize: Sequelize; store: SequelizeSagaStore }[] = [];
    const relays: OutboxRelay[] = [];
    const leases: ReplicaLease[] = [];
    let transport: InMemoryTransport;
    let received: string[];

    /** One replica's store: its own connection pool, as in its own process. */
    const replicaStore = async (replicaId?: string) => {
      const sequelize = await connect(url);
      const store = new SequelizeSagaStore(sequelize, { replicaId });
      opened.push({ sequelize, store });
      return store;
    };
    const lease = (store: SequelizeSagaStore, id: string, options: Partial<ConstructorParameters<typeof ReplicaLease>[1]> = {}) => {
      const l = new ReplicaLease(store, { service: 'coordinator', id, leaseMs: 60_000, renewMs: 60_000, ...options });
      leases.push(l);
      return l;
    };
    const relay = (store: SequelizeSagaStore) => {
      const r = new OutboxRelay(store, transport, { pollMs: 50 });
      relays.push(r);
      return r;
    };
    const write = (store: SequelizeSagaStore, rows: NewOutboxMessage[]) => store.transaction((uow) => uow.enqueue(rows));

    beforeEach(async () => {
      url = await db.fresh();
      const sequelize = await connect(url);
      await migrate(sequelize);
      await sequelize.close();
      transport = new InMemoryTransport();
      received = [];
      await transport.subscribe({ topics: ['t'], subscription: 'probe', handler: async (d) => void received.push(d.payload) });
    });
    afterEach(async () => {
      await Promise.all(relays.splice(0).map((r) => r.stop()));
      for (const l of leases.splice(0)) await l.stop();
      for (const { store } of opened.splice(0)) await store.close();
    });

    it("should give each replica's relay only the rows that replica wrote", async () => {
      const a = await replicaStore('replica-a');
      const b = await replicaStore('replica-b');
      await write(a, [row('reserva', 'k1', 'from a')]);
      await write(b, [row('reserva', 'k2', 'from b')]);

      expect((await a.pendingOutbox(10, ['reserva'])).map((r) => r.payload)).to.deep.equal(['from a']);
      expect((await b.pendingOutbox(10, ['reserva'])).map((r) => r.payload)).to.deep.equal(['from b']);
    });

    it('should let exactly one of two replicas claim each unowned row (written by a tool), when both read at once', async () => {
      const tool = await replicaStore();
      const a = await replicaStore('replica-a');
      const b = await replicaStore('replica-b');
      const rows = Array.from({ length: 40 }, (_, i) => row('reserva', `k${i}`, `p${i}`));
      await write(tool, rows);

      const [fromA, fromB] = await Promise.all([a.pendingOutbox(100, ['reserva']), b.pendingOutbox(100, ['reserva'])]);
      const claimed = [...fromA, ...fromB].map((r) => r.payload).sort();
      expect(claimed).to.deep.equal(rows.map((r) => r.payload).sort());
    });

    it('should publish every row once when two replicas write and relay at the same time', async () => {
      const a = await replicaStore('replica-a');
      const b = await replicaStore('replica-b');
      relay(a).start();
      relay(b).start();
      const written: string[] = [];
      await Promise.all(
        [a, b].map(async (store, s) => {
          for (let i = 0; i < 30; i++) {
            const payload = `${s}-${i}`;
            written.push(payload);
            await write(store, [row('reserva', `k${i % 7}`, payload)]);
          }
        }),
      );
      await waitFor(async () => received.length >= written.length && (await a.pendingOutbox(10)).length + (await b.pendingOutbox(10)).length === 0, 'every row published and marked');
      await sleep(300); // six poll rounds of each relay: a row published twice would arrive now
      expect([...received].sort()).to.deep.equal([...written].sort());
    });

    it("should adopt a dead replica's unpublished rows once its lease expired, and publish them", async () => {
      let now = 1_000_000;
      const clock = () => now;
      const dead = await replicaStore('replica-dead');
      const heir = await replicaStore('replica-heir');
      await lease(dead, 'replica-dead', { clock, leaseMs: 5_000 }).start();
      await write(dead, [row('reserva', 'k1', 'left behind 1'), row('reserva', 'k1', 'left behind 2')]);
      // The dead replica never publishes (it crashed); the heir's relay runs.
      const heirLease = lease(heir, 'replica-heir', { clock, leaseMs: 5_000, onAdopted: () => heirRelay.rescan() });
      const heirRelay = relay(heir);
      heirRelay.start();
      await heirLease.start();
      await sleep(200);
      expect(received, 'nothing adopted while the lease runs').to.deep.equal([]);

      now += 5_001;
      await heirLease.renew();
      await waitFor(() => received.length === 2, 'the adopted rows published');
      expect(received, 'in their order').to.deep.equal(['left behind 1', 'left behind 2']);
      expect((await heir.listReplicas('coordinator')).map((r) => r.id), 'the dead replica forgotten').to.deep.equal(['replica-heir']);
    });

    it('should give a dead replica to only one of two heirs', async () => {
      let now = 1_000_000;
      const clock = () => now;
      const dead = await replicaStore('replica-dead');
      await lease(dead, 'replica-dead', { clock, leaseMs: 5_000 }).start();
      await write(dead, Array.from({ length: 5 }, (_, i) => row('reserva', `k${i}`, `p${i}`)));
      const adopted: number[] = [];
      const heirs = await Promise.all(['heir-1', 'heir-2'].map(async (id) => lease(await replicaStore(id), id, { clock, leaseMs: 5_000, onAdopted: (rows) => adopted.push(rows) })));
      now += 5_001;
      await Promise.all(heirs.map((h) => h.start()));

      expect(adopted).to.deep.equal([5]);
    });

    it('should not adopt the rows of a replica of another service', async () => {
      let now = 1_000_000;
      const clock = () => now;
      const pagos = await replicaStore('pagos-1');
      await lease(pagos, 'pagos-1', { clock, leaseMs: 5_000, service: 'pagos' }).start();
      await write(pagos, [row('pagos', 'k1', 'a payment')]);
      const adopted: number[] = [];
      now += 5_001;
      await lease(await replicaStore('coordinator-1'), 'coordinator-1', { clock, onAdopted: (rows) => adopted.push(rows) }).start();

      expect(adopted).to.deep.equal([]);
      expect((await pagos.pendingOutbox(10)).map((r) => r.payload)).to.deep.equal(['a payment']);
    });

    it('should take a released lease for ended at once, so what the replica left is adopted at the next renewal', async () => {
      const leaving = await replicaStore('leaving');
      const leavingLease = lease(leaving, 'leaving');
      await leavingLease.start();
      await write(leaving, [row('reserva', 'k1', 'not drained')]);
      await leavingLease.stop();
      const adopted: number[] = [];
      await lease(await replicaStore('staying'), 'staying', { onAdopted: (rows) => adopted.push(rows) }).start();

      expect(adopted).to.deep.equal([1]);
    });

    it('should fire each due deadline once when two replicas of the service poll at the same time', async () => {
      const [a, b] = [await replicaStore('replica-a'), await replicaStore('replica-b')];
      const runtimes = [a, b].map((store) => new SagaRuntime({ store, transport: new InMemoryTransport(), sagas: [reservaSaga] }));
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        const input = reservaInput({ plazos: { paso: 1_000 } });
        await runtimes[i % 2].startSaga('reserva', input, { id: input.id_correlacion });
        ids.push(input.id_correlacion);
      }
      // Every CrearReserva went out 5 s ago: every step deadline is 4 s overdue.
      for (const store of [a, b]) await store.markSent(await store.pendingOutbox(100), Date.now() - 5_000);

      await Promise.all([...runtimes, ...runtimes].map((runtime) => runtime.fireDueDeadlines()));
      // A deadline one replica skipped while the other held it is fired by the other (or on a later poll).
      await waitFor(async () => {
        await Promise.all(runtimes.map((r) => r.fireDueDeadlines()));
        return (await a.dueDeadlines(Date.now(), 1, ['reserva'])).length === 0;
      }, 'no deadline left due');

      for (const id of ids) {
        const timers = (await a.readLog('reserva', id)).filter((e) => e.kind === 'timer');
        expect(timers.map((t) => t.type), `saga ${id}: its step deadline fired once`).to.deep.equal(['xstate.after.plazoPaso.reserva.creandoReserva']);
        expect((await a.getInstance('reserva', id))?.stateValue).to.equal('cancelandoReserva');
      }
    });

    it('should adopt at once what a replica on this host left when its process is gone (a restarted service), but not while it runs', async () => {
      const store = await replicaStore('restarted');
      const until = Date.now() + 60_000;
      await store.renewReplica({ id: 'crashed', service: 'coordinator', host: REPLICA_HOST, pid: 2 ** 22 + 1, startedAt: Date.now(), expiresAt: until }, false);
      await store.renewReplica({ id: 'running', service: 'coordinator', host: REPLICA_HOST, pid: process.ppid, startedAt: Date.now(), expiresAt: until }, false);
      await write(await replicaStore('crashed'), [row('reserva', 'k1', 'left by the crash')]);
      await write(await replicaStore('running'), [row('reserva', 'k2', 'being published')]);
      const adopted: string[] = [];

      await lease(store, 'restarted', { onAdopted: (_rows, from) => adopted.push(from) }).start();
      expect(adopted).to.deep.equal(['crashed']);
      expect((await store.pendingOutbox(10)).map((r) => r.payload)).to.deep.equal(['left by the crash']);
      expect((await store.listReplicas('coordinator')).map((r) => r.id).sort()).to.deep.equal(['restarted', 'running']);
    });

    if (db.name === 'sqlite') {
      it('should refuse a second live process of a service on SQLite, naming the fix', async () => {
        const store = await replicaStore('second');
        // Another process of the service, alive on this host: this test's parent.
        await store.renewReplica({ id: 'first', service: 'coordinator', host: REPLICA_HOST, pid: process.ppid, startedAt: Date.now(), expiresAt: Date.now() + 60_000 }, false);
        const error = await rejection(lease(store, 'second', { singleProcess: true }).start());

        expect(error).to.be.instanceOf(ReplicaConflictError);
        expect(error.message).to.match(/SQLite serves one process per service.*MySQL or MariaDB/);
      });

      it('should take over on SQLite from a process of the service that died without releasing its lease', async () => {
        const store = await replicaStore('restarted');
        const crashed = await replicaStore('crashed');
        await crashed.renewReplica({ id: 'crashed', service: 'coordinator', host: REPLICA_HOST, pid: 2 ** 22 + 1, startedAt: Date.now(), expiresAt: Date.now() + 60_000 }, false);
        await write(crashed, [row('reserva', 'k1', 'left by the crash')]);
        const adopted: number[] = [];

        await lease(store, 'restarted', { singleProcess: true, onAdopted: (rows) => adopted.push(rows) }).start();
        expect((await store.listReplicas('coordinator')).map((r) => r.id)).to.deep.equal(['restarted']);
        expect(adopted, 'adopted at once, although its lease had not run out').to.deep.equal([1]);
      });
    }
  });
});

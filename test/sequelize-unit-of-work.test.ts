import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { connect } from '../db/connect.ts';
import { migrate } from '../db/migrator.ts';
import { PAGOS, type PagoRow } from '../services/participants/pagos.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { ConcurrencyError, SagaAlreadyExistsError } from '../runtime/errors.ts';
import type { Deadline, LogEntry, SagaInstanceRecord } from '../runtime/ports.ts';
import { eachDatabase } from './support/databases.ts';

function instance(id: string, overrides: Partial<SagaInstanceRecord> = {}): SagaInstanceRecord {
  return { sagaType: 'reserva', id, version: 1, stateValue: 'a', status: 'running', snapshot: { value: 'a' }, rowVersion: 1, logSeq: 0, createdAt: 1, updatedAt: 1, ...overrides };
}

function logEntry(sagaId: string, seq: number): LogEntry {
  return { sagaType: 'reserva', sagaId, seq, kind: 'event', type: 'E', payload: { seq }, messageId: null, at: 1 };
}

function deadline(sagaId: string, timerId: string, dueAt: number): Deadline {
  return { sagaType: 'reserva', sagaId, timerId, dueAt, event: { type: timerId } };
}

function pago(id: string, estado: PagoRow['estado'] = 'pagado'): PagoRow {
  return { id_reserva: id, id_pago: `P-${id}`, id_correlacion: id, estado, monto: 1, monto_vat: 0, cargos: 1, reembolsos: 0, fecha_creacion: 1, fecha_actualizacion: 1 };
}

describe('SequelizeUnitOfWork (writes held back until commit)', function () {
  this.timeout(20_000);

  eachDatabase((db) => {
    let store: SequelizeSagaStore;
    let url: string;
    const count = async (sql: string) => Number((await store.sequelize.query<{ n: number }>(sql, { type: QueryTypes.SELECT }))[0].n);

    beforeEach(async () => {
      url = await db.fresh();
      const sequelize = await connect(url);
      await migrate(sequelize);
      store = new SequelizeSagaStore(sequelize);
    });
    afterEach(() => store.close());

    it('should answer seen for an id remembered earlier in the same transaction, read ahead or not', async () => {
      await store.transaction((uow) => uow.remember('reserva/a', 'm-0', 1));
      await store.transaction(async (uow) => {
        await uow.prefetch({ processed: [{ consumer: 'reserva/a', messageId: 'm-0' }, { consumer: 'reserva/a', messageId: 'm-1' }] });
        expect(await uow.seen('reserva/a', 'm-0')).to.equal(true);
        expect(await uow.seen('reserva/a', 'm-1')).to.equal(false);
        await uow.remember('reserva/a', 'm-1', 2);
        expect(await uow.seen('reserva/a', 'm-1')).to.equal(true);
        expect(await uow.seen('reserva/b', 'm-2')).to.equal(false); // not read ahead: read when asked
        await uow.remember('reserva/b', 'm-2', 2);
        expect(await uow.seen('reserva/b', 'm-2')).to.equal(true);
        let error: unknown;
        await uow.remember('reserva/a', 'm-1', 3).catch((e) => (error = e));
        expect(error).to.be.instanceOf(ConcurrencyError);
      });
      expect(await count('SELECT COUNT(*) AS n FROM processed_messages')).to.equal(3);
    });

    it('should load an instance as updated earlier in the transaction, and write it once, checked against the version first read', async () => {
      await store.transaction((uow) => uow.insertInstance(instance('a')));
      await store.transaction(async (uow) => {
        await uow.prefetch({ instances: [{ sagaType: 'reserva', id: 'a' }, { sagaType: 'reserva', id: 'missing' }] });
        expect(await uow.loadInstance('reserva', 'missing')).to.equal(null);
        const first = (await uow.loadInstance('reserva', 'a'))!;
        await uow.updateInstance({ ...first, stateValue: 'b', rowVersion: 2, logSeq: 1 }, 1);
        const second = (await uow.loadInstance('reserva', 'a'))!;
        expect(second).to.include({ stateValue: 'b', rowVersion: 2 });
        (second.snapshot as { value: string }).value = 'changed in memory only';
        expect((await uow.loadInstance('reserva', 'a'))!.snapshot).to.deep.equal({ value: 'a' });
        await uow.updateInstance({ ...second, stateValue: 'c', snapshot: { value: 'c' }, rowVersion: 3, logSeq: 2 }, 2);
        let error: unknown;
        await uow.updateInstance({ ...second, rowVersion: 3 }, 2).catch((e) => (error = e));
        expect(error).to.be.instanceOf(ConcurrencyError);
      });
      expect(await store.getInstance('reserva', 'a')).to.deep.include({ stateValue: 'c', snapshot: { value: 'c' }, rowVersion: 3, logSeq: 2 });
    });

    it('should fail the commit of a transaction whose saga another transaction changed, writing nothing', async () => {
      await store.transaction(async (uow) => {
        for (const id of ['a', 'b', 'c']) await uow.insertInstance(instance(id));
      });
      let release!: () => void;
      const loaded = new Promise<void>((resolve) => (release = resolve));
      // Both read version 1; the loser (one UPDATE for its two sagas) must notice on commit.
      const loser = store.transaction(async (uow) => {
        await uow.prefetch({ instances: [{ sagaType: 'reserva', id: 'a' }, { sagaType: 'reserva', id: 'b' }] });
        for (const id of ['a', 'b']) {
          const record = (await uow.loadInstance('reserva', id))!;
          await uow.updateInstance({ ...record, stateValue: 'loser', rowVersion: 2 }, 1);
          await uow.appendLog([logEntry(id, 1)]);
        }
        await loaded;
      });
      const other = new SequelizeSagaStore(await connect(url));
      try {
        await other.transaction(async (uow) => {
          const record = (await uow.loadInstance('reserva', 'b'))!;
          await uow.updateInstance({ ...record, stateValue: 'winner', rowVersion: 2 }, 1);
        });
      } finally {
        release();
        await other.close();
      }
      let error: unknown;
      await loser.catch((e) => (error = e));
      expect(error).to.be.instanceOf(ConcurrencyError);
      expect((await store.getInstance('reserva', 'a'))?.stateValue).to.equal('a');
      expect((await store.getInstance('reserva', 'b'))?.stateValue).to.equal('winner');
      expect(await count('SELECT COUNT(*) AS n FROM saga_log')).to.equal(0);
    });

    it('should refuse an instance that exists, in the transaction or at commit', async () => {
      await store.transaction((uow) => uow.insertInstance(instance('a')));
      let error: unknown;
      await store
        .transaction(async (uow) => {
          await uow.loadInstance('reserva', 'a');
          await uow.insertInstance(instance('a'));
        })
        .catch((e) => (error = e));
      expect(error).to.be.instanceOf(SagaAlreadyExistsError);
      error = undefined;
      await store.transaction((uow) => uow.insertInstance(instance('a'))).catch((e) => (error = e)); // not read first
      expect(error).to.be.instanceOf(SagaAlreadyExistsError);
    });

    it('should apply deadline changes in the order they were made, and let takeDeadline see them', async () => {
      await store.transaction(async (uow) => {
        await uow.upsertDeadline(deadline('a', 't1', 10));
        await uow.upsertDeadline(deadline('a', 't2', 20));
        await uow.upsertDeadline(deadline('b', 't1', 10));
        await uow.upsertDeadline(deadline('c', 't1', 10));
      });
      await store.transaction(async (uow) => {
        await uow.cancelDeadline('reserva', 'a', 't1');
        await uow.upsertDeadline(deadline('a', 't2', 25)); // moved
        await uow.upsertDeadline(deadline('a', 't3', 30));
        await uow.cancelAllDeadlines('reserva', 'b');
        await uow.upsertDeadline(deadline('b', 't4', 40)); // after the cancel: stays
        await uow.upsertDeadline(deadline('c', 't5', 50));
        expect(await uow.takeDeadline(deadline('c', 't5', 50))).to.equal(true); // set in this transaction
        expect(await uow.takeDeadline(deadline('a', 't2', 20))).to.equal(false); // moved to 25
        await uow.upsertDeadline(deadline('c', 't6', 60));
      });
      const timers = async (id: string) => (await store.deadlinesOf('reserva', id)).map((d) => `${d.timerId}@${d.dueAt}`);
      expect(await timers('a')).to.deep.equal(['t2@25', 't3@30']);
      expect(await timers('b')).to.deep.equal(['t4@40']);
      expect(await timers('c')).to.deep.equal(['t1@10', 't6@60']);
    });

    it('should keep the order of enqueued messages and write large batches in several statements', async () => {
      const ids = Array.from({ length: 450 }, (_, i) => `s${String(i).padStart(3, '0')}`);
      await store.transaction(async (uow) => {
        for (const id of ids) await uow.insertInstance(instance(id));
      });
      await store.transaction(async (uow) => {
        await uow.prefetch({ instances: ids.map((id) => ({ sagaType: 'reserva', id })) });
        for (const [i, id] of [...ids].reverse().entries()) {
          const record = (await uow.loadInstance('reserva', id))!;
          await uow.updateInstance({ ...record, stateValue: `v${i}`, rowVersion: 2 }, 1);
          await uow.appendLog([logEntry(id, 1), logEntry(id, 2)]);
          await uow.enqueue([{ messageId: `m-${id}`, sagaType: 'reserva', sagaId: id, topic: 't', key: id, payload: '{}', createdAt: 1 }]);
          await uow.remember(`reserva/${id}`, `m-${id}`, 1);
        }
      });
      const outbox = await store.pendingOutbox(1000);
      expect(outbox.map((m) => m.sagaId)).to.deep.equal([...ids].reverse());
      expect(await count("SELECT COUNT(*) AS n FROM saga_instances WHERE row_version = 2")).to.equal(450);
      expect(await count('SELECT COUNT(*) AS n FROM saga_log')).to.equal(900);
      expect((await store.getInstance('reserva', 's000'))?.stateValue).to.equal('v449');
    });

    it('should split an update of large snapshots into statements of bounded size', async () => {
      const big = (n: number) => ({ value: 'x', blob: String(n).repeat(400_000) });
      await store.transaction(async (uow) => {
        for (const id of ['a', 'b', 'c']) await uow.insertInstance(instance(id));
      });
      await store.transaction(async (uow) => {
        for (const [i, id] of ['a', 'b', 'c'].entries()) {
          const record = (await uow.loadInstance('reserva', id))!;
          await uow.updateInstance({ ...record, snapshot: big(i), rowVersion: 2 }, 1);
        }
      });
      for (const [i, id] of ['a', 'b', 'c'].entries()) expect((await store.getInstance('reserva', id))?.snapshot).to.deep.equal(big(i));
    });

    it('should write nothing when the work fails after its writes', async () => {
      let error: unknown;
      await store
        .transaction(async (uow) => {
          await uow.insertInstance(instance('a'));
          await uow.enqueue([{ messageId: 'm', sagaType: 'reserva', sagaId: 'a', topic: 't', key: 'a', payload: '{}', createdAt: 1 }]);
          uow.rows(PAGOS).put(pago('R-1'));
          throw new Error('boom');
        })
        .catch((e) => (error = e));
      expect((error as Error).message).to.equal('boom');
      expect(await count('SELECT COUNT(*) AS n FROM saga_instances')).to.equal(0);
      expect(await count('SELECT COUNT(*) AS n FROM outbox')).to.equal(0);
      expect(await count('SELECT COUNT(*) AS n FROM pagos_pagos')).to.equal(0);
    });

    it("should insert a participant's new rows and update its read ones at commit", async () => {
      await store.transaction(async (uow) => {
        uow.rows(PAGOS).put(pago('R-1'));
      });
      await store.transaction(async (uow) => {
        const pagos = uow.rows(PAGOS);
        await pagos.prefetch(['R-1', 'R-2']);
        const existing = (await pagos.get('R-1'))!;
        expect(existing).to.include({ estado: 'pagado', cargos: 1 });
        expect(await pagos.get('R-2')).to.equal(null);
        pagos.put({ ...existing, estado: 'revertido', reembolsos: 1 });
        pagos.put(pago('R-2', 'revertido'));
        expect(await pagos.get('R-1')).to.include({ estado: 'revertido' });
      });
      const rows = await store.sequelize.query<PagoRow>('SELECT * FROM pagos_pagos ORDER BY id_reserva', { type: QueryTypes.SELECT });
      expect(rows.map((r) => [r.id_reserva, r.estado, Number(r.reembolsos)])).to.deep.equal([
        ['R-1', 'revertido', 1],
        ['R-2', 'revertido', 0],
      ]);
      let error: unknown;
      await store.transaction(async (uow) => uow.rows(PAGOS).put(pago('R-1'))).catch((e) => (error = e)); // not read: an insert, refused
      expect(error).to.be.an('error');
    });
  });
});

import { expect } from 'chai';
import { QueryTypes, type Sequelize } from 'sequelize';
import { connect } from '../db/connect.ts';
import { migrate } from '../db/migrator.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { Sql } from '../db/sql.ts';
import type { SagaStatus } from '../runtime/ports.ts';
import { DAY_MS } from '../runtime/retention.ts';
import { eachDatabase } from './support/databases.ts';

const NOW = 1_000 * DAY_MS;
const HORIZON = NOW - 30 * DAY_MS;
const OLD = HORIZON - 60_000;
const RECENT = HORIZON + 60_000;

/** Rows written with plain SQL, so the test depends on the schema only. */
class Seed {
  private readonly sql: Sql;
  private outboxCount = 0;

  constructor(sequelize: Sequelize) {
    this.sql = new Sql(sequelize);
  }

  /** An instance with `logEntries` log rows and one deadline per `timers`. */
  async saga(sagaType: string, id: string, status: SagaStatus, updatedAt: number, logEntries = 2, timers: string[] = []): Promise<void> {
    await this.sql.insert(
      'saga_instances',
      ['saga_type', 'id', 'version', 'state_value', 'status', 'snapshot', 'row_version', 'log_seq', 'created_at', 'updated_at'],
      [[sagaType, id, 1, 's', status, '{"value":"s"}', 1, logEntries, updatedAt - 1000, updatedAt]],
    );
    const log = Array.from({ length: logEntries }, (_, i) => [sagaType, id, i + 1, 'event', 'E', '{}', null, updatedAt]);
    await this.sql.insert('saga_log', ['saga_type', 'saga_id', 'seq', 'kind', 'type', 'payload', 'message_id', 'at'], log);
    await this.sql.insert('deadlines', ['saga_type', 'saga_id', 'timer_id', 'due_at', 'event'], timers.map((t) => [sagaType, id, t, updatedAt + 1000, '{"type":"t"}']));
  }

  async processed(consumer: string, messageId: string, at: number): Promise<void> {
    await this.sql.insert('processed_messages', ['consumer', 'message_id', 'processed_at'], [[consumer, messageId, at]]);
  }

  /** An outbox row created at `createdAt`, sent at `sentAt` (null: not sent yet); returns its message id. */
  async outbox(createdAt: number, sentAt: number | null): Promise<string> {
    const id = `o-${++this.outboxCount}`;
    await this.sql.insert('outbox', ['message_id', 'saga_type', 'saga_id', 'topic', 'msg_key', 'payload', 'created_at', 'sent_at'], [[id, 'reserva', 'x', 't', 'k', '{}', createdAt, sentAt]]);
    return id;
  }

  async deadLetter(code: string, status: 'open' | 'replayed' | 'discarded', at: number, resolvedAt: number | null): Promise<void> {
    await this.sql.insert('dead_letters', ['code', 'reason', 'payload', 'at', 'status', 'resolved_at'], [[code, 'r', '{}', at, status, resolvedAt]]);
  }
}

/** Every statement the store sends, with what it returned (rows matched, for a DELETE). */
function recordStatements(sequelize: Sequelize): { sql: string; result: unknown }[] {
  const seen: { sql: string; result: unknown }[] = [];
  const query = sequelize.query.bind(sequelize) as (...args: unknown[]) => Promise<unknown>;
  (sequelize as unknown as { query: unknown }).query = async (...args: unknown[]) => {
    const result = await query(...args);
    seen.push({ sql: String(args[0]), result });
    return result;
  };
  return seen;
}

describe('SequelizeSagaStore.prune (retention)', function () {
  this.timeout(60_000);

  eachDatabase((db) => {
    let store: SequelizeSagaStore;
    let seed: Seed;
    const column = async (sql: string) => (await store.sequelize.query<Record<string, unknown>>(sql, { type: QueryTypes.SELECT })).map((r) => String(Object.values(r)[0]));

    beforeEach(async () => {
      const sequelize = await connect(await db.fresh());
      await migrate(sequelize);
      store = new SequelizeSagaStore(sequelize, { agedTables: [{ table: 'retention_probe', column: 'created_at' }, { table: 'no_such_table', column: 'created_at' }] });
      seed = new Seed(sequelize);
    });
    afterEach(() => store.close());

    it('should delete exactly what was sent, processed, ended or resolved before the horizon, and keep the rest', async () => {
      // Sagas: ended long ago (each final status), ended recently, running for long, and
      // one id shared by an ended saga and a running saga of another type.
      await seed.saga('reserva', 'ended-completed', 'completed', OLD, 3, ['left-over']);
      await seed.saga('reserva', 'ended-compensated', 'compensated', OLD, 2);
      await seed.saga('reserva', 'ended-failed', 'failed', OLD, 2);
      await seed.saga('reserva', 'ended-recently', 'completed', RECENT, 2);
      await seed.saga('reserva', 'running-long', 'running', OLD, 2, ['plazoPaso']);
      await seed.saga('reserva', 'running-new', 'running', RECENT, 1);
      await seed.saga('reserva', 'shared', 'completed', OLD, 2);
      await seed.saga('pagos-reserva', 'shared', 'running', OLD, 2, ['plazoPaso']);
      // Processed ids: a running saga's are kept whatever their age; any other old one goes.
      await seed.processed('reserva/running-long', 'm-1', OLD);
      await seed.processed('pagos-reserva/shared', 'm-2', OLD);
      await seed.processed('reserva/shared', 'm-2', OLD);
      await seed.processed('reserva/ended-completed', 'm-3', OLD);
      await seed.processed('reserva/ended-recently', 'm-4', OLD);
      await seed.processed('pagos', 'm-5', OLD);
      await seed.processed('pagos', 'm-6', RECENT);
      await seed.processed('reserva/running-new', 'm-7', RECENT);
      // Outbox: only rows sent before the horizon go.
      await seed.outbox(OLD, OLD);
      const sentRecently = await seed.outbox(OLD, RECENT);
      const neverSent = await seed.outbox(OLD, null);
      const newRow = await seed.outbox(RECENT, null);
      // Dead letters: only those resolved before the horizon go.
      await seed.deadLetter('replayed-old', 'replayed', OLD, OLD);
      await seed.deadLetter('discarded-old', 'discarded', OLD, OLD);
      await seed.deadLetter('open-old', 'open', OLD, null);
      await seed.deadLetter('replayed-recently', 'replayed', OLD, RECENT);
      // A table another part of the system owns, pruned by its time column.
      await store.sequelize.query('CREATE TABLE retention_probe (name VARCHAR(32) NOT NULL PRIMARY KEY, created_at BIGINT NOT NULL)');
      await new Sql(store.sequelize).insert('retention_probe', ['name', 'created_at'], [['old', OLD], ['recent', RECENT]]);

      const report = await store.prune(HORIZON, { pauseMs: 0 });

      expect(report.complete).to.equal(true);
      expect(report.deleted).to.deep.equal({
        outbox: 1,
        processed_messages: 4,
        saga_instances: 4,
        saga_log: 9,
        deadlines: 1,
        dead_letters: 2,
        retention_probe: 1,
      });
      const instances = await store.sequelize.query<{ saga_type: string; id: string }>('SELECT saga_type, id FROM saga_instances ORDER BY saga_type, id', { type: QueryTypes.SELECT });
      expect(instances.map((r) => `${r.saga_type}/${r.id}`)).to.deep.equal([
        'pagos-reserva/shared',
        'reserva/ended-recently',
        'reserva/running-long',
        'reserva/running-new',
      ]);
      expect(await column('SELECT saga_id FROM saga_log ORDER BY saga_id, seq')).to.deep.equal(['ended-recently', 'ended-recently', 'running-long', 'running-long', 'running-new', 'shared', 'shared']);
      expect(await column('SELECT saga_type FROM saga_log WHERE saga_id = \'shared\'')).to.deep.equal(['pagos-reserva', 'pagos-reserva']);
      expect(await column('SELECT saga_id FROM deadlines ORDER BY saga_id')).to.deep.equal(['running-long', 'shared']);
      expect(await column('SELECT message_id FROM processed_messages ORDER BY message_id')).to.deep.equal(['m-1', 'm-2', 'm-6', 'm-7']);
      expect(await column('SELECT consumer FROM processed_messages WHERE message_id = \'m-2\'')).to.deep.equal(['pagos-reserva/shared']);
      expect(await column('SELECT message_id FROM outbox ORDER BY seq')).to.deep.equal([sentRecently, neverSent, newRow]);
      expect(await column('SELECT code FROM dead_letters ORDER BY id')).to.deep.equal(['open-old', 'replayed-recently']);
      expect(await column('SELECT name FROM retention_probe')).to.deep.equal(['recent']);

      // A second pass finds nothing more.
      const again = await store.prune(HORIZON, { pauseMs: 0 });
      expect(Object.values(again.deleted).every((n) => n === 0), JSON.stringify(again.deleted)).to.equal(true);
    });

    it('should delete in chunks of at most chunkSize rows per statement, over as many statements as it takes', async () => {
      // 5 old ids of a running saga come first in key order: the walk must get past them.
      await seed.saga('reserva', 'running', 'running', OLD, 1);
      for (let i = 0; i < 5; i++) await seed.processed('reserva/running', `a-${i}`, OLD - 10);
      for (let i = 0; i < 23; i++) await seed.processed('pagos', `m-${String(i).padStart(2, '0')}`, OLD);
      for (let i = 0; i < 23; i++) await seed.outbox(OLD, OLD);
      for (let i = 0; i < 9; i++) await seed.saga('reserva', `ended-${i}`, 'completed', OLD, 3, ['t']);
      await seed.saga('reserva', 'long-log', 'failed', OLD, 10);
      for (let i = 0; i < 11; i++) await seed.deadLetter(`dl-${i}`, i % 2 ? 'replayed' : 'discarded', OLD, OLD);
      const statements = recordStatements(store.sequelize);

      const report = await store.prune(HORIZON, { chunkSize: 4, pauseMs: 1 });

      expect(report.complete).to.equal(true);
      expect(report.deleted).to.include({ outbox: 23, processed_messages: 23, saga_instances: 10, saga_log: 37, deadlines: 9, dead_letters: 11 });
      const deletes = statements.filter((s) => /^\s*DELETE/i.test(s.sql));
      expect(deletes.length).to.equal(report.statements);
      for (const d of deletes) expect(Number(d.result), d.sql.slice(0, 200)).to.be.at.most(4);
      const on = (table: string) => deletes.filter((d) => new RegExp(`^\\s*DELETE FROM ${table}\\b`, 'i').test(d.sql));
      expect(on('outbox').length).to.be.at.least(6); // ceil(23 / 4)
      expect(on('processed_messages').length).to.be.at.least(6);
      expect(on('dead_letters').length).to.be.at.least(3);
      expect(on('saga_log').length).to.be.at.least(10);
      expect(await column('SELECT message_id FROM processed_messages ORDER BY message_id')).to.deep.equal(['a-0', 'a-1', 'a-2', 'a-3', 'a-4']);
      expect(await column('SELECT id FROM saga_instances')).to.deep.equal(['running']);
      expect(await column('SELECT COUNT(*) FROM saga_log')).to.deep.equal(['1']);
      expect(await column('SELECT COUNT(*) FROM outbox')).to.deep.equal(['0']);
    });

    it('should stop between chunks once aborted, and finish on the next pass', async () => {
      for (let i = 0; i < 12; i++) await seed.outbox(OLD, OLD);
      const abort = new AbortController();
      const statements = recordStatements(store.sequelize);
      const query = store.sequelize.query.bind(store.sequelize) as (...args: unknown[]) => Promise<unknown>;
      (store.sequelize as unknown as { query: unknown }).query = async (...args: unknown[]) => {
        const result = await query(...args);
        if (/^\s*DELETE/i.test(String(args[0]))) abort.abort();
        return result;
      };
      const first = await store.prune(HORIZON, { chunkSize: 5, pauseMs: 0, signal: abort.signal });
      expect(first).to.include({ complete: false, statements: 1 });
      expect(first.deleted.outbox).to.equal(5);
      expect(statements.filter((s) => /^\s*DELETE/i.test(s.sql))).to.have.length(1);
      const second = await store.prune(HORIZON, { chunkSize: 5, pauseMs: 0 });
      expect(second.complete).to.equal(true);
      expect(second.deleted.outbox).to.equal(7);
    });
  });
});

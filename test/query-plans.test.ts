import { expect } from 'chai';
import { QueryTypes, type Sequelize } from 'sequelize';
import { connect } from '../db/connect.ts';
import { migrate } from '../db/migrator.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { Sql } from '../db/sql.ts';
import type { InstanceQuery, SagaStatus } from '../runtime/ports.ts';
import { DAY_MS } from '../runtime/retention.ts';
import { eachDatabase } from './support/databases.ts';

const TYPES = ['reserva', 'vuelos-reserva', 'pagos-reserva', 'gds-reserva', 'reserva-coreografia'];
const STATUSES: SagaStatus[] = ['completed', 'completed', 'completed', 'completed', 'completed', 'compensated', 'compensated', 'failed', 'running', 'running'];
const SAGAS = 3000;
const NOW = 1_000 * DAY_MS;
const HORIZON = NOW - 30 * DAY_MS;
/** Time of the i-th of n rows: the first tenth before the horizon, the rest after it. */
const timeOf = (i: number, n: number) => HORIZON + Math.round(((i - n / 10) * 30 * DAY_MS) / n);

/** Tables the size of a busy day, with snapshots that make a full scan expensive, so the planners choose as in production. */
async function seed(sequelize: Sequelize): Promise<void> {
  const sql = new Sql(sequelize);
  const snapshot = JSON.stringify({ value: 's', context: { itinerarios: 'x'.repeat(2000) } });
  const instances: unknown[][] = [];
  const log: unknown[][] = [];
  const processed: unknown[][] = [];
  const outbox: unknown[][] = [];
  const deadLetters: unknown[][] = [];
  const deadlines: unknown[][] = [];
  for (let i = 0; i < SAGAS; i++) {
    const type = TYPES[i % TYPES.length];
    const id = `s-${String(i).padStart(5, '0')}`;
    const at = timeOf(i, SAGAS);
    instances.push([type, id, 1, ['creandoReserva', 'pagando', 'confirmandoGds', 'aprobando', 'completada'][i % 5], STATUSES[(i * 7) % STATUSES.length], snapshot, 1, 2, at, at + 1000, `cliente-${i % 20}`]);
    log.push([type, id, 1, 'event', 'E', '{}', `m-${i}`, at], [type, id, 2, 'state', 's', '{}', null, at]);
    processed.push([`${type}/${id}`, `m-${i}`, at]);
    outbox.push([`o-${i}`, type, id, 't', id, '{}', at, i % 10 === 9 ? null : at + 10]);
    if (i % 2 === 0) deadlines.push([type, id, 'plazoPaso', at + 30_000, '{"type":"t"}']);
    if (i % 3 === 0) deadLetters.push(['message', 'invalid', 'r', '{}', at, ['open', 'replayed', 'discarded'][i % 9 / 3], i % 9 === 0 ? null : at + 10]);
  }
  await sql.insert('saga_instances', ['saga_type', 'id', 'version', 'state_value', 'status', 'snapshot', 'row_version', 'log_seq', 'created_at', 'updated_at', 'customer'], instances);
  await sql.insert('saga_log', ['saga_type', 'saga_id', 'seq', 'kind', 'type', 'payload', 'message_id', 'at'], log);
  await sql.insert('processed_messages', ['consumer', 'message_id', 'processed_at'], processed);
  await sql.insert('outbox', ['message_id', 'saga_type', 'saga_id', 'topic', 'msg_key', 'payload', 'created_at', 'sent_at'], outbox);
  await sql.insert('deadlines', ['saga_type', 'saga_id', 'timer_id', 'due_at', 'event'], deadlines);
  await sql.insert('dead_letters', ['source', 'code', 'reason', 'payload', 'at', 'status', 'resolved_at'], deadLetters);
  if (sql.mysql) await sequelize.query('ANALYZE TABLE saga_instances, saga_log, processed_messages, outbox, dead_letters, deadlines');
  else await sequelize.query('ANALYZE');
}

/** Every statement sent through `sequelize` from now on. */
function recordStatements(sequelize: Sequelize): string[] {
  const seen: string[] = [];
  const query = sequelize.query.bind(sequelize) as (...args: unknown[]) => Promise<unknown>;
  (sequelize as unknown as { query: unknown }).query = (...args: unknown[]) => {
    seen.push(String(args[0]));
    return query(...args);
  };
  return seen;
}

interface Plan {
  rows: Record<string, unknown>[];
  /** Whole-table reads: MariaDB `type: ALL`, SQLite `SCAN <table>` without an index. */
  fullScans: string[];
  /** A sort the ORDER BY needed: MariaDB `Using filesort`, SQLite `USE TEMP B-TREE FOR ORDER BY`. */
  sorts: string[];
  /** Indexes the plan reads. */
  keys: string[];
}

/** The plan of `statement` (MariaDB `EXPLAIN`, SQLite `EXPLAIN QUERY PLAN`), printed. */
async function explain(sequelize: Sequelize, statement: string): Promise<Plan> {
  const mysql = sequelize.getDialect() === 'mysql';
  const rows = await sequelize.query<Record<string, unknown>>(`${mysql ? 'EXPLAIN' : 'EXPLAIN QUERY PLAN'} ${statement}`, { type: QueryTypes.SELECT });
  console.log(`      ${statement.length > 220 ? `${statement.slice(0, 220)}…` : statement}`);
  // SQLite lists one line per OR term: the first few say enough.
  for (const row of rows.slice(0, 8)) {
    console.log(
      mysql
        ? `        table=${row.table} type=${row.type} key=${row.key} key_len=${row.key_len} rows=${row.rows} Extra=${row.Extra ?? ''}`
        : `        ${row.detail}`,
    );
  }
  if (rows.length > 8) console.log(`        … ${rows.length - 8} more like these`);
  if (mysql) {
    return {
      rows,
      fullScans: rows.filter((r) => r.type === 'ALL').map((r) => `${r.table}: type ALL`),
      sorts: rows.filter((r) => /filesort/i.test(String(r.Extra ?? ''))).map((r) => `${r.table}: ${r.Extra}`),
      keys: rows.map((r) => String(r.key)).filter((k) => k !== 'null'),
    };
  }
  const details = rows.map((r) => String(r.detail));
  return {
    rows,
    fullScans: details.filter((d) => /^SCAN \w+$/.test(d.trim())),
    sorts: details.filter((d) => /TEMP B-TREE FOR ORDER BY/.test(d)),
    keys: details.flatMap((d) => /USING (?:COVERING )?INDEX (\w+)|USING (INTEGER PRIMARY KEY)|USING (PRIMARY KEY)/.exec(d)?.slice(1).filter(Boolean) ?? []),
  };
}

describe('query plans: list queries and retention use indexes', function () {
  this.timeout(60_000);

  eachDatabase((db) => {
    let store: SequelizeSagaStore;

    before(async () => {
      const sequelize = await connect(await db.fresh());
      await migrate(sequelize);
      await seed(sequelize);
      store = new SequelizeSagaStore(sequelize);
    });
    after(() => store?.close());

    const lists: [string, InstanceQuery][] = [
      ['newest first', {}],
      ['newest first by status', { status: 'running' }],
      ['newest first by saga type', { sagaType: 'pagos-reserva' }],
      ['newest first by status and saga type', { status: 'completed', sagaType: 'reserva' }],
      ['a customer’s, newest first', { customer: 'cliente-7' }],
      ['a customer’s of one type, newest first', { customer: 'cliente-5', sagaType: 'reserva' }],
      ['those in a state, newest first', { state: 'pagando' }],
      ['those in a state with a status, newest first', { state: 'confirmandoGds', status: 'running' }],
      ['the page after a cursor, newest first', { after: { createdAt: timeOf(2000, SAGAS), id: 's-02000', sagaType: TYPES[0] } }],
      ['a time range, newest first', { createdFrom: timeOf(500, SAGAS), createdBefore: timeOf(2500, SAGAS) }],
    ];
    for (const [name, query] of lists) {
      it(`should list ${name} from an index, without reading the snapshot, without a full scan or a sort`, async () => {
        const statements = recordStatements(store.sequelize);
        const found = await store.listInstances({ ...query, limit: 100 });
        expect(found).to.have.length(100);
        expect(found.map((s) => s.createdAt)).to.deep.equal(found.map((s) => s.createdAt).sort((a, b) => b - a));
        expect(statements).to.have.length(1);
        const [statement] = statements;
        expect(statement, 'the list reads no snapshot').not.to.match(/snapshot|\*/i);
        const plan = await explain(store.sequelize, statement);
        expect(plan.fullScans, 'full scans').to.deep.equal([]);
        expect(plan.sorts, 'sorts').to.deep.equal([]);
        expect(plan.keys.some((k) => k.startsWith('saga_instances_')), `an index of saga_instances (${plan.keys})`).to.equal(true);
      });
    }

    it('should list the instances of one id from the id index, without reading the snapshot (a sort of a few rows)', async () => {
      const statements = recordStatements(store.sequelize);
      const found = await store.listInstances({ id: 's-00042' });
      expect(found.map((s) => s.id)).to.deep.equal(['s-00042']);
      expect(statements[0]).not.to.match(/snapshot|\*/i);
      const plan = await explain(store.sequelize, statements[0]);
      expect(plan.fullScans).to.deep.equal([]);
      expect(plan.keys.some((k) => k.startsWith('saga_instances_id') || k.startsWith('sqlite_autoindex_saga_instances')), String(plan.keys)).to.equal(true);
    });

    it('should answer the deadline scheduler (next due time, due deadlines) from the armed-deadline index, reading no more rows than it returns', async () => {
      const seen = recordStatements(store.sequelize);
      await store.nextDeadlineAt(['reserva']);
      await store.dueDeadlines(Date.now() + 365 * 86_400_000, 5, ['reserva']);
      const statements = seen.filter((q) => /FROM deadlines/.test(q));
      expect(statements).to.have.length(2);
      for (const statement of statements) {
        const plan = await explain(store.sequelize, statement);
        expect(plan.fullScans, statement).to.deep.equal([]);
        expect(plan.sorts, statement).to.deep.equal([]);
        // MariaDB answers MIN() from the index itself ("Select tables optimized away"): no table read at all.
        const fromIndex = plan.keys.includes('deadlines_armed') || plan.rows.some((r) => /optimized away/i.test(String(r.Extra ?? '')));
        expect(fromIndex, `${statement}: ${JSON.stringify(plan.rows)}`).to.equal(true);
      }
    });

    it('should find what retention deletes through indexes: no full scan, no sort', async () => {
      const statements = recordStatements(store.sequelize);
      const report = await store.prune(HORIZON, { chunkSize: 100, pauseMs: 0 });
      expect(report.complete).to.equal(true);
      // The first tenth of each table is before the horizon, less what is kept.
      expect(report.deleted.outbox).to.be.within(200, 300);
      expect(report.deleted.saga_instances).to.be.within(200, 300);
      expect(report.deleted.processed_messages).to.be.within(200, 300);
      expect(report.deleted.dead_letters).to.be.within(50, 100);
      // One statement of each shape (literals left out), on the runtime's tables.
      const shapes = new Map<string, string>();
      for (const statement of statements) {
        if (!/\b(saga_instances|saga_log|deadlines|processed_messages|outbox|dead_letters)\b/.test(statement) || /information_schema|sqlite_master/.test(statement)) continue;
        const shape = statement.replace(/'[^']*'/g, '?').replace(/\b\d+\b/g, '?').replace(/\(\?(, \?)*\)/g, '(?)').slice(0, 90);
        if (!shapes.has(shape)) shapes.set(shape, statement);
      }
      expect([...shapes.values()].some((s) => /^SELECT .* FROM processed_messages/.test(s))).to.equal(true);
      expect([...shapes.values()].some((s) => /^SELECT .* FROM saga_instances/.test(s))).to.equal(true);
      for (const statement of shapes.values()) {
        const plan = await explain(store.sequelize, statement.replace(/ FOR UPDATE$/, ''));
        expect(plan.fullScans, statement.slice(0, 200)).to.deep.equal([]);
        expect(plan.sorts, statement.slice(0, 200)).to.deep.equal([]);
      }
    });
  });
});

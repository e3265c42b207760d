import { performance } from 'node:perf_hooks';
import { connect } from '../db/connect.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { Probe, type ProbeSnapshot } from './probe.ts';

export interface OneRowResult {
  transactions: number;
  concurrency: number;
  ms: number;
  perSecond: number;
  /** Mean ms per transaction getting a connection + BEGIN, and from then to COMMIT done. */
  acquireMsPerTx: number;
  runMsPerTx: number;
  statements: ProbeSnapshot['statements'];
}

/**
 * `BEGIN; INSERT one row; COMMIT`, `count` times, with at most `concurrency` at once.
 *
 * It goes through the same path as the runtime's writes: `connect()` (same Sequelize
 * settings, pool, SQLite busy timeout and WAL) and `SequelizeSagaStore.transaction`
 * (which on SQLite queues the process's transactions, one at a time; on MariaDB up to the
 * pool size of 10 run at once).
 */
export async function oneRowTransactions(databaseUrl: string, count: number, concurrency: number): Promise<OneRowResult> {
  const sequelize = await connect(databaseUrl);
  const store = new SequelizeSagaStore(sequelize);
  try {
    const sqlite = sequelize.getDialect() === 'sqlite';
    await sequelize.query(
      sqlite
        ? 'CREATE TABLE IF NOT EXISTS bench_one_row (id INTEGER PRIMARY KEY AUTOINCREMENT, v VARCHAR(64) NOT NULL, at BIGINT NOT NULL)'
        : 'CREATE TABLE IF NOT EXISTS bench_one_row (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64) NOT NULL, at BIGINT NOT NULL) ENGINE=InnoDB',
    );
    const probe = new Probe();
    probe.instrument(sequelize, store); // same logging overhead as the saga runs
    let next = 0;
    const one = () =>
      store.transaction((uow) =>
        uow.sql.insert('bench_one_row', ['v', 'at'], [[`row-${next++}`, Date.now()]]),
      );
    for (let i = 0; i < Math.min(50, count); i++) await one(); // warm-up, not timed
    const before = probe.snapshot();
    let remaining = count;
    const worker = async () => {
      while (remaining > 0) {
        remaining--;
        await one();
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
    const ms = performance.now() - started;
    const after = probe.snapshot();
    const statements: ProbeSnapshot['statements'] = {};
    for (const [key, tally] of Object.entries(after.statements)) {
      const was = before.statements[key] ?? { count: 0, ms: 0 };
      statements[key] = { count: tally.count - was.count, ms: tally.ms - was.ms };
    }
    const tx = (snapshot: ProbeSnapshot) => snapshot.transactions.other ?? { acquireMs: 0, runMs: 0 };
    return {
      transactions: count,
      concurrency,
      ms,
      perSecond: (count / ms) * 1000,
      acquireMsPerTx: (tx(after).acquireMs - tx(before).acquireMs) / count,
      runMsPerTx: (tx(after).runMs - tx(before).runMs) / count,
      statements,
    };
  } finally {
    await store.close();
  }
}

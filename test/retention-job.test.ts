import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { connect } from '../db/connect.ts';
import { migrate } from '../db/migrator.ts';
import { Sql } from '../db/sql.ts';
import type { PruneOptions, PruneReport, SagaStore } from '../runtime/ports.ts';
import { DAY_MS, RetentionJob } from '../runtime/retention.ts';
import { loadConfig } from '../services/config.ts';
import { openInfrastructure } from '../services/infrastructure.ts';

type Call = { before: number; options: PruneOptions; at: number };
type Log = { message: string; fields?: Record<string, unknown> };

const report = (outbox = 0): PruneReport => ({ deleted: { outbox, processed_messages: 0 }, statements: 1, complete: true });

/** A store whose `prune` records its calls and answers with `answer` (default: deleted nothing). */
function fakeStore(answer: (call: Call) => Promise<PruneReport> = async () => report()): Pick<SagaStore, 'prune'> & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    prune(before, options = {}) {
      const call = { before, options, at: Date.now() };
      calls.push(call);
      return answer(call);
    },
  };
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RetentionJob', function () {
  this.timeout(20_000);
  const jobs: RetentionJob[] = [];
  const make = (store: Pick<SagaStore, 'prune'>, options: ConstructorParameters<typeof RetentionJob>[1]) => {
    const job = new RetentionJob(store, options);
    jobs.push(job);
    return job;
  };
  afterEach(async () => {
    for (const job of jobs.splice(0)) await job.stop();
  });

  it('should prune first shortly after start, then every interval, up to now minus the retention, and log what it deleted', async () => {
    const store = fakeStore(async () => report(3));
    const logs: Log[] = [];
    let now = 50 * DAY_MS;
    const started = Date.now();
    const job = make(store, { keepMs: 30 * DAY_MS, firstRunMs: 20, intervalMs: 40, jitter: 0, chunkSize: 7, pauseMs: 3, clock: () => now, log: (message, fields) => logs.push({ message, fields }) });
    job.start();
    await until('the first pass', () => store.calls.length >= 1);
    now += DAY_MS;
    await until('three passes', () => store.calls.length >= 3);
    expect(store.calls[0].at - started).to.be.at.least(15);
    expect(store.calls[0].before).to.equal(20 * DAY_MS);
    expect(store.calls[2].before).to.equal(21 * DAY_MS);
    expect(store.calls[1].at - store.calls[0].at).to.be.at.least(35);
    expect(store.calls[0].options).to.include({ chunkSize: 7, pauseMs: 3 });
    expect(store.calls[0].options.signal).to.be.instanceOf(AbortSignal);
    expect(logs[0].message).to.match(/^retention: pass done/);
    expect(logs[0].fields).to.include({ horizon: new Date(20 * DAY_MS).toISOString(), total: 3, outbox: 3, processed_messages: 0 });
  });

  it('should log a failed pass, throw nothing out of its timer, and try again at the next interval', async () => {
    let failures = 0;
    const store = fakeStore(async () => {
      if (failures++ === 0) throw new Error('database unreachable');
      return report(1);
    });
    const logs: Log[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (error: unknown) => unhandled.push(error);
    process.on('unhandledRejection', onUnhandled);
    try {
      const job = make(store, { keepMs: DAY_MS, firstRunMs: 0, intervalMs: 30, jitter: 0, log: (message, fields) => logs.push({ message, fields }) });
      job.start();
      await until('a pass after the failed one', () => logs.find((l) => l.message.startsWith('retention: pass done')));
      expect(logs[0].message).to.match(/^retention: pass failed/);
      expect(logs[0].fields).to.include({ error: 'database unreachable' });
      expect(await job.runOnce()).to.deep.equal(report(1));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).to.deep.equal([]);
  });

  it('should start no pass after stop, and abort and wait for the one running', async () => {
    let finished = false;
    const store = fakeStore(
      (call) =>
        new Promise<PruneReport>((resolve) => {
          // Like a store: the chunk under way completes, then the pass ends.
          call.options.signal!.addEventListener('abort', () =>
            setTimeout(() => {
              finished = true;
              resolve({ ...report(), complete: false });
            }, 50),
          );
        }),
    );
    const job = make(store, { keepMs: DAY_MS, firstRunMs: 0, intervalMs: 20, jitter: 0 });
    job.start();
    await until('a running pass', () => store.calls.length === 1);
    const call = store.calls[0];
    await job.stop();
    expect(call.options.signal!.aborted).to.equal(true);
    expect(finished, 'stop waited for the running pass').to.equal(true);
    // Ten intervals of nothing: the timer is gone.
    await pause(200);
    expect(store.calls).to.have.length(1);
  });

  it('should spread its waits by the jitter', async () => {
    // Drawn at the bottom: 1% of 10 s. Without the jitter the first pass would take 10 s.
    const early = fakeStore();
    make(early, { keepMs: DAY_MS, firstRunMs: 10_000, jitter: 0.99, random: () => 0 }).start();
    await until('the early pass', () => early.calls.length === 1, 5_000);
    // Drawn at the top: 1.5 × 100 ms.
    const late = fakeStore();
    const started = Date.now();
    make(late, { keepMs: DAY_MS, firstRunMs: 100, jitter: 0.5, random: () => 1 }).start();
    await until('the late pass', () => late.calls.length === 1);
    expect(late.calls[0].at - started).to.be.at.least(145);
  });

  it('should be off with a retention of 0 days: no pass, no delete', async () => {
    const store = fakeStore();
    const job = make(store, { keepMs: 0, firstRunMs: 0, intervalMs: 10 });
    job.start();
    expect(job.enabled).to.equal(false);
    expect(await job.runOnce()).to.equal(null);
    await pause(100);
    expect(store.calls).to.have.length(0);
  });
});

describe('retention settings and wiring', function () {
  this.timeout(20_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-retention-'));
  let counter = 0;
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('should read SAGA_RETENTION_DAYS (default 30, 0 is off) and SAGA_RETENTION_INTERVAL_MS (default 1 h)', () => {
    expect(loadConfig({}).retention).to.deep.equal({ days: 30, intervalMs: 3_600_000 });
    expect(loadConfig({ SAGA_RETENTION_DAYS: '7', SAGA_RETENTION_INTERVAL_MS: '60000' }).retention).to.deep.equal({ days: 7, intervalMs: 60_000 });
    expect(loadConfig({ SAGA_RETENTION_DAYS: '0' }).retention.days).to.equal(0);
    expect(() => loadConfig({ SAGA_RETENTION_DAYS: '-1' })).to.throw(/SAGA_RETENTION_DAYS/);
    expect(() => loadConfig({ SAGA_RETENTION_INTERVAL_MS: '0' })).to.throw(/SAGA_RETENTION_INTERVAL_MS/);
  });

  /** A SQLite database with one outbox row sent 40 days ago. */
  async function databaseWithAnOldSentRow(): Promise<string> {
    const url = `sqlite:${path.join(dir, `r${++counter}.db`)}`;
    const sequelize = await connect(url);
    await migrate(sequelize);
    const old = Date.now() - 40 * DAY_MS;
    await new Sql(sequelize).insert('outbox', ['message_id', 'saga_type', 'saga_id', 'topic', 'msg_key', 'payload', 'created_at', 'sent_at'], [['o-1', 'reserva', 'x', 't', 'k', '{}', old, old]]);
    await sequelize.close();
    return url;
  }

  it("should run in every process's infrastructure, and stop when it closes", async () => {
    const logs: Log[] = [];
    const infra = await openInfrastructure({ ...loadConfig({}), databaseUrl: await databaseWithAnOldSentRow() }, {
      retention: { firstRunMs: 0, intervalMs: 30, pauseMs: 0 },
      log: (message, fields) => logs.push({ message, fields }),
    });
    let passes = 0;
    try {
      const done = await until('a retention pass', () => logs.find((l) => l.message.startsWith('retention: pass done')));
      expect(done.fields).to.include({ outbox: 1 });
      await until('a second pass', () => logs.filter((l) => l.message.startsWith('retention:')).length >= 2);
    } finally {
      await infra.close();
      passes = logs.filter((l) => l.message.startsWith('retention:')).length;
    }
    await pause(200);
    expect(logs.filter((l) => l.message.startsWith('retention:'))).to.have.length(passes);
  });

  it('should run no retention with SAGA_RETENTION_DAYS=0, nor in a process that only inspects (listen: false)', async () => {
    for (const [env, options] of [
      [{ SAGA_RETENTION_DAYS: '0' }, {}],
      [{}, { listen: false }],
    ] as const) {
      const logs: Log[] = [];
      const infra = await openInfrastructure({ ...loadConfig(env), databaseUrl: await databaseWithAnOldSentRow() }, {
        ...options,
        retention: { firstRunMs: 0, intervalMs: 10 },
        log: (message, fields) => logs.push({ message, fields }),
      });
      try {
        await pause(150);
        expect(logs.filter((l) => l.message.startsWith('retention:')), JSON.stringify(env)).to.deep.equal([]);
        const row = await infra.sequelize.query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox', { type: QueryTypes.SELECT, plain: true });
        expect(Number(row?.n), 'the old sent row is still there').to.equal(1);
      } finally {
        await infra.close();
      }
    }
  });
});

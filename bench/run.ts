/**
 * Saga runtime benchmark (not a test): throughput of the happy path on SQLite and MariaDB
 * with the in-process transport, against the rate of plain one-row transactions on the
 * same database.
 *
 *   npm run bench                      # both databases, 300 sagas, maxBatch 1, 16, 64
 *   npm run bench -- --db sqlite --sagas 500 --max-batch 64,256
 *
 * Flags: --db sqlite|mariadb|both, --sagas N, --max-batch a,b,c ("default" = the runtime's
 * own default, 64), --tx N (one-row transactions per measurement, default 1000), --warmup N
 * (sagas run and discarded first, default 50), --timeout S (per saga run, default 120),
 * --no-sql-stats (do not log statements through Sequelize's `benchmark` logging, to see its cost),
 * --tracing (each maxBatch also run with OpenTelemetry tracing on, spans counted not sent: its cost, in the same run).
 * Env: BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306).
 * Writes bench/results/latest.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mariadbDatabase, sqliteDatabase, type BenchDatabase, type Engine } from './databases.ts';
import { oneRowTransactions, type OneRowResult } from './one-row.ts';
import { Probe } from './probe.ts';
import { runSagas, type SagaRunResult } from './sagas.ts';
import { runPulsarBenchmark, takeTransportFlag } from './pulsar.ts';
import { startCountingTracing } from './tracing.ts';

// --growth [1000,10000,100000]: the cost as the sagas in flight grow, every service its own process (bench/growth.ts).
if (process.argv.some((a) => a === '--growth' || a.startsWith('--growth='))) process.exit(await (await import('./growth.ts')).runGrowthBenchmark());
// --transport pulsar: every service its own process over the broker and MariaDB (bench/pulsar.ts); memory (default): below.
if (takeTransportFlag() === 'pulsar') process.exit(await runPulsarBenchmark());

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RESULTS = path.join(HERE, 'results', 'latest.json');

interface Args {
  engines: Engine[];
  sagas: number;
  maxBatches: (number | undefined)[];
  tx: number;
  warmup: number;
  timeoutMs: number;
  mysqlUrl: string;
  tracing: boolean;
}

interface Reference {
  /** Sequential one-row tx/s measured right before and right after this run, and their mean (the ratio's divisor). */
  sequentialBefore: number;
  sequentialAfter: number;
  sequential: number;
  concurrent: number;
}

interface EngineReport {
  engine: Engine;
  database: string;
  server?: string;
  skipped?: string;
  oneRow: { sequential: (OneRowResult & { when: string })[]; concurrent?: OneRowResult };
  runs: (SagaRunResult & { reference: Reference; ratio: { events: number; eventsVsConcurrent: number; messages: number }; tracing?: { spans: number } })[];
}

function parse(): Args {
  const { values } = parseArgs({
    options: {
      db: { type: 'string', default: 'both' },
      sagas: { type: 'string' },
      'max-batch': { type: 'string', default: '1,16,64' },
      tx: { type: 'string', default: '1000' },
      warmup: { type: 'string', default: '50' },
      timeout: { type: 'string', default: '120' },
      'no-sql-stats': { type: 'boolean', default: false },
      tracing: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
  if (values['no-sql-stats']) Probe.statements = false;
  if (values.help) {
    console.log('usage: npm run bench -- [--db sqlite|mariadb|both] [--sagas N] [--max-batch 1,16,64] [--tx 1000] [--warmup 50] [--timeout 120] [--no-sql-stats] [--tracing]');
    process.exit(0);
  }
  const engines: Engine[] =
    values.db === 'both' ? ['sqlite', 'mariadb'] : values.db === 'sqlite' || values.db === 'mariadb' ? [values.db] : fail(`--db must be sqlite, mariadb or both, got "${values.db}"`);
  const positive = (name: string, raw: string, min = 1) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got "${raw}"`);
    return n;
  };
  return {
    engines,
    sagas: values.sagas === undefined ? 300 : positive('sagas', values.sagas),
    maxBatches: values['max-batch']!.split(',').map((s) => (s.trim() === 'default' ? undefined : positive('max-batch', s.trim()))),
    tx: positive('tx', values.tx!),
    warmup: positive('warmup', values.warmup!, 0),
    timeoutMs: positive('timeout', values.timeout!) * 1000,
    mysqlUrl: process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306',
    tracing: values.tracing ?? false,
  };
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

/** Databases to drop if the run is interrupted. */
const open = new Set<BenchDatabase>();
const loadAtStart = os.loadavg();

/**
 * One database: warm-up sagas (JIT, caches), one-row transactions with the sagas'
 * concurrency, then for each maxBatch a sequential one-row measurement followed by a saga
 * run, and a last one-row measurement. Each run's ratio divides by the mean of the one-row
 * rates measured just before and just after it, because the disk's fsync rate drifts.
 */
async function benchEngine(engine: Engine, args: Args): Promise<EngineReport> {
  let database: BenchDatabase;
  let server: string | undefined;
  if (engine === 'sqlite') database = sqliteDatabase();
  else {
    const found = await mariadbDatabase(args.mysqlUrl);
    if ('error' in found) {
      console.log(`\nMariaDB not reachable (${found.error}); skipping it.`);
      return { engine, database: args.mysqlUrl, skipped: found.error, oneRow: { sequential: [] }, runs: [] };
    }
    database = found.database;
    server = found.version;
  }
  open.add(database);
  const report: EngineReport = { engine, database: database.where, server, oneRow: { sequential: [] }, runs: [] };
  const serverCpu = engine === 'mariadb';
  const sequential = async (when: string) => {
    const result = { when, ...(await oneRowTransactions(database.url, args.tx, 1)) };
    report.oneRow.sequential.push(result);
    console.log(`  one-row tx, sequential (${when}): ${fmt(result.perSecond)}/s`);
    return result.perSecond;
  };
  try {
    console.log(`\n== ${engine}${server ? ` ${server}` : ''}: ${database.where}`);
    if (args.warmup > 0) {
      const warm = await runSagas(database.url, { sagas: args.warmup, timeoutMs: args.timeoutMs, serverCpu });
      console.log(`  warm-up: ${warm.completed}/${args.warmup} sagas completed (not reported)`);
    }
    const concurrent = await oneRowTransactions(database.url, args.tx, args.sagas);
    report.oneRow.concurrent = concurrent;
    console.log(`  one-row tx, ${args.sagas} at a time: ${fmt(concurrent.perSecond)}/s`);
    let before = await sequential(`before maxBatch ${args.maxBatches[0] ?? 'default'}`);
    const runs = args.maxBatches.flatMap((maxBatch) => (args.tracing ? [{ maxBatch, traced: false }, { maxBatch, traced: true }] : [{ maxBatch, traced: false }]));
    for (const [i, { maxBatch, traced }] of runs.entries()) {
      const tracing = traced ? startCountingTracing() : null;
      const run = await runSagas(database.url, { sagas: args.sagas, maxBatch, timeoutMs: args.timeoutMs, serverCpu });
      const spans = await tracing?.stop();
      console.log(
        `  ${args.sagas} sagas, maxBatch ${maxBatch ?? 'default (64)'}${traced ? `, traced (${spans} spans)` : ''}: ${run.completed}/${run.sagas} completed in ${(run.wallMs / 1000).toFixed(2)} s` +
          `${run.timedOut ? ' (TIMED OUT)' : ''}, ${fmt(run.eventsPerSecond)} events/s`,
      );
      if ((run.status.completed ?? 0) !== run.sagas) console.warn(`  the store says: ${JSON.stringify(run.status)} (expected ${run.sagas} completed)`);
      const next = runs[i + 1];
      const after = await sequential(next ? `before maxBatch ${next.maxBatch ?? 'default'}${next.traced ? ' traced' : ''}` : 'after the last run');
      const reference: Reference = { sequentialBefore: before, sequentialAfter: after, sequential: (before + after) / 2, concurrent: concurrent.perSecond };
      report.runs.push({
        ...run,
        reference,
        ratio: {
          events: run.eventsPerSecond / reference.sequential,
          eventsVsConcurrent: run.eventsPerSecond / reference.concurrent,
          messages: run.messagesPerSecond / reference.sequential,
        },
        ...(traced ? { tracing: { spans: spans ?? 0 } } : {}),
      });
      before = after;
    }
  } finally {
    await database.drop().catch((error: unknown) => console.warn(`  could not drop ${database.where}: ${(error as Error).message}`));
    open.delete(database);
  }
  return report;
}

// ---------------------------------------------------------------------------------------
// Output

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  return [line(headers), '|' + widths.map((w, i) => (i < 2 ? ':' : '-') + '-'.repeat(w) + (i < 2 ? '-' : ':')).join('|') + '|', ...rows.map(line)].join('\n');
}

const COMPONENTS = ['start', 'runtime', 'vuelos', 'pagos', 'gds', 'notificaciones', 'relay', 'other'];

function batchName(maxBatch: number | 'default', tracing?: { spans: number }): string {
  return (maxBatch === 'default' ? 'default(64)' : String(maxBatch)) + (tracing ? ' traced' : '');
}

function print(reports: EngineReport[], args: Args, wallMs: number): void {
  const runs = reports.flatMap((r) => r.runs.map((run) => ({ engine: r.engine, run })));
  const statementsPerTx = (o: OneRowResult) => (Object.values(o.statements).reduce((a, t) => a + t.count, 0) / o.transactions).toFixed(1);
  console.log('\n### One-row transactions: BEGIN; INSERT one row; COMMIT (connect() settings, SequelizeSagaStore.transaction)\n');
  console.log(
    table(
      ['db', 'when', 'tx', 'at once', 'seconds', 'tx/s', 'ms/tx open+BEGIN', 'ms/tx INSERT+COMMIT', 'stmts/tx'],
      reports.flatMap((r) =>
        [...(r.oneRow.concurrent ? [{ when: 'after warm-up', ...r.oneRow.concurrent }] : []), ...r.oneRow.sequential].map((o) => [
          r.engine,
          o.when,
          fmt(o.transactions),
          String(o.concurrency),
          (o.ms / 1000).toFixed(2),
          fmt(o.perSecond),
          o.acquireMsPerTx.toFixed(2),
          o.runMsPerTx.toFixed(2),
          statementsPerTx(o),
        ]),
      ),
    ),
  );

  console.log(`\n### Sagas: ${args.sagas} started at once through runtime.startSaga, happy path to completada, in-process transport\n`);
  console.log(
    table(
      ['db', 'maxBatch', 'completed', 'wall s', 'sagas/s', 'events/s', 'msgs/s', '1-row tx/s', 'events ÷ 1-row', 'msgs ÷ 1-row', 'events ÷ 1-row at once', 'avg batch', 'max batch', 'peak RSS MB'],
      runs.map(({ engine, run }) => [
        engine,
        batchName(run.maxBatch, run.tracing),
        `${run.completed}/${run.sagas}${run.timedOut ? ' TIMEOUT' : ''}`,
        (run.wallMs / 1000).toFixed(2),
        fmt(run.sagasPerSecond, 1),
        fmt(run.eventsPerSecond),
        fmt(run.messagesPerSecond),
        fmt(run.reference.sequential),
        run.ratio.events.toFixed(2),
        run.ratio.messages.toFixed(2),
        run.ratio.eventsVsConcurrent.toFixed(2),
        run.batches.avgSize.toFixed(1),
        String(run.batches.maxSize),
        fmt(run.peakRssMb),
      ]),
    ),
  );
  console.log(
    `
events = saga_log entries of kind event+timer of the benchmarked sagas: per saga xstate.init (startSaga) + ReservaCreada,
  ReservaPagada, ReservaGDSConfirmada, ReservaAprobada = 5 (no timer fires on the happy path).
msgs = every message handled: startSaga calls + runtime inputs + participant deliveries = 11 per saga.
1-row tx/s = mean of the sequential one-row rates measured just before and just after the run (the ratios' divisor);
  "at once" divides by the one-row rate with ${args.sagas} transactions in flight instead.
avg/max batch = inputs per runtime transaction (runtime.settle() call); saga starts are batched with the other inputs.`,
  );

  console.log('\n### Where the time goes\n');
  console.log(
    table(
      ['db', 'maxBatch', 'tx/saga', 'msgs/tx', 'tx/s', 'stmts/saga', 'ms/tx open+BEGIN', 'ms/tx work+COMMIT', 'busy ÷ wall', 'node CPU %', 'event loop util', 'db server CPU %', ...COMPONENTS.map((c) => `tx ${c}`)],
      runs.map(({ engine, run }) => [
        engine,
        batchName(run.maxBatch, run.tracing),
        run.transactions.perSaga.toFixed(2),
        run.transactions.messagesPerTx.toFixed(2),
        fmt(run.transactions.perSecond),
        run.statements.perSaga.toFixed(1),
        run.transactions.acquireMsPerTx.toFixed(2),
        run.transactions.runMsPerTx.toFixed(2),
        run.txTimeShare.busy.toFixed(2),
        fmt(run.cpu.processPct),
        run.cpu.eventLoopUtilization.toFixed(2),
        run.cpu.serverPct === null ? '-' : fmt(run.cpu.serverPct),
        ...COMPONENTS.map((c) => String(run.transactions.byComponent[c]?.count ?? 0)),
      ]),
    ),
  );
  console.log('');
  for (const { engine, run } of runs) {
    const byKind = Object.entries(run.statements.byKind).sort((a, b) => b[1].count - a[1].count);
    const top = byKind.slice(0, 9).map(([k, t]) => `${k} ${(t.count / run.sagas).toFixed(1)}`);
    console.log(`${engine} maxBatch ${batchName(run.maxBatch, run.tracing)}, statements per saga: ${top.join(', ')}${byKind.length > 9 ? ', …' : ''}`);
  }
  console.log('');
  for (const { engine, run } of runs) {
    const components = Object.entries(run.transactions.byComponent);
    const total = components.reduce((a, [, t]) => a + t.runMs, 0);
    const shares = COMPONENTS.filter((c) => run.transactions.byComponent[c]).map((c) => {
      const t = run.transactions.byComponent[c];
      return `${c} ${((100 * t.runMs) / total).toFixed(0)}% (${(t.runMs / t.count).toFixed(1)} ms/tx)`;
    });
    console.log(`${engine} maxBatch ${batchName(run.maxBatch, run.tracing)}, work+COMMIT time by component: ${shares.join(', ')}`);
  }
  console.log(
    `
tx = database transactions (sequelize.transaction calls) by the component that opened them (relay = markSent).
open+BEGIN = from the transaction call to its callback: a new SQLite connection per transaction (Sequelize's SQLite
  dialect) or a MariaDB pool wait; work+COMMIT = the rest. busy ÷ wall = summed transaction time ÷ wall: SQLite runs the
  process's transactions one at a time, so ~1.0 there means the single writer never idled (on MariaDB it counts pool waits).
node CPU % is of one core (this machine has ${os.cpus().length}); it includes the SQLite work on libuv threads.`,
  );
  for (const r of reports) if (r.skipped) console.log(`\n${r.engine}: skipped (${r.skipped})`);
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`\nload average (1/5/15 min) at start ${load(loadAtStart)}, at end ${load(os.loadavg())}: other processes on this machine add noise.`);
  console.log(`wall time ${(wallMs / 1000).toFixed(1)} s, peak RSS of the process ${fmt(process.resourceUsage().maxRSS / 1024)} MB; JSON: ${path.relative(process.cwd(), RESULTS)}`);
}

function round(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? value : Number(value.toPrecision(4));
  if (Array.isArray(value)) return value.map(round);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, round(v)]));
  return value;
}

function slim<T extends OneRowResult>({ statements, ...rest }: T) {
  return { ...rest, statementsPerTx: Object.values(statements).reduce((a, t) => a + t.count, 0) / rest.transactions };
}

function save(reports: EngineReport[], args: Args, wallMs: number): void {
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  const json = {
    generatedAt: new Date().toISOString(),
    machine: {
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: os.loadavg(),
    },
    options: { sagas: args.sagas, maxBatch: args.maxBatches.map((b) => b ?? 'default'), oneRowTransactions: args.tx, warmup: args.warmup },
    definitions: {
      events: 'saga_log entries of kind event+timer of the benchmarked sagas',
      messages: 'startSaga calls + runtime inputs + participant deliveries',
      ratio: 'events/s ÷ mean of the sequential one-row tx/s measured just before and just after the run, same database',
      avgBatch: 'inputs per runtime.process() call',
    },
    wallMs,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    // Small on purpose: one-row statement maps become statements per transaction.
    databases: reports.map((r) => ({
      ...r,
      oneRow: {
        concurrent: r.oneRow.concurrent && slim(r.oneRow.concurrent),
        sequential: r.oneRow.sequential.map(slim),
      },
    })),
  };
  // Innermost objects and arrays on one line each: readable diffs, small file.
  const text = JSON.stringify(round(json), null, 1).replace(/([{[])\n\s*([^{}[\]]*?)\n\s*([}\]])/g, (_, open: string, body: string, close: string) => `${open}${body.replace(/\n\s*/g, ' ')}${close}`);
  fs.writeFileSync(RESULTS, text + '\n');
}

async function main(): Promise<void> {
  const args = parse();
  const started = Date.now();
  console.log(`saga runtime benchmark: ${args.engines.join(' + ')}, ${args.sagas} sagas, maxBatch ${args.maxBatches.map((b) => b ?? 'default').join(', ')}`);
  const reports: EngineReport[] = [];
  for (const engine of args.engines) reports.push(await benchEngine(engine, args));
  const wallMs = Date.now() - started;
  print(reports, args, wallMs);
  save(reports, args, wallMs);
}

process.once('SIGINT', () => {
  console.error('\ninterrupted; dropping the benchmark databases');
  void Promise.allSettled([...open].map((d) => d.drop())).then(() => process.exit(130));
});

main().then(
  () => {
    // Everything was closed; if a handle still keeps the process alive, say which and leave.
    setTimeout(() => {
      console.warn('still open after the benchmark:', process.getActiveResourcesInfo());
      process.exit(0);
    }, 5_000).unref();
  },
  (error: unknown) => {
    console.error(error);
    void Promise.allSettled([...open].map((d) => d.drop())).then(() => process.exit(1));
  },
);

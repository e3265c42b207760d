/**
 * `npm run bench -- --growth [1000,10000,100000]`: what the system costs as the work in
 * flight grows. For each level N (cumulative) N reservation sagas wait on a step whose
 * participant never answers (`simular_fallo: 'timeout-pago'`, step deadline 30 days), and
 * with them in the database the same happy-path load as `--transport pulsar` runs (200
 * sagas, 20 in flight): sagas/s, p50/p99 latency, the coordinator's RSS and every process's
 * CPU per saga, and the size of the tables.
 *
 *   npm run bench -- --growth                       # 1000, 10000, 100000
 *   npm run bench -- --growth 100,1000 --skip-rss   # a quick look
 *
 * Flags: --growth a,b,c (levels; `k` means thousands), --real R (sagas created for real through
 * POST /reservas, default the first level, at most 1000; the rest are copies), --sagas N
 * (measured, default 200), --concurrency C (default 20), --warmup W (happy sagas before each
 * level's measurement, not reported, default 20), --poll-ms P (completion query interval,
 * default 20), --timeout S (per saga, default 60), --skip-rss (no heap snapshot, no coordinator
 * variants, no SQL capture: only the table and the query plans).
 *
 * How the sagas in flight are made: the first R for real (POST /reservas → IniciarReserva →
 * CrearReserva → ReservaCreada → PagarReserva, which pagos never answers); then the rows they
 * left in every table (saga_instances, saga_log, outbox rows already sent, processed_messages,
 * the armed deadline, vuelos_reservas) are copied in bulk SQL under new ids (saga, reservation
 * and message ids derived by MD5, so each copy is consistent across tables): exactly what
 * the database holds for sagas in that state. A copied saga is checked through the running
 * coordinator (GET /sagas/:id and /verify) at each level, and at the end one is driven to
 * `completada` by a payment event.
 *
 * Observation without changing the services: every service gets, through NODE_OPTIONS, a
 * probe module (a data: URL) that appends `process.memoryUsage()`, V8's heap spaces and its
 * GC pauses to a file every second, and `--heapsnapshot-signal=SIGUSR2`. (tsx's ESM loader
 * thread, internal to Node, loads no `--import` module: what tsx costs shows in the
 * comparison with a compiled bundle.) The coordinator variants (compiled JS instead of tsx,
 * smaller young generation, fewer malloc arenas, WebSocket driver) are started by this
 * process on the coordinator's port, one after the other, after the levels. One of them also
 * records the SQL statements it sends (Sequelize's `query`, patched by the probe), whose
 * plans are then read with ANALYZE (writes inside a transaction that is rolled back). When
 * the deadline scheduler's polling reads every armed deadline, an index that would avoid it
 * is tried in the run's own database (plans, and idle CPU with and without it), then dropped.
 *
 * Creates a MariaDB database `saga_bench_growth_<pid>` and a Pulsar namespace
 * `public/growth-<random>`; stops every process, drops the database and deletes the
 * namespace at the end, on errors and on Ctrl-C. Writes bench/results/growth-latest.json.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { SERVICE_NAMES, SERVICE_PORTS } from '../services/config.ts';
import { DEFAULT_PULSAR_URL as PULSAR_URL, deleteNamespace, freshNamespace, ServiceCluster } from '../tools/cluster/service-cluster.ts';
import { fmt, round, stats, table, type Stats } from './figures.ts';
import { brokerPid, cpuSeconds, mariadbPid, ProcessMonitor, procStatus, pss, rssMb, servicePids, smapsBreakdown, type ProcessReport } from './processes.ts';
import { connect } from '../db/connect.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import type { InstanceQuery } from '../runtime/ports.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const RESULTS = path.join(HERE, 'results', 'growth-latest.json');
const MYSQL_URL = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
export const DEFAULT_LEVELS = [1000, 10_000, 100_000];
/** The issue's target for the coordinator's RSS. */
const RSS_TARGET_MB = 150;
/** A ratio (largest level ÷ smallest) up to this counts as "not growing": two shared cores are that noisy. */
const GROWTH_TOLERANCE = 1.25;
/** The step deadline of every saga of the run: the waiting ones stay waiting. */
const PLAZO_PASO_MS = 30 * 86_400_000;
/** Copies per INSERT … SELECT: about this many sagas per transaction. */
const SAGAS_PER_COPY_CHUNK = 10_000;
const USAGE =
  'usage: npm run bench -- --growth [1000,10000,100000] [--real 1000] [--sagas 200] [--concurrency 20] [--warmup 20] [--poll-ms 20] [--timeout 60] [--skip-rss]';

const HAPPY = JSON.stringify({ id_cliente: 'cliente-bench', monto: 320, monto_vat: 60.8, itinerarios: [{ origen: 'BOG', destino: 'CTG' }] });
const WAITING = JSON.stringify({ id_cliente: 'cliente-growth', monto: 320, monto_vat: 60.8, itinerarios: [{ origen: 'BOG', destino: 'CTG' }], simular_fallo: 'timeout-pago' });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MB = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Flags

/** `1k` → 1000; a sorted list of distinct positive levels. */
export function parseLevels(raw: string): number[] {
  const levels = raw.split(',').map((part) => {
    const text = part.trim().toLowerCase().replace(/_/g, '');
    const n = text.endsWith('k') ? Number(text.slice(0, -1)) * 1000 : Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--growth takes positive integers separated by commas (1k = 1000), got "${part}"`);
    return n;
  });
  return [...new Set(levels)].sort((a, b) => a - b);
}

/**
 * Takes `--growth [levels]` (or `--growth=levels`) out of `argv` and returns the levels
 * (the default three when none follow), or null without the flag.
 *
 * @example
 * takeGrowthFlag(['node', 'run.ts', '--growth', '1k,10k']); // [1000, 10000]
 */
export function takeGrowthFlag(argv: string[] = process.argv): number[] | null {
  const i = argv.findIndex((a) => a === '--growth' || a.startsWith('--growth='));
  if (i < 0) return null;
  if (argv[i].startsWith('--growth=')) return parseLevels(argv.splice(i, 1)[0].slice('--growth='.length));
  const next = argv[i + 1];
  if (next !== undefined && /^[\d_,k ]+$/i.test(next)) return parseLevels(argv.splice(i, 2)[1]);
  argv.splice(i, 1);
  return DEFAULT_LEVELS;
}

interface Args {
  levels: number[];
  real: number;
  sagas: number;
  concurrency: number;
  warmup: number;
  pollMs: number;
  timeoutMs: number;
  rss: boolean;
}

function parse(argv: string[], levels: number[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      real: { type: 'string' },
      sagas: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '20' },
      'poll-ms': { type: 'string', default: '20' },
      timeout: { type: 'string', default: '60' },
      'skip-rss': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, raw: string, min: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      console.error(`--${name} must be an integer >= ${min}, got "${raw}"\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const real = values.real === undefined ? Math.min(levels[0], 1000) : int('real', values.real, 1);
  if (real > levels[0]) {
    console.error(`--real ${real} is more than the first level (${levels[0]})`);
    process.exit(2);
  }
  return {
    levels,
    real,
    sagas: int('sagas', values.sagas!, 1),
    concurrency: int('concurrency', values.concurrency!, 1),
    warmup: int('warmup', values.warmup!, 0),
    pollMs: int('poll-ms', values['poll-ms']!, 1),
    timeoutMs: int('timeout', values.timeout!, 1) * 1000,
    rss: !values['skip-rss'],
  };
}

// ---------------------------------------------------------------------------------------
// Processes: RSS and CPU from /proc (as bench/pulsar.ts reads them)

// ---------------------------------------------------------------------------------------
// The probe every service loads through NODE_OPTIONS

/**
 * Appends `process.memoryUsage()` of the thread it runs in to `$GROWTH_PROBE_DIR/<pid>-<thread>.jsonl`
 * every second (worker threads started by user code load it too; Node's internal loader-hooks
 * thread, which tsx uses for ES modules, does not). With `GROWTH_SQL_CAPTURE` set, the main thread also counts the
 * statements sent through Sequelize's `query` by shape, keeping one full sample of each and
 * the time they took, in `$GROWTH_PROBE_DIR/<pid>-sql.json`.
 */
const PROBE = `
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';
import { isMainThread, threadId } from 'node:worker_threads';
const dir = process.env.GROWTH_PROBE_DIR;
if (dir) {
  const file = dir + '/' + process.pid + '-' + threadId + '.jsonl';
  const gc = { ms: 0, minor: 0, major: 0 };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        gc.ms += e.duration;
        if (e.detail && e.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
        else gc.major++;
      }
    }).observe({ entryTypes: ['gc'] });
  } catch {}
  const write = () => {
    const m = process.memoryUsage();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((x) => [x.space_name, x.space_size]));
    try { fs.appendFileSync(file, JSON.stringify({ t: Date.now(), main: isMainThread, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, spaces, gcMs: gc.ms, gcMinor: gc.minor, gcMajor: gc.major }) + '\\n'); } catch {}
  };
  write();
  setInterval(write, 1000).unref();
  if (isMainThread && process.env.GROWTH_SQL_CAPTURE) {
    const { Sequelize } = createRequire(process.cwd() + '/')('sequelize');
    const shapes = new Map();
    const query = Sequelize.prototype.query;
    Sequelize.prototype.query = function (sql, options) {
      const text = typeof sql === 'string' ? sql : (sql && sql.query) || '';
      const shape = text.replace(/'(?:[^'\\\\]|\\\\.)*'/g, '?').replace(/\\b\\d+\\b/g, '?').replace(/WHEN \\? THEN \\? ?/g, '').replace(/\\?(?:, \\?)+/g, '?').replace(/ OR \\(.*$/, ' OR …').slice(0, 200);
      let s = shapes.get(shape);
      if (!s) shapes.set(shape, (s = { count: 0, ms: 0, sample: text.slice(0, 300000) }));
      s.count++;
      const started = performance.now();
      const done = () => { s.ms += performance.now() - started; };
      const result = query.call(this, sql, options);
      result.then(done, done);
      return result;
    };
    setInterval(() => {
      try { fs.writeFileSync(dir + '/' + process.pid + '-sql.json', JSON.stringify([...shapes].map(([shape, s]) => ({ shape, ...s })))); } catch {}
    }, 1000).unref();
  }
}
`;

interface ProbeSample {
  t: number;
  main: boolean;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Committed bytes of each V8 heap space (new_space, old_space, code_space, large_object_space, …). */
  spaces: Record<string, number>;
  /** Garbage collections so far: total pause ms, scavenges, other (mark-compact, incremental). */
  gcMs: number;
  gcMinor: number;
  gcMajor: number;
}

/** The probe's samples of one process between two times, by thread (the main thread first). */
function probeSamples(dir: string, pid: number, from = 0, to = Infinity): { main: ProbeSample[]; workers: ProbeSample[][] } {
  const main: ProbeSample[] = [];
  const workers: ProbeSample[][] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.startsWith(`${pid}-`) && f.endsWith('.jsonl'))) {
    const samples = fs
      .readFileSync(path.join(dir, file), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as ProbeSample);
    if (samples.length === 0) continue;
    // A worker may sleep once its work is done (its timer no longer fires): its last sample stands.
    // The main thread: from the last sample before the window, so GC counts can be differenced over it.
    const first = samples.findIndex((s) => s.t >= from);
    if (samples[0].main) main.push(...samples.slice(first < 0 ? samples.length - 1 : Math.max(0, first - 1)).filter((s) => s.t <= to));
    else workers.push(samples);
  }
  return { main, workers };
}

interface HeapFigures {
  /** The main thread's V8 heap: committed at its peak and at the end, used at the end; external memory and ArrayBuffers at the end. */
  heapTotalPeakMb: number | null;
  heapTotalMb: number | null;
  heapUsedMb: number | null;
  externalMb: number | null;
  arrayBuffersMb: number | null;
  /** V8 heaps of worker threads that loaded the probe, committed, as last sampled. */
  workerHeapTotalMb: number[];
  /** Largest committed size of each V8 space in the window, MB (the young generation is new_space). */
  spacesPeakMb: Record<string, number>;
  /** Garbage collection in the window: pause ms, scavenges, other collections. */
  gc: { ms: number; minor: number; major: number } | null;
}

function heapFigures(dir: string, pid: number, from: number, to = Infinity): HeapFigures {
  const { main, workers } = probeSamples(dir, pid, from, to);
  const last = main.at(-1);
  return {
    heapTotalPeakMb: main.length ? Math.max(...main.map((s) => s.heapTotal)) / MB : null,
    heapTotalMb: last ? last.heapTotal / MB : null,
    heapUsedMb: last ? last.heapUsed / MB : null,
    externalMb: last ? last.external / MB : null,
    arrayBuffersMb: last ? last.arrayBuffers / MB : null,
    workerHeapTotalMb: workers.map((w) => w.at(-1)!.heapTotal / MB),
    spacesPeakMb: Object.fromEntries(
      [...new Set(main.flatMap((s) => Object.keys(s.spaces ?? {})))].map((space) => [space, Math.max(...main.map((s) => s.spaces?.[space] ?? 0)) / MB]),
    ),
    gc: main.length > 1 ? { ms: last!.gcMs - main[0].gcMs, minor: last!.gcMinor - main[0].gcMinor, major: last!.gcMajor - main[0].gcMajor } : null,
  };
}

// ---------------------------------------------------------------------------------------
// The deadline scheduler's polling (runtime/deadline-scheduler.ts, every second and after each
// firing), as db/sequelize-saga-store.ts writes it for the coordinator's one saga type

const DUE_DEADLINES = (now = Date.now()) =>
  `SELECT saga_type, saga_id, timer_id, due_at, event, after_message, delay_ms FROM deadlines WHERE due_at <= ${now} AND after_message IS NULL AND saga_type IN ('reserva') ORDER BY due_at LIMIT 100`;
const NEXT_DEADLINE = `SELECT MIN(due_at) AS next FROM deadlines WHERE after_message IS NULL AND saga_type IN ('reserva')`;
/** The same answer written so that the existing `deadlines_due (due_at)` index can be read in order and stop at the first armed row. */
const NEXT_DEADLINE_ORDERED = `SELECT due_at AS next FROM deadlines WHERE after_message IS NULL AND saga_type IN ('reserva') ORDER BY due_at LIMIT 1`;
/** An index under which both would read only what they return (tried in the run's own database, then dropped). */
const TRIAL_INDEX = 'growth_trial_armed_due (after_message, saga_type, due_at)';

// ---------------------------------------------------------------------------------------
// Copied ids

/**
 * The id a copy `k` gives to an id of a template saga: MD5 of `<id>#<k>` written as a UUID.
 * The SQL of the bulk copy computes the same (`copiedSql`), so one saga's copies agree
 * across tables.
 *
 * @example
 * copiedId('5b440fc8-b4c4-4d91-be90-c756634412ac', 3); // a UUID-shaped id, the same every time
 */
export function copiedId(id: string, k: number): string {
  const h = createHash('md5').update(`${id}#${k}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** `copiedId` in SQL, for the copy number in `p.k`. */
const copiedSql = (column: string) => `INSERT(INSERT(INSERT(INSERT(MD5(CONCAT(${column}, '#', p.k)), 9, 0, '-'), 14, 0, '-'), 19, 0, '-'), 24, 0, '-')`;
/** A text with the template's saga and reservation ids replaced by the copy's. */
const swapped = (column: string) => `REPLACE(REPLACE(${column}, t.t_id, ${copiedSql('t.t_id')}), t.t_reserva, ${copiedSql('t.t_reserva')})`;

// ---------------------------------------------------------------------------------------
// Statistics and output

// ---------------------------------------------------------------------------------------
// Heap snapshot summary

interface SnapshotSummary {
  file: string;
  fileMb: number;
  nodes: number;
  selfSizeMb: number;
  byType: { type: string; mb: number; count: number }[];
  topObjects: { name: string; mb: number; count: number }[];
  /** Distinct UUIDs (saga, reservation and message ids) inside the heap's strings. */
  distinctUuids: number;
  /** Strings that carry an inline source map (tsx's transformed modules keep theirs in their source text). */
  sourceMapStrings: { mb: number; count: number };
  /** Strings that look like module source (longer than 2 kB, not a source map). */
  sourceStrings: { mb: number; count: number };
  largestStrings: { kb: number; start: string }[];
}

function summarizeSnapshot(file: string): SnapshotSummary {
  const fileMb = fs.statSync(file).size / MB;
  const data = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const byType = new Map<string, { size: number; count: number }>();
  const byName = new Map<string, { size: number; count: number }>();
  const uuids = new Set<string>();
  const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
  const sourceMaps = { size: 0, count: 0 };
  const sources = { size: 0, count: 0 };
  const largest: { size: number; name: string }[] = [];
  let total = 0;
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt]];
    const size = data.nodes[i + sizeAt];
    const name = data.strings[data.nodes[i + nameAt]];
    total += size;
    const t = byType.get(type) ?? { size: 0, count: 0 };
    t.size += size;
    t.count++;
    byType.set(type, t);
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') {
      for (const match of name.matchAll(uuid)) uuids.add(match[0]);
      if (type === 'string' && size > 2048) {
        const bucket = name.includes('sourceMappingURL=data:') ? sourceMaps : sources;
        bucket.size += size;
        bucket.count++;
        largest.push({ size, name });
        if (largest.length > 50) largest.sort((a, b) => b.size - a.size).splice(10);
      }
    } else if (type === 'object' || type === 'closure' || type === 'array' || type === 'code' || type === 'native') {
      const key = `${type}: ${name.slice(0, 60)}`;
      const n = byName.get(key) ?? { size: 0, count: 0 };
      n.size += size;
      n.count++;
      byName.set(key, n);
    }
  }
  const sorted = (m: Map<string, { size: number; count: number }>) => [...m].sort((a, b) => b[1].size - a[1].size);
  return {
    file: path.basename(file),
    fileMb,
    nodes: data.nodes.length / width,
    selfSizeMb: total / MB,
    byType: sorted(byType).map(([type, v]) => ({ type, mb: v.size / MB, count: v.count })),
    topObjects: sorted(byName)
      .slice(0, 12)
      .map(([name, v]) => ({ name, mb: v.size / MB, count: v.count })),
    distinctUuids: uuids.size,
    sourceMapStrings: { mb: sourceMaps.size / MB, count: sourceMaps.count },
    sourceStrings: { mb: sources.size / MB, count: sources.count },
    largestStrings: largest
      .sort((a, b) => b.size - a.size)
      .slice(0, 5)
      .map((l) => ({ kb: l.size / 1024, start: l.name.slice(0, 70).replace(/\s+/g, ' ') })),
  };
}

// ---------------------------------------------------------------------------------------
// The run

interface Sample {
  id: string | null;
  sentAt: number;
  finalAt: number | null;
  status: string;
  error?: string;
}

interface Measurement {
  samples: number;
  completed: number;
  sagasPerSecond: number;
  latencyMs: Stats | null;
  processes: ProcessReport[];
  machineBusyPct: number | null;
  coordinator: {
    pid: number;
    rssPeakMb: number | null;
    rssEndMb: number | null;
    status: Record<string, number> | null;
    /** Proportional set size at the end: the node binary's and libraries' pages shared with the other node processes count in part. */
    pss: ReturnType<typeof pss>;
    heap: HeapFigures;
    cpuMsPerSaga: number | null;
  };
  failures: { id: string | null; status: string; error?: string }[];
}

interface LevelResult extends Measurement {
  inFlight: number;
  /** Sagas waiting counted in the database right before the measurement. */
  waitingCounted: number;
  copied: { sagas: number; ms: number; analyzeMs: number } | null;
  /** InnoDB's checkpoint age (MB of redo not yet checkpointed) when the measurement started: the copy's writes still to be flushed. */
  checkpointAgeMb: number | null;
  rssAtRestMb: number | null;
  smaps: Record<string, number> | null;
  tables: Record<string, { rows: number; dataMb: number; indexMb: number }>;
  check: { id: string; copied: boolean; status: number; state: string | null; deadlines: number; logEntries: number; verified: boolean | null };
  /**
   * MariaDB's server-wide counters over the measured sagas, per completed saga: logical page
   * reads, pages InnoDB had to read in (not in its buffer pool), rows read. Other clients of
   * the server count too.
   */
  server: { pageRequestsPerSaga: number; pageReadsPerSaga: number; rowsReadPerSaga: number; bufferPoolMb: number } | null;
  /** The scheduler's nextDeadlineAt at this level: rows it reads, ms it takes. */
  nextDeadlineAt: { rowsExamined: number; ms: number | null; access: string } | null;
}

interface Variant {
  name: string;
  compiled: boolean;
  nodeOptions: string[];
  env: NodeJS.ProcessEnv;
  /** Records the SQL statements (the probe's capture): not for the memory and CPU figures. */
  capture?: boolean;
  /** Takes a heap snapshot after the measurement. */
  snapshot?: boolean;
}

interface VariantResult extends Measurement {
  name: string;
  startupMs: number;
  rssAfterStartMb: number | null;
  smaps: Record<string, number> | null;
  snapshot: SnapshotSummary | null;
}

interface PlanRow {
  query: string;
  source: string;
  statement: string;
  tables: { table: string; access: string; key: string | null; rowsExamined: number | null; filtered: number | null; sort: boolean }[];
  rowsExamined: number;
  ms: number | null;
  scan: boolean;
}

/** MariaDB's connection settings from a mysql:// URL. */
function connectionOptions(database?: string) {
  const server = new URL(MYSQL_URL);
  return {
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username || 'root'),
    password: decodeURIComponent(server.password),
    ...(database ? { database } : {}),
  };
}

class GrowthRun {
  readonly dbName = `saga_bench_growth_${process.pid}`;
  readonly databaseUrl = `${MYSQL_URL.replace(/\/+$/, '')}/${this.dbName}`;
  readonly tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-growth-'));
  readonly probeDir = path.join(this.tmp, 'probe');
  readonly snapshotDir = path.join(this.tmp, 'snapshots');
  readonly buildDir = path.join(ROOT, '.growth-build');
  namespace: string | null = null;
  cluster: ServiceCluster | null = null;
  db: mysql.Pool | null = null;
  /** The coordinator this run started itself (a variant), when there is one. */
  own: ChildProcess | null = null;
  ownOutput: string[] = [];
  readonly abort = new AbortController();
  /** Sagas waiting on pagos: real plus copied. */
  waiting = 0;
  /** Template sagas (the real ones) and the last copy number used. */
  templates = 0;
  lastCopy = 0;
  readonly clusterEnv: NodeJS.ProcessEnv;
  private cleaning: Promise<void> | null = null;

  constructor(
    readonly args: Args,
    readonly mariadbVersion: string,
  ) {
    fs.mkdirSync(this.probeDir);
    fs.mkdirSync(this.snapshotDir);
    const probe = `--import=data:text/javascript;base64,${Buffer.from(PROBE).toString('base64')}`;
    this.clusterEnv = {
      SAGA_STYLE: 'orchestration',
      SAGA_PLAZO_PASO_MS: String(PLAZO_PASO_MS),
      GROWTH_PROBE_DIR: this.probeDir,
      NODE_OPTIONS: [process.env.NODE_OPTIONS ?? '', probe, '--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${this.snapshotDir}`].join(' ').trim(),
    };
  }

  // --- infrastructure -------------------------------------------------------------------

  async query<T = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<T[]> {
    const [rows] = await this.db!.query(sql, values);
    return rows as T[];
  }

  async count(sql: string): Promise<number> {
    const [row] = await this.query<{ n: number | string }>(sql);
    return Number(row?.n ?? 0);
  }

  cleanup(): Promise<void> {
    return (this.cleaning ??= (async () => {
      this.abort.abort();
      const stops: Promise<unknown>[] = [];
      if (this.own) stops.push(this.stopOwn());
      if (this.cluster) stops.push(this.cluster.stop());
      const inTime = await Promise.race([Promise.all(stops).then(() => true), sleep(15_000).then(() => false)]);
      if (!inTime) console.warn('  services did not stop within 15 s of SIGTERM; sending SIGKILL');
      for (const child of servicePids()) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await this.db?.end().catch(() => undefined);
      const admin = await mysql.createConnection(connectionOptions()).catch(() => null);
      await admin?.query(`DROP DATABASE IF EXISTS \`${this.dbName}\``).catch((error: Error) => console.warn(`  could not drop database ${this.dbName}: ${error.message}`));
      await admin?.end().catch(() => undefined);
      if (this.namespace) await deleteNamespace(this.namespace, PULSAR_URL).catch((error: Error) => console.warn(`  could not delete Pulsar namespace public/${this.namespace}: ${error.message}`));
      fs.rmSync(this.tmp, { recursive: true, force: true });
      fs.rmSync(this.buildDir, { recursive: true, force: true });
    })());
  }

  // --- sagas ----------------------------------------------------------------------------

  coordinatorPid(): number {
    const pid = this.own?.pid ?? this.cluster!.pid('coordinator');
    if (!pid) throw new Error('the coordinator is not running');
    return pid;
  }

  /**
   * `count` happy sagas, `concurrency` in flight (from POST until the final state is seen).
   * The final state is learnt by one query per `pollMs` for every saga in flight, straight
   * from MariaDB: nothing asks the coordinator.
   */
  async happySagas(count: number): Promise<Sample[]> {
    const waiting = new Map<string, { sample: Sample; done: () => void }>();
    const connection = await mysql.createConnection(connectionOptions(this.dbName));
    let busy = false;
    const poll = setInterval(async () => {
      if (busy || waiting.size === 0) return;
      busy = true;
      try {
        const [rows] = await connection.query(`SELECT id, status, updated_at FROM saga_instances WHERE saga_type = 'reserva' AND id IN (?)`, [[...waiting.keys()]]);
        const now = Date.now();
        for (const row of rows as { id: string; status: string; updated_at: number | string }[]) {
          if (row.status === 'running') continue;
          const w = waiting.get(row.id)!;
          waiting.delete(row.id);
          w.sample.status = row.status;
          w.sample.finalAt = Number(row.updated_at);
          w.done();
        }
        for (const [id, w] of waiting) {
          if (now - w.sample.sentAt <= this.args.timeoutMs) continue;
          waiting.delete(id);
          w.sample.status = 'timeout';
          w.sample.error = `not final after ${this.args.timeoutMs} ms`;
          w.done();
        }
      } catch (error) {
        console.warn(`  final-state query failed: ${(error as Error).message}`);
      } finally {
        busy = false;
      }
    }, this.args.pollMs);
    const samples: Sample[] = [];
    let next = 0;
    const worker = async () => {
      while (next < count && !this.abort.signal.aborted) {
        next++;
        const sample: Sample = { id: null, sentAt: Date.now(), finalAt: null, status: 'error' };
        samples.push(sample);
        try {
          const response = await fetch(`${this.cluster!.url('vuelos')}/reservas`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: HAPPY, signal: AbortSignal.timeout(10_000) });
          const text = await response.text();
          if (response.status !== 202) throw new Error(`POST /reservas answered ${response.status}: ${text.slice(0, 200)}`);
          sample.id = (JSON.parse(text) as { id_correlacion: string }).id_correlacion;
          await new Promise<void>((done) => waiting.set(sample.id!, { sample, done }));
        } catch (error) {
          sample.error = (error as Error).message;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: this.args.concurrency }, worker));
    } finally {
      clearInterval(poll);
      await connection.end().catch(() => undefined);
    }
    if (this.abort.signal.aborted) throw new Error('interrupted');
    return samples;
  }

  /** Runs `count` happy sagas while watching every process; the figures of that run. */
  async measure(count: number): Promise<Measurement> {
    const coordinator = this.coordinatorPid();
    const broker = brokerPid();
    const database = mariadbPid(MYSQL_URL);
    const watched = [
      ...SERVICE_NAMES.map((name) => ({ name, pid: name === 'coordinator' ? coordinator : this.cluster!.pid(name)! })),
      ...(broker ? [{ name: 'pulsar broker (java)', pid: broker }] : []),
      ...(database ? [{ name: 'mariadbd', pid: database }] : []),
      { name: 'bench (this process)', pid: process.pid },
    ];
    const monitor = new ProcessMonitor(watched);
    monitor.start();
    const samples = await this.happySagas(count);
    const processes = monitor.stop();
    await sleep(1100); // the probe's next sample (every second) closes the window of its GC counts
    const completed = samples.filter((s) => s.status === 'completed' && s.finalAt !== null);
    const firstSent = Math.min(...samples.map((s) => s.sentAt));
    const wallMs = completed.length ? Math.max(...completed.map((s) => s.finalAt!)) - firstSent : Date.now() - firstSent;
    const coord = processes.find((p) => p.name === 'coordinator')!;
    const failures = samples.filter((s) => s.status !== 'completed').map(({ id, status, error }) => ({ id, status, error }));
    return {
      samples: samples.length,
      completed: completed.length,
      sagasPerSecond: (completed.length * 1000) / wallMs,
      latencyMs: stats(completed.map((s) => s.finalAt! - s.sentAt)),
      processes,
      machineBusyPct: monitor.machineBusyPct,
      coordinator: {
        pid: coordinator,
        rssPeakMb: coord.peakRssMb,
        rssEndMb: coord.rssMb,
        status: procStatus(coordinator),
        pss: pss(coordinator),
        heap: heapFigures(this.probeDir, coordinator, monitor.startedAt),
        cpuMsPerSaga: coord.cpuSeconds === null || completed.length === 0 ? null : (1000 * coord.cpuSeconds) / completed.length,
      },
      failures: failures.slice(0, 10),
    };
  }

  /** Creates `count` sagas through POST /reservas that wait on pagos, and waits until they all do. */
  async seedReal(count: number): Promise<number> {
    const t0 = Date.now();
    const paidBefore = await this.count(`SELECT COUNT(*) AS n FROM processed_messages WHERE consumer = 'pagos'`);
    let next = 0;
    let sent = 0;
    const worker = async () => {
      while (next < count && !this.abort.signal.aborted) {
        next++;
        const response = await fetch(`${this.cluster!.url('vuelos')}/reservas`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: WAITING, signal: AbortSignal.timeout(30_000) });
        if (response.status !== 202) throw new Error(`POST /reservas answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
        await response.arrayBuffer();
        sent++;
      }
    };
    await Promise.all(Array.from({ length: this.args.concurrency }, worker));
    const until = Date.now() + Math.max(120_000, count * 200);
    for (;;) {
      if (this.abort.signal.aborted) throw new Error('interrupted');
      const [row] = await this.query<Record<string, number | string>>(
        `SELECT (SELECT COUNT(*) FROM saga_instances WHERE saga_type = 'reserva' AND status = 'running' AND state_value = 'pagando') AS waiting,
                (SELECT COUNT(*) FROM deadlines WHERE saga_type = 'reserva' AND after_message IS NULL) AS armed,
                (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL) AS unsent,
                (SELECT COUNT(*) FROM processed_messages WHERE consumer = 'pagos') AS paid`,
      );
      const [waiting, armed, unsent, paid] = ['waiting', 'armed', 'unsent', 'paid'].map((k) => Number(row[k]));
      if (process.stdout.isTTY) process.stdout.write(`\r  ${sent}/${count} POSTs sent; waiting on pagos ${waiting}, armed deadlines ${armed}, unsent outbox ${unsent}   `);
      if (waiting >= count && armed >= count && unsent === 0 && paid - paidBefore >= count) break;
      if (Date.now() > until) throw new Error(`the ${count} real sagas did not all reach pagando: ${JSON.stringify(row)}`);
      await sleep(500);
    }
    if (process.stdout.isTTY) process.stdout.write('\n');
    this.waiting = count;
    return Date.now() - t0;
  }

  /**
   * Keeps the rows the real sagas left, table by table, as templates (`growth_t_*`, with
   * each saga's number `n`, id and reservation id), and checks no other table has rows of
   * theirs that a copy would miss.
   */
  async makeTemplates(): Promise<Record<string, number>> {
    await this.query(`CREATE TABLE growth_t (n INT NOT NULL PRIMARY KEY, id VARCHAR(64) NOT NULL, id_reserva VARCHAR(64) NOT NULL)`);
    await this.query(
      `INSERT INTO growth_t SELECT ROW_NUMBER() OVER (ORDER BY created_at, id), id, JSON_VALUE(snapshot, '$.context.id_reserva')
       FROM saga_instances WHERE saga_type = 'reserva' AND status = 'running' AND state_value = 'pagando'`,
    );
    this.templates = await this.count(`SELECT COUNT(*) AS n FROM growth_t`);
    const pick = 't.n, t.id AS t_id, t.id_reserva AS t_reserva';
    const creates = [
      `CREATE TABLE growth_t_instances AS SELECT ${pick}, s.saga_type, s.version, s.state_value, s.status, s.snapshot, s.row_version, s.log_seq, s.created_at, s.updated_at, s.customer
         FROM growth_t t JOIN saga_instances s ON s.saga_type = 'reserva' AND s.id = t.id`,
      `CREATE TABLE growth_t_log AS SELECT ${pick}, l.saga_type, l.seq, l.kind, l.type, l.payload, l.message_id, l.at
         FROM growth_t t JOIN saga_log l ON l.saga_type = 'reserva' AND l.saga_id = t.id`,
      `CREATE TABLE growth_t_outbox AS SELECT ${pick}, o.message_id, o.saga_type, o.topic, o.msg_key, o.payload, o.created_at, o.sent_at
         FROM growth_t t JOIN outbox o ON o.saga_id = t.id`,
      `CREATE TABLE growth_t_processed AS SELECT o.n, o.t_id, o.t_reserva, p.consumer, p.message_id, p.processed_at
         FROM growth_t_outbox o JOIN processed_messages p ON p.message_id = o.message_id`,
      `CREATE TABLE growth_t_deadlines AS SELECT ${pick}, d.saga_type, d.timer_id, d.due_at, d.event, d.after_message, d.delay_ms
         FROM growth_t t JOIN deadlines d ON d.saga_type = 'reserva' AND d.saga_id = t.id`,
      `CREATE TABLE growth_t_vuelos AS SELECT ${pick}, v.estado, v.id_cliente, v.monto, v.monto_vat, v.itinerarios, v.fecha_creacion, v.fecha_actualizacion
         FROM growth_t t JOIN vuelos_reservas v ON v.id_reserva = t.id_reserva`,
    ];
    for (const sql of creates) await this.query(sql);
    const perSaga: Record<string, number> = {};
    for (const [name, table] of [
      ['saga_instances', 'growth_t_instances'],
      ['saga_log', 'growth_t_log'],
      ['outbox', 'growth_t_outbox'],
      ['processed_messages', 'growth_t_processed'],
      ['deadlines', 'growth_t_deadlines'],
      ['vuelos_reservas', 'growth_t_vuelos'],
    ]) {
      await this.query(`ALTER TABLE ${table} ADD INDEX (n)`);
      perSaga[name] = (await this.count(`SELECT COUNT(*) AS n FROM ${table}`)) / this.templates;
    }
    // What a copy does not reproduce must not exist for these sagas.
    const others = await this.query<{ what: string; n: number }>(
      `SELECT 'pagos_pagos' AS what, COUNT(*) AS n FROM pagos_pagos p JOIN growth_t t ON p.id_correlacion = t.id
       UNION ALL SELECT 'gds_confirmaciones', COUNT(*) FROM gds_confirmaciones g JOIN growth_t t ON g.id_correlacion = t.id
       UNION ALL SELECT 'notificaciones', COUNT(*) FROM notificaciones x JOIN growth_t t ON x.id_correlacion = t.id
       UNION ALL SELECT 'dead_letters', COUNT(*) FROM dead_letters x JOIN growth_t t ON x.saga_id = t.id`,
    );
    const left = others.filter((o) => Number(o.n) > 0);
    if (left.length) throw new Error(`the waiting sagas have rows the copy would not reproduce: ${JSON.stringify(left)}`);
    return perSaga;
  }

  /** Copies template sagas until `target` wait on pagos; returns how many were copied and how long it took. */
  async copyTo(target: number): Promise<{ sagas: number; ms: number; analyzeMs: number }> {
    const t0 = Date.now();
    let need = target - this.waiting;
    const plan: [number, number][] = [];
    while (need > 0) {
      const upto = Math.min(this.templates, need);
      plan.push([++this.lastCopy, upto]);
      need -= upto;
    }
    await this.query(`CREATE TABLE IF NOT EXISTS growth_plan (k INT NOT NULL PRIMARY KEY, upto INT NOT NULL)`);
    const perChunk = Math.max(1, Math.floor(SAGAS_PER_COPY_CHUNK / this.templates));
    const connection = await this.db!.getConnection();
    let copied = 0;
    try {
      for (let i = 0; i < plan.length; i += perChunk) {
        if (this.abort.signal.aborted) throw new Error('interrupted');
        const chunk = plan.slice(i, i + perChunk);
        await connection.query('DELETE FROM growth_plan');
        await connection.query('INSERT INTO growth_plan (k, upto) VALUES ?', [chunk]);
        await connection.query('START TRANSACTION');
        const from = (table: string) => `FROM growth_plan p JOIN ${table} t ON t.n <= p.upto`;
        await connection.query(
          // Each copy is a customer of its own, so a search by customer finds one saga among all.
          `INSERT INTO saga_instances (saga_type, id, version, state_value, status, snapshot, row_version, log_seq, created_at, updated_at, customer)
           SELECT t.saga_type, ${copiedSql('t.t_id')}, t.version, t.state_value, t.status, ${swapped('t.snapshot')}, t.row_version, t.log_seq, t.created_at, t.updated_at, ${copiedSql('t.t_id')} ${from('growth_t_instances')}`,
        );
        await connection.query(
          `INSERT INTO saga_log (saga_type, saga_id, seq, kind, type, payload, message_id, at)
           SELECT t.saga_type, ${copiedSql('t.t_id')}, t.seq, t.kind, t.type, ${swapped('t.payload')}, IF(t.message_id IS NULL, NULL, ${copiedSql('t.message_id')}), t.at ${from('growth_t_log')}`,
        );
        await connection.query(
          `INSERT INTO outbox (message_id, saga_type, saga_id, topic, msg_key, payload, created_at, sent_at)
           SELECT ${copiedSql('t.message_id')}, t.saga_type, ${copiedSql('t.t_id')}, t.topic, REPLACE(t.msg_key, t.t_id, ${copiedSql('t.t_id')}),
                  REPLACE(${swapped('t.payload')}, t.message_id, ${copiedSql('t.message_id')}), t.created_at, t.sent_at ${from('growth_t_outbox')}`,
        );
        await connection.query(
          `INSERT INTO processed_messages (consumer, message_id, processed_at)
           SELECT REPLACE(t.consumer, t.t_id, ${copiedSql('t.t_id')}), ${copiedSql('t.message_id')}, t.processed_at ${from('growth_t_processed')}`,
        );
        await connection.query(
          `INSERT INTO deadlines (saga_type, saga_id, timer_id, due_at, event, after_message, delay_ms)
           SELECT t.saga_type, ${copiedSql('t.t_id')}, t.timer_id, t.due_at, t.event, t.after_message, t.delay_ms ${from('growth_t_deadlines')}`,
        );
        await connection.query(
          `INSERT INTO vuelos_reservas (id_reserva, id_correlacion, id_cliente, estado, monto, monto_vat, itinerarios, fecha_creacion, fecha_actualizacion)
           SELECT ${copiedSql('t.t_reserva')}, ${copiedSql('t.t_id')}, t.id_cliente, t.estado, t.monto, t.monto_vat, t.itinerarios, t.fecha_creacion, t.fecha_actualizacion ${from('growth_t_vuelos')}`,
        );
        await connection.query('COMMIT');
        copied += chunk.reduce((a, [, upto]) => a + upto, 0);
        if (process.stdout.isTTY) process.stdout.write(`\r  copied ${fmt(copied)} sagas   `);
      }
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      connection.release();
    }
    if (process.stdout.isTTY) process.stdout.write('\n');
    this.waiting += copied;
    const ms = Date.now() - t0;
    // Statistics as InnoDB's automatic recalculation would leave them after such growth.
    await this.query('ANALYZE TABLE saga_instances, saga_log, outbox, processed_messages, deadlines, vuelos_reservas');
    // A pause, so the measurement does not start in the copy's wake (MariaDB flushes lazily; its checkpoint age is recorded).
    await sleep(10_000);
    return { sagas: copied, ms, analyzeMs: Date.now() - t0 - ms - 10_000 };
  }

  async serverCounters(): Promise<Record<string, number> | null> {
    try {
      const rows = await this.query<{ Variable_name: string; Value: string }>(
        `SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_read_requests', 'Innodb_buffer_pool_reads', 'Innodb_rows_read')`,
      );
      const [pool] = await this.query<{ Value: string }>(`SHOW GLOBAL VARIABLES LIKE 'innodb_buffer_pool_size'`);
      return { ...Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)])), pool: Number(pool?.Value ?? 0) };
    } catch {
      return null;
    }
  }

  async checkpointAgeMb(): Promise<number | null> {
    const [row] = await this.query<{ Value: string }>(`SHOW GLOBAL STATUS LIKE 'Innodb_checkpoint_age'`).catch(() => []);
    return row ? Number(row.Value) / MB : null;
  }

  /** A copied saga (or a real one when nothing was copied yet), as the running coordinator shows it. */
  async checkSaga(): Promise<LevelResult['check']> {
    const [template] = await this.query<{ id: string }>(`SELECT id FROM growth_t WHERE n = 1`);
    const copied = this.lastCopy > 0;
    const id = copied ? copiedId(template.id, this.lastCopy) : template.id;
    const coordinator = this.cluster!.url('coordinator');
    const response = await fetch(`${coordinator}/sagas/${id}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { state?: string; deadlines?: unknown[]; log?: unknown[] };
    const verify = await fetch(`${coordinator}/sagas/${id}/verify`, { signal: AbortSignal.timeout(10_000) });
    const report = verify.ok ? ((await verify.json()) as { ok: boolean }) : null;
    return { id, copied, status: response.status, state: body.state ?? null, deadlines: body.deadlines?.length ?? 0, logEntries: body.log?.length ?? 0, verified: report?.ok ?? null };
  }

  async tableSizes(): Promise<LevelResult['tables']> {
    const rows = await this.query<{ name: string; data: number; idx: number }>(
      `SELECT table_name AS name, data_length AS data, index_length AS idx FROM information_schema.tables WHERE table_schema = ? AND table_name NOT LIKE 'growth%'`,
      [this.dbName],
    );
    const out: LevelResult['tables'] = {};
    for (const r of rows) {
      const counted = ['saga_instances', 'deadlines', 'saga_log', 'outbox', 'processed_messages', 'vuelos_reservas'].includes(r.name);
      out[r.name] = { rows: counted ? await this.count(`SELECT COUNT(*) AS n FROM ${r.name}`) : -1, dataMb: Number(r.data) / MB, indexMb: Number(r.idx) / MB };
    }
    return out;
  }

  async level(n: number): Promise<LevelResult> {
    let copied: LevelResult['copied'] = null;
    if (this.waiting < n) {
      console.log(`  copying the ${fmt(this.templates)} real sagas' rows up to ${fmt(n)} …`);
      copied = await this.copyTo(n);
    }
    if (copied) console.log(`  ${fmt(copied.sagas)} sagas copied in ${(copied.ms / 1000).toFixed(1)} s (${fmt((copied.sagas * 1000) / copied.ms)}/s); ANALYZE TABLE ${(copied.analyzeMs / 1000).toFixed(1)} s`);
    const check = await this.checkSaga();
    console.log(
      `  ${check.copied ? 'copied' : 'real'} saga ${check.id}: GET /sagas/:id ${check.status}, state ${check.state}, ${check.deadlines} deadline(s), ${check.logEntries} log entries; /verify ${check.verified === null ? 'failed' : check.verified ? 'ok (the log replays to the stored state)' : 'DIFFERS'}`,
    );
    if (check.status !== 200 || check.state !== 'pagando') throw new Error(`the coordinator does not see saga ${check.id} waiting in pagando`);
    if (this.args.warmup > 0) await this.happySagas(this.args.warmup);
    const waitingCounted = await this.count(`SELECT COUNT(*) AS n FROM saga_instances WHERE saga_type = 'reserva' AND status = 'running'`);
    const rssAtRestMb = rssMb(this.coordinatorPid());
    const checkpointAgeMb = await this.checkpointAgeMb();
    const before = await this.serverCounters();
    const measured = await this.measure(this.args.sagas);
    const after = await this.serverCounters();
    const perSaga = (k: string) => (after && before && measured.completed ? (after[k] - before[k]) / measured.completed : NaN);
    const server = after && before ? { pageRequestsPerSaga: perSaga('Innodb_buffer_pool_read_requests'), pageReadsPerSaga: perSaga('Innodb_buffer_pool_reads'), rowsReadPerSaga: perSaga('Innodb_rows_read'), bufferPoolMb: after.pool / MB } : null;
    const smaps = smapsBreakdown(this.coordinatorPid());
    const tables = await this.tableSizes();
    const next = await this.plan('nextDeadlineAt', 'db/sequelize-saga-store.ts', NEXT_DEADLINE);
    const nextDeadlineAt = next && { rowsExamined: next.rowsExamined, ms: next.ms, access: next.tables.map((t) => `${t.access} (${t.key})`).join('; ') };
    const result: LevelResult = { inFlight: n, waitingCounted, copied, checkpointAgeMb, rssAtRestMb, smaps, tables, check, server, nextDeadlineAt, ...measured };
    console.log(
      `  ${fmt(n)} in flight: ${measured.completed}/${measured.samples} completed, ${fmt(measured.sagasPerSecond, 1)} sagas/s, p50 ${fmt(measured.latencyMs?.p50)} ms, p99 ${fmt(measured.latencyMs?.p99)} ms; ` +
        `coordinator RSS ${fmt(measured.coordinator.rssPeakMb)} MB peak, ${fmt(measured.coordinator.cpuMsPerSaga, 1)} CPU ms/saga`,
    );
    return result;
  }

  // --- the coordinator's memory ---------------------------------------------------------

  /** A heap snapshot of the running coordinator (SIGUSR2), summarized, then deleted. */
  async heapSnapshot(): Promise<SnapshotSummary | null> {
    const pid = this.coordinatorPid();
    const before = new Set(fs.readdirSync(this.snapshotDir));
    process.kill(pid, 'SIGUSR2');
    const until = Date.now() + 120_000;
    let file: string | null = null;
    let lastSize = -1;
    while (Date.now() < until) {
      await sleep(1000);
      const found = fs.readdirSync(this.snapshotDir).find((f) => !before.has(f) && f.includes(`.${pid}.`));
      if (!found) continue;
      const size = fs.statSync(path.join(this.snapshotDir, found)).size;
      if (size > 0 && size === lastSize) {
        file = path.join(this.snapshotDir, found);
        try {
          const summary = summarizeSnapshot(file);
          fs.rmSync(file, { force: true });
          return summary;
        } catch {
          // still being written
        }
      }
      lastSize = size;
    }
    if (file) fs.rmSync(file, { force: true });
    return null;
  }

  /** What loading each library costs a bare node (RSS and V8 heap after a full GC), with and without tsx. */
  moduleCosts(): { runner: string; steps: { label: string; rssMb: number; heapUsedMb: number; heapTotalMb: number; externalMb: number }[] }[] {
    const code = `
      const out = [];
      const snap = (label) => { globalThis.gc(); globalThis.gc(); const m = process.memoryUsage(); out.push({ label, rssMb: m.rss / 1048576, heapUsedMb: m.heapUsed / 1048576, heapTotalMb: m.heapTotal / 1048576, externalMb: m.external / 1048576 }); };
      await new Promise((r) => setTimeout(r, 300));
      snap('start');
      await import('xstate'); snap('+ xstate');
      await import('koa'); await import('@koa/router'); snap('+ koa, @koa/router');
      await import('sequelize'); await import('mysql2'); snap('+ sequelize, mysql2');
      await import('ws'); snap('+ ws');
      try { await import('pulsar-client'); snap('+ pulsar-client (libpulsar loaded, no client)'); } catch {}
      console.log(JSON.stringify(out));`;
    const run = (runner: string, extra: string[]) => {
      const outText = execFileSync(process.execPath, ['--expose-gc', ...extra, '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
      return { runner, steps: JSON.parse(outText.trim().split('\n').at(-1)!) };
    };
    return [run('node', []), run('node --import tsx', ['--import', 'tsx'])];
  }

  /** Bundles the services into one ESM file (esbuild, which tsx uses; dependencies stay external). */
  async buildBundle(): Promise<string> {
    const esbuild = (await import('esbuild' as string)) as { build(options: Record<string, unknown>): Promise<unknown> };
    const outfile = path.join(this.buildDir, 'service-main.mjs');
    await esbuild.build({ entryPoints: [path.join(ROOT, 'services', 'service-main.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile, logLevel: 'warning' });
    return outfile;
  }

  /** The environment ServiceCluster gives the services, with `extra` over it. */
  serviceEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const ports = Object.fromEntries(SERVICE_NAMES.map((name) => [SERVICE_PORTS[name].env, new URL(this.cluster!.url(name)).port]));
    return {
      ...process.env,
      NODE_ENV: 'test',
      SAGA_TRANSPORT: 'pulsar',
      PULSAR_URL,
      PULSAR_NAMESPACE: this.namespace!,
      DATABASE_URL: this.databaseUrl,
      HOST: '127.0.0.1',
      SAGA_OUTAGE_GRACE_MS: '3000',
      ...ports,
      ...this.clusterEnv,
      ...extra,
    };
  }

  async stopOwn(): Promise<void> {
    const child = this.own;
    if (!child) return;
    this.own = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
  }

  /** Replaces the running coordinator by `variant`, started by this process on the same port; resolves once it is ready. */
  async startVariant(variant: Variant, bundle: string | null): Promise<number> {
    if (this.cluster!.pid('coordinator')) await this.cluster!.kill('coordinator', 'SIGTERM');
    await this.stopOwn();
    const nodeOptions = [this.clusterEnv.NODE_OPTIONS ?? '', ...variant.nodeOptions].join(' ').trim();
    const env = this.serviceEnv({ ...variant.env, NODE_OPTIONS: nodeOptions });
    const argv = variant.compiled ? [bundle!, 'coordinator'] : ['--import', 'tsx', 'services/service-main.ts', 'coordinator'];
    const t0 = Date.now();
    const child = spawn(process.execPath, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.own = child;
    this.ownOutput = [];
    const keep = (chunk: Buffer) => {
      this.ownOutput.push(chunk.toString());
      if (this.ownOutput.length > 200) this.ownOutput.splice(0, 100);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const url = this.cluster!.url('coordinator');
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`coordinator (${variant.name}) exited:\n${this.ownOutput.join('').slice(-3000)}`);
      const ready = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
      if (ready) return Date.now() - t0;
      if (Date.now() - t0 > 90_000) throw new Error(`coordinator (${variant.name}) not ready in 90 s:\n${this.ownOutput.join('').slice(-3000)}`);
      await sleep(100);
    }
  }

  async variant(variant: Variant, bundle: string | null, sagas: number): Promise<VariantResult> {
    const startupMs = await this.startVariant(variant, bundle);
    await sleep(2000);
    const rssAfterStartMb = rssMb(this.coordinatorPid());
    // A fresh process: more warm-up than the levels' (whose coordinator has run since the start), so the JIT is warm as there.
    await this.happySagas(Math.max(this.args.warmup, 50));
    const measured = await this.measure(sagas);
    const smaps = smapsBreakdown(this.coordinatorPid());
    const snapshot = variant.snapshot ? await this.heapSnapshot() : null;
    console.log(
      `  ${variant.name}: ready in ${(startupMs / 1000).toFixed(1)} s, RSS ${fmt(rssAfterStartMb)} MB after start, ${fmt(measured.coordinator.rssPeakMb)} MB peak, ${fmt(measured.coordinator.rssEndMb)} MB at end; ` +
        `V8 heap ${fmt(measured.coordinator.heap.heapTotalMb, 1)} MB (used ${fmt(measured.coordinator.heap.heapUsedMb, 1)}); ${fmt(measured.sagasPerSecond, 1)} sagas/s, p99 ${fmt(measured.latencyMs?.p99)} ms, ${fmt(measured.coordinator.cpuMsPerSaga, 1)} CPU ms/saga`,
    );
    return { name: variant.name, startupMs, rssAfterStartMb, smaps, snapshot, ...measured };
  }

  // --- query plans ----------------------------------------------------------------------

  /** The statements the capture recorded, by shape, with their counts per saga. */
  capturedStatements(pid: number, sagas: number): { shape: string; count: number; ms: number; sample: string; perSaga: number }[] {
    const file = path.join(this.probeDir, `${pid}-sql.json`);
    if (!fs.existsSync(file)) return [];
    const shapes = JSON.parse(fs.readFileSync(file, 'utf8')) as { shape: string; count: number; ms: number; sample: string }[];
    return shapes.sort((a, b) => b.count - a.count).map((s) => ({ ...s, perSaga: s.count / sagas }));
  }

  /**
   * The plan of `statement` as MariaDB runs it now (`ANALYZE FORMAT=JSON`: the rows each
   * table access read); a statement that writes runs inside a transaction rolled back.
   */
  async plan(query: string, source: string, statement: string): Promise<PlanRow | null> {
    const sql = statement.replace(/\s+FOR UPDATE\s*$/i, '');
    if (!/^\s*(SELECT|UPDATE|DELETE)\b/i.test(sql)) return null;
    const writes = !/^\s*SELECT/i.test(sql);
    const connection = await this.db!.getConnection();
    try {
      if (writes) await connection.query('START TRANSACTION');
      const [rows] = await connection.query(`ANALYZE FORMAT=JSON ${sql}`);
      const json = JSON.parse(Object.values((rows as Record<string, string>[])[0])[0]) as Record<string, unknown>;
      const tables: PlanRow['tables'] = [];
      let sorted = false;
      const walk = (node: unknown) => {
        if (!node || typeof node !== 'object') return;
        if (Array.isArray(node)) return node.forEach(walk);
        const o = node as Record<string, unknown>;
        if ('filesort' in o || 'read_sorted_file' in o) sorted = true;
        if (o.table && typeof o.table === 'object' && (o.table as Record<string, unknown>).table_name) {
          const t = o.table as Record<string, unknown>;
          tables.push({
            table: String(t.table_name),
            access: String(t.access_type ?? '?'),
            key: (t.key as string | undefined) ?? null,
            rowsExamined: typeof t.r_rows === 'number' ? t.r_rows * (typeof t.r_loops === 'number' ? t.r_loops : 1) : null,
            filtered: typeof t.r_filtered === 'number' ? t.r_filtered : null,
            sort: false,
          });
        }
        for (const value of Object.values(o)) walk(value);
      };
      walk(json.query_block);
      if (sorted && tables.length) tables[0].sort = true;
      const block = json.query_block as { r_total_time_ms?: number } | undefined;
      const rowsExamined = tables.reduce((a, t) => a + (t.rowsExamined ?? 0), 0);
      // A whole table or index read (an ordered index read stopped by LIMIT after a few rows is not one), or more than 1000 rows.
      const scan = tables.some((t) => ((t.access === 'ALL' || t.access === 'index') && (t.rowsExamined ?? Infinity) > 100) || (t.rowsExamined ?? 0) > 1000);
      return { query, source, statement: sql.length > 400 ? `${sql.slice(0, 400)}…` : sql, tables, rowsExamined, ms: block?.r_total_time_ms ?? null, scan };
    } finally {
      if (writes) await connection.query('ROLLBACK').catch(() => undefined);
      connection.release();
    }
  }

  /**
   * The deadline scheduler's two queries as `db/sequelize-saga-store.ts` writes them
   * (dueDeadlines, nextDeadlineAt), `GET /sagas/:id`'s reads, and the per-message queries
   * the capture recorded.
   */
  async plans(captured: { shape: string; sample: string; perSaga: number }[]): Promise<PlanRow[]> {
    const [copied] = await this.query<{ id: string }>(`SELECT id FROM growth_t WHERE n = 2`);
    const id = this.lastCopy > 0 ? copiedId(copied.id, this.lastCopy) : copied.id;
    const own: [string, string][] = [
      ['dueDeadlines (scheduler, every poll)', DUE_DEADLINES()],
      ['nextDeadlineAt (scheduler, every poll)', NEXT_DEADLINE],
      ['GET /sagas/:id: findInstances', `SELECT * FROM saga_instances WHERE id = '${id}'`],
      ['GET /sagas/:id: deadlinesOf', `SELECT * FROM deadlines WHERE saga_type = 'reserva' AND saga_id = '${id}' ORDER BY due_at ASC`],
      ['GET /sagas/:id: readLog', `SELECT * FROM saga_log WHERE saga_type = 'reserva' AND saga_id = '${id}' ORDER BY seq ASC`],
    ];
    own.push(...(await this.searches(id)));
    const rows: PlanRow[] = [];
    for (const [name, sql] of own) {
      const row = await this.plan(name, 'db/sequelize-saga-store.ts', sql);
      if (row) rows.push(row);
    }
    for (const c of captured) {
      if (/information_schema|GET_LOCK|RELEASE_LOCK|schema_migrations|SELECT 1\b|SELECT \?/i.test(c.shape)) continue;
      const row = await this.plan(`${c.shape.slice(0, 90)}${c.shape.length > 90 ? '…' : ''} (${fmt(c.perSaga, 2)}/saga)`, 'captured from the coordinator', c.sample).catch((error: Error) => {
        console.warn(`  could not read the plan of ${c.shape.slice(0, 80)}: ${error.message}`);
        return null;
      });
      if (row && row.tables.length > 0) rows.push(row);
    }
    return rows;
  }

  /**
   * `GET /sagas` searches as the store writes them (its statements recorded, not copied):
   * one customer's sagas, those in a state, the page after a cursor half-way down, a time range.
   */
  private async searches(customer: string): Promise<[string, string][]> {
    const sequelize = await connect(this.databaseUrl);
    const statements: string[] = [];
    const query = sequelize.query.bind(sequelize) as (...args: unknown[]) => Promise<unknown>;
    (sequelize as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (sql: unknown, ...rest: unknown[]) => {
      if (typeof sql === 'string' && sql.startsWith('SELECT')) statements.push(sql);
      return query(sql, ...rest);
    };
    const store = new SequelizeSagaStore(sequelize);
    try {
      const [middle] = await this.query<{ created_at: number; id: string; saga_type: string }>(
        `SELECT created_at, id, saga_type FROM saga_instances ORDER BY created_at DESC, id DESC, saga_type DESC LIMIT 1 OFFSET ${Math.floor((await this.count('SELECT COUNT(*) AS n FROM saga_instances')) / 2)}`,
      );
      const searches: [string, InstanceQuery][] = [
        ['GET /sagas?customer= (one among all)', { customer }],
        ['GET /sagas?state=pagando (100 newest)', { state: 'pagando' }],
        ['GET /sagas?cursor= (the page half-way down)', { after: { createdAt: Number(middle.created_at), id: middle.id, sagaType: middle.saga_type } }],
        ['GET /sagas?from=&to= (100 newest of a range)', { createdFrom: Number(middle.created_at) - 3_600_000, createdBefore: Number(middle.created_at) }],
      ];
      const named: [string, string][] = [];
      for (const [name, search] of searches) {
        statements.length = 0;
        await store.listInstances({ ...search, limit: 100 });
        named.push([name, statements[0]]);
      }
      return named;
    } finally {
      await store.close();
    }
  }

  /**
   * What the coordinator and mariadbd spend with no saga moving (the deadline scheduler's
   * polling, the relay's), over `seconds`, and the rows MariaDB read meanwhile (its global
   * Handler_read_* counters: other clients of the server count too).
   */
  async idleCost(seconds: number): Promise<{ seconds: number; coordinatorCpuPct: number | null; mariadbdCpuPct: number | null; rowsReadPerSecond: number }> {
    const handlerRows = async () => {
      const rows = await this.query<{ Variable_name: string; Value: string }>(`SHOW GLOBAL STATUS WHERE Variable_name IN ('Handler_read_next', 'Handler_read_rnd_next', 'Handler_read_key', 'Handler_read_first', 'Handler_read_prev')`);
      return rows.reduce((a, r) => a + Number(r.Value), 0);
    };
    const coordinator = this.coordinatorPid();
    const database = mariadbPid(MYSQL_URL);
    const c0 = cpuSeconds(coordinator);
    const d0 = database ? cpuSeconds(database) : null;
    const r0 = await handlerRows();
    await sleep(seconds * 1000);
    const r1 = await handlerRows();
    const c1 = cpuSeconds(coordinator);
    const d1 = database ? cpuSeconds(database) : null;
    const pct = (a: number | null, b: number | null) => (a === null || b === null ? null : (100 * (b - a)) / seconds);
    return { seconds, coordinatorCpuPct: pct(c0, c1), mariadbdCpuPct: pct(d0, d1), rowsReadPerSecond: (r1 - r0) / seconds };
  }

  /** Drives one copied saga to its end (pagos' test endpoint publishes its payment): the runtime takes copies like any saga. */
  async driveCopied(): Promise<{ id: string; finalState: string | null; ms: number }> {
    const [template] = await this.query<{ id: string; id_reserva: string }>(`SELECT id, id_reserva FROM growth_t WHERE n = 3`);
    const k = Math.max(1, this.lastCopy);
    const id = this.lastCopy > 0 ? copiedId(template.id, k) : template.id;
    const reserva = this.lastCopy > 0 ? copiedId(template.id_reserva, k) : template.id_reserva;
    const t0 = Date.now();
    const response = await fetch(`${this.cluster!.url('pagos')}/prueba-reserva-pagada`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id_correlacion: id, id_reserva: reserva, monto: 320, monto_vat: 60.8 }),
    });
    if (response.status !== 202) throw new Error(`POST /prueba-reserva-pagada answered ${response.status}: ${await response.text()}`);
    while (Date.now() - t0 < 60_000) {
      const [row] = await this.query<{ status: string; state_value: string }>(`SELECT status, state_value FROM saga_instances WHERE saga_type = 'reserva' AND id = ?`, [id]);
      if (row && row.status !== 'running') return { id, finalState: row.state_value, ms: Date.now() - t0 };
      await sleep(100);
    }
    return { id, finalState: null, ms: Date.now() - t0 };
  }
}

// ---------------------------------------------------------------------------------------
// Entry point

export async function runGrowthBenchmark(argv: string[] = process.argv): Promise<number> {
  let levels: number[];
  try {
    levels = takeGrowthFlag(argv) ?? DEFAULT_LEVELS;
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const args = parse(argv.slice(2), levels);
  const startedAt = Date.now();
  const loadAtStart = os.loadavg();

  const brokerUp = await fetch(`${PULSAR_URL}/admin/v2/clusters`, { signal: AbortSignal.timeout(3000) }).then((r) => r.ok, () => false);
  if (!brokerUp) {
    console.error(`The Pulsar broker at ${PULSAR_URL} is not answering; start it with: npm run pulsar -- start`);
    return 1;
  }
  let mariadbVersion: string;
  try {
    const admin = await mysql.createConnection({ ...connectionOptions(), connectTimeout: 3000 });
    const [rows] = await admin.query('SELECT VERSION() AS v');
    mariadbVersion = (rows as { v: string }[])[0].v;
    await admin.end();
  } catch (error) {
    console.error(`MariaDB at ${MYSQL_URL} is not reachable (${(error as Error).message}); set BENCH_MYSQL_URL`);
    return 1;
  }

  const run = new GrowthRun(args, mariadbVersion);
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the services, dropping ${run.dbName}${run.namespace ? ` and deleting public/${run.namespace}` : ''}`);
    void run.cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const admin = await mysql.createConnection(connectionOptions());
    await admin.query(`DROP DATABASE IF EXISTS \`${run.dbName}\``);
    await admin.query(`CREATE DATABASE \`${run.dbName}\``);
    await admin.end();
    run.db = mysql.createPool({ ...connectionOptions(run.dbName), connectionLimit: 4 });
    run.namespace = await freshNamespace(PULSAR_URL, 'growth');
    console.log(
      `\n## Cost as the work grows: ${args.levels.map((l) => fmt(l)).join(', ')} sagas in flight\n\n` +
        `Each level: that many sagas wait on pagos (timeout-pago, step deadline ${PLAZO_PASO_MS / 86_400_000} days), then ${args.sagas} happy sagas run, ${args.concurrency} in flight.\n` +
        `The first ${fmt(args.real)} waiting sagas are created through POST /reservas; the others are COPIES of their rows in bulk SQL (new saga, reservation\n` +
        `and message ids), exactly what the database holds for sagas waiting there. Broker ${PULSAR_URL} namespace public/${run.namespace};\n` +
        `MariaDB ${mariadbVersion} database ${run.dbName}. Services: ServiceCluster (node --import tsx), orchestration, SAGA_PULSAR_DRIVER ${process.env.SAGA_PULSAR_DRIVER ?? 'auto'}.`,
    );
    const t0 = Date.now();
    run.cluster = await ServiceCluster.start({ databaseUrl: run.databaseUrl, namespace: run.namespace, env: run.clusterEnv });
    console.log(`  services ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${SERVICE_NAMES.map((n) => `${n} ${run.cluster!.pid(n)}`).join(', ')}`);
    const driverLine = (run.cluster.output.get('coordinator') ?? []).join('').split('\n').find((l) => /pulsar: .* driver/.test(l));
    if (driverLine) console.log(`  coordinator: ${driverLine.replace(/^.*?(pulsar: )/, '$1').slice(0, 100)}`);
    if (args.warmup > 0) {
      const warm = await run.happySagas(args.warmup);
      console.log(`  warm-up: ${warm.filter((s) => s.status === 'completed').length}/${args.warmup} completed (not reported)`);
    }

    console.log(`\n  creating ${fmt(args.real)} sagas that wait on pagos through POST /reservas …`);
    const seedMs = await run.seedReal(args.real);
    console.log(`  ${fmt(args.real)} real sagas waiting on pagos after ${(seedMs / 1000).toFixed(1)} s`);
    const perSaga = await run.makeTemplates();
    console.log(`  rows per waiting saga: ${Object.entries(perSaga).map(([t, n]) => `${t} ${fmt(n, 1)}`).join(', ')}`);

    const levelResults: LevelResult[] = [];
    for (const n of args.levels) {
      console.log(`\n### ${fmt(n)} sagas in flight`);
      levelResults.push(await run.level(n));
    }

    // Query plans of the scheduler's polling and GET /sagas/:id now, at the largest level.
    let snapshot: SnapshotSummary | null = null;
    let modules: ReturnType<GrowthRun['moduleCosts']> | null = null;
    const variants: VariantResult[] = [];
    let captured: ReturnType<GrowthRun['capturedStatements']> = [];
    let bundleError: string | null = null;
    if (args.rss) {
      console.log(`\n### Where the coordinator's memory goes (${fmt(run.waiting)} in flight)\n`);
      snapshot = await run.heapSnapshot();
      if (snapshot) console.log(`  heap snapshot: ${fmt(snapshot.selfSizeMb, 1)} MB of objects, ${fmt(snapshot.distinctUuids)} distinct UUIDs in its strings`);
      modules = run.moduleCosts();
      let bundle: string | null = null;
      try {
        bundle = await run.buildBundle();
      } catch (error) {
        bundleError = (error as Error).message;
        console.warn(`  could not bundle the services (${bundleError}): no compiled-JS variants`);
      }
      // The SQL capture first (its own restart; its CPU figures are not used).
      const capture: Variant = { name: 'tsx, SQL capture', compiled: false, nodeOptions: [], env: { GROWTH_SQL_CAPTURE: '1' }, capture: true };
      const capturedRun = await run.variant(capture, bundle, Math.min(args.sagas, 100));
      captured = run.capturedStatements(capturedRun.coordinator.pid, Math.max(args.warmup, 50) + capturedRun.completed);
      const list: Variant[] = [
        { name: 'tsx (as in the table), restarted', compiled: false, nodeOptions: [], env: {}, snapshot: true },
        ...(bundle
          ? [
              { name: 'compiled JS (esbuild bundle), no tsx', compiled: true, nodeOptions: [], env: {}, snapshot: true },
              { name: 'compiled JS, --max-semi-space-size=2', compiled: true, nodeOptions: ['--max-semi-space-size=2'], env: {} },
              { name: 'compiled JS, semi-space 2, MALLOC_ARENA_MAX=2', compiled: true, nodeOptions: ['--max-semi-space-size=2'], env: { MALLOC_ARENA_MAX: '2' } },
            ]
          : []),
        { name: 'tsx, WebSocket driver (no libpulsar)', compiled: false, nodeOptions: [], env: { SAGA_PULSAR_DRIVER: 'websocket' } },
      ];
      for (const v of list) variants.push(await run.variant(v, bundle, args.sagas));
    }

    console.log(`\n### Query plans with ${fmt(run.waiting)} sagas in flight\n`);
    const plans = await run.plans(captured);
    const scanning = plans.filter((p) => p.scan);
    // A scan of the scheduler's: would an index on what it filters by remove it?
    let indexTrial: IndexTrial | null = null;
    if (scanning.some((p) => /^(dueDeadlines|nextDeadlineAt)/.test(p.query))) {
      const ordered = await run.plan('nextDeadlineAt written as ORDER BY due_at LIMIT 1, no new index', 'alternative statement', NEXT_DEADLINE_ORDERED);
      console.log(`  the scheduler's polling reads every armed deadline: its idle cost without, then with ${TRIAL_INDEX} …`);
      const without = await run.idleCost(15);
      await run.query(`ALTER TABLE deadlines ADD INDEX ${TRIAL_INDEX}`);
      try {
        const trial: PlanRow[] = [];
        for (const [name, sql] of [['dueDeadlines', DUE_DEADLINES()], ['nextDeadlineAt', NEXT_DEADLINE]]) {
          const row = await run.plan(`${name} with the trial index`, 'trial index', sql);
          if (row) trial.push(row);
        }
        const withIndex = await run.idleCost(15);
        indexTrial = { index: TRIAL_INDEX, plans: trial, idle: { without, withIndex }, ordered };
      } finally {
        await run.query('ALTER TABLE deadlines DROP INDEX growth_trial_armed_due');
      }
    }
    const driven = await run.driveCopied();
    console.log(`  a copied saga (${driven.id}) given its payment through pagos' /prueba-reserva-pagada: ${driven.finalState ?? 'NOT FINAL'} after ${fmt(driven.ms)} ms`);

    print({ args, levels: levelResults, perSaga, snapshot, modules, variants, plans, indexTrial, captured, driven, seedMs });
    save({ args, run, startedAt, loadAtStart, levels: levelResults, perSaga, snapshot, modules, variants, plans, indexTrial, captured, driven, seedMs, bundleError });
    return 0;
  } catch (error) {
    if (!run.abort.signal.aborted) {
      console.error(`\ngrowth benchmark failed: ${(error as Error).stack ?? error}`);
      if (run.cluster) {
        for (const name of SERVICE_NAMES) {
          const lines = (run.cluster.output.get(name) ?? []).join('').split('\n').slice(-15).join('\n');
          if (lines.trim()) console.error(`--- ${name}, last output:\n${lines}`);
        }
      }
      if (run.ownOutput.length) console.error(`--- coordinator variant, last output:\n${run.ownOutput.join('').slice(-2000)}`);
    }
    return 1;
  } finally {
    await run.cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

interface IndexTrial {
  index: string;
  plans: PlanRow[];
  idle: { without: Awaited<ReturnType<GrowthRun['idleCost']>>; withIndex: Awaited<ReturnType<GrowthRun['idleCost']>> };
  /** nextDeadlineAt as ORDER BY due_at LIMIT 1 under the existing indexes. */
  ordered: PlanRow | null;
}

interface Report {
  args: Args;
  levels: LevelResult[];
  perSaga: Record<string, number>;
  snapshot: SnapshotSummary | null;
  modules: ReturnType<GrowthRun['moduleCosts']> | null;
  variants: VariantResult[];
  plans: PlanRow[];
  indexTrial: IndexTrial | null;
  captured: ReturnType<GrowthRun['capturedStatements']>;
  driven: { id: string; finalState: string | null; ms: number };
  seedMs: number;
}

/** The coordinator's garbage collection per completed saga: pause ms and scavenges. */
function gcPerSaga(m: Measurement): { ms: number; minor: number } | null {
  const gc = m.coordinator.heap.gc;
  return gc && m.completed > 0 ? { ms: gc.ms / m.completed, minor: gc.minor / m.completed } : null;
}

function cpuMs(m: Measurement, name: string): number | null {
  const p = m.processes.find((x) => x.name === name);
  return p?.cpuSeconds === null || p?.cpuSeconds === undefined || m.completed === 0 ? null : (1000 * p.cpuSeconds) / m.completed;
}

/** The verdict against the issue's target: RSS ≤ 150 MB, and the per-saga cost flat from the smallest level to the largest. */
function verdict(levels: LevelResult[]) {
  const first = levels[0];
  const last = levels.at(-1)!;
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? a / b : null);
  const peak = Math.max(...levels.map((l) => l.coordinator.rssPeakMb ?? 0));
  const cpu = ratio(last.coordinator.cpuMsPerSaga, first.coordinator.cpuMsPerSaga);
  const p99 = ratio(last.latencyMs?.p99, first.latencyMs?.p99);
  const db = ratio(cpuMs(last, 'mariadbd'), cpuMs(first, 'mariadbd'));
  const throughput = ratio(last.sagasPerSecond, first.sagasPerSecond);
  const rssGrowthMb = (last.coordinator.rssPeakMb ?? 0) - (first.coordinator.rssPeakMb ?? 0);
  const flat = (r: number | null) => r !== null && r <= GROWTH_TOLERANCE;
  return { peakRssMb: peak, rssOk: peak <= RSS_TARGET_MB, rssGrowthMb, cpuRatio: cpu, p99Ratio: p99, mariadbCpuRatio: db, throughputRatio: throughput, costFlat: flat(cpu) && flat(p99) };
}

function print(r: Report): void {
  const { levels } = r;
  console.log(`\n## Results: ${r.args.sagas} happy sagas (${r.args.concurrency} in flight) next to N sagas waiting on pagos\n`);
  console.log(
    table(
      ['in flight', 'coordinator RSS MB (peak)', 'RSS at end', 'sagas/s', 'p50 ms', 'p99 ms', 'coordinator CPU ms/saga', 'mariadbd CPU ms/saga', 'saga_instances MB', 'deadlines MB'],
      levels.map((l) => [
        `${fmt(l.inFlight)}${l.copied ? '' : ' (all real)'}`,
        fmt(l.coordinator.rssPeakMb),
        fmt(l.coordinator.rssEndMb),
        fmt(l.sagasPerSecond, 1),
        fmt(l.latencyMs?.p50),
        fmt(l.latencyMs?.p99),
        fmt(l.coordinator.cpuMsPerSaga, 1),
        fmt(cpuMs(l, 'mariadbd'), 1),
        fmt((l.tables.saga_instances?.dataMb ?? 0) + (l.tables.saga_instances?.indexMb ?? 0), 1),
        fmt((l.tables.deadlines?.dataMb ?? 0) + (l.tables.deadlines?.indexMb ?? 0), 1),
      ]),
    ),
  );
  const v = verdict(levels);
  const ratio = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)}×`);
  console.log(
    `\nVerdict: coordinator RSS ${fmt(v.peakRssMb)} MB at its peak: ${v.rssOk ? 'within' : 'OVER'} the ${RSS_TARGET_MB} MB target; it moved ${v.rssGrowthMb >= 0 ? '+' : ''}${fmt(v.rssGrowthMb, 1)} MB from ${fmt(levels[0].inFlight)} to ${fmt(levels.at(-1)!.inFlight)} in flight. ` +
      `Per-saga cost ${fmt(levels.at(-1)!.inFlight)} vs ${fmt(levels[0].inFlight)}: coordinator CPU ms/saga ${ratio(v.cpuRatio)}, p99 ${ratio(v.p99Ratio)}, mariadbd CPU ms/saga ${ratio(v.mariadbCpuRatio)}, sagas/s ${ratio(v.throughputRatio)}: ` +
      `${v.costFlat ? `does not grow (within ${GROWTH_TOLERANCE}×, the noise of two shared cores)` : `GROWS (over ${GROWTH_TOLERANCE}×)`}.`,
  );
  const scans = r.plans.filter((p) => p.scan && p.source !== 'captured from the coordinator');
  if (scans.length) {
    console.log(
      `But not everything is flat: ${scans.map((p) => `${p.query.replace(/ \(.*$/, '')} reads ${fmt(p.rowsExamined)} rows (${fmt(p.ms, 1)} ms)`).join('; ')} with ${fmt(levels.at(-1)!.inFlight)} in flight: ` +
        `every armed deadline, on every poll of the deadline scheduler (each second), so the background cost grows with the sagas in flight (see the plans below).`,
    );
  }
  console.log(`\nIn flight = sagas waiting on pagos: the first ${fmt(r.args.real)} created through POST /reservas (${(r.seedMs / 1000).toFixed(0)} s), the others copies of their rows in bulk SQL.`);
  console.log(`Rows per waiting saga: ${Object.entries(r.perSaga).map(([t, n]) => `${t} ${fmt(n, 1)}`).join(', ')}.`);
  console.log('latency = POST /reservas sent → `updated_at` of the saga row when final (coordinator clock, same host); completion learnt by one SQL query per round.');
  console.log('RSS = VmRSS of /proc/<pid>/status sampled every 250 ms during the measured sagas; CPU from /proc/<pid>/stat over the same window.');

  console.log('\nCPU ms per saga of every process, and the tables:\n');
  const names = levels[0].processes.map((p) => p.name).filter((n) => n !== 'bench (this process)');
  console.log(
    table(
      ['in flight', ...names, 'waiting (counted)', 'saga_log rows', 'whole database MB', 'InnoDB pages read in/saga', 'page requests/saga', 'nextDeadlineAt rows read', 'nextDeadlineAt ms'],
      levels.map((l) => [
        fmt(l.inFlight),
        ...names.map((n) => fmt(cpuMs(l, n), 1)),
        fmt(l.waitingCounted),
        fmt(l.tables.saga_log?.rows),
        fmt(Object.values(l.tables).reduce((a, t) => a + t.dataMb + t.indexMb, 0), 0),
        fmt(l.server?.pageReadsPerSaga, 1),
        fmt(l.server?.pageRequestsPerSaga, 0),
        fmt(l.nextDeadlineAt?.rowsExamined),
        fmt(l.nextDeadlineAt?.ms, 2),
      ]),
    ),
  );

  const pool = levels.find((l) => l.server)?.server?.bufferPoolMb;
  console.log(`InnoDB pages read in = pages not found in MariaDB's buffer pool (${fmt(pool)} MB here), server-wide counters per measured saga (other clients count too).`);
  console.log("\nThe coordinator's memory at each level (MB):\n");
  const categories = [...new Set(levels.flatMap((l) => Object.keys(l.smaps ?? {})))].filter((c) => levels.some((l) => (l.smaps?.[c] ?? 0) >= 0.5)).sort();
  console.log(
    table(
      ['in flight', 'VmRSS', 'PSS', 'RssAnon', 'RssFile', 'threads', 'V8 heap (main, committed)', 'V8 heap used', 'young gen (peak)', 'external', 'GC ms/saga', 'scavenges/saga', ...categories],
      levels.map((l) => [
        fmt(l.inFlight),
        fmt((l.coordinator.status?.VmRSS ?? 0) / 1024, 1),
        fmt(l.coordinator.pss?.pss, 1),
        fmt((l.coordinator.status?.RssAnon ?? 0) / 1024, 1),
        fmt((l.coordinator.status?.RssFile ?? 0) / 1024, 1),
        fmt(l.coordinator.status?.Threads),
        fmt(l.coordinator.heap.heapTotalMb, 1),
        fmt(l.coordinator.heap.heapUsedMb, 1),
        fmt(l.coordinator.heap.spacesPeakMb.new_space, 1),
        fmt(l.coordinator.heap.externalMb, 1),
        fmt(gcPerSaga(l)?.ms, 2),
        fmt(gcPerSaga(l)?.minor, 2),
        ...categories.map((c) => fmt(l.smaps?.[c], 1)),
      ]),
    ),
  );

  if (r.snapshot) {
    const s = r.snapshot;
    console.log(`\nHeap snapshot of the coordinator at ${fmt(levels.at(-1)!.inFlight)} in flight: ${fmt(s.selfSizeMb, 1)} MB of objects (${fmt(s.nodes)} nodes); ${fmt(s.distinctUuids)} distinct UUIDs in its strings (saga, reservation and message ids).`);
    console.log(`  by type: ${s.byType.slice(0, 8).map((t) => `${t.type} ${fmt(t.mb, 1)}`).join(', ')}`);
    console.log(`  largest: ${s.topObjects.slice(0, 8).map((t) => `${t.name} ${fmt(t.mb, 1)} (${fmt(t.count)})`).join('; ')}`);
  }
  const snapshots = [...(r.snapshot ? [['the running coordinator (tsx)', r.snapshot] as const] : []), ...r.variants.filter((v) => v.snapshot).map((v) => [v.name, v.snapshot!] as const)];
  if (snapshots.length) {
    console.log('\nHeap snapshots (live objects after a full GC; MB):\n');
    console.log(
      table(
        ['coordinator', 'objects', 'strings', 'of them: with an inline source map', 'other strings > 2 kB (module sources)', 'code', 'distinct UUIDs'],
        snapshots.map(([name, x]) => [
          name,
          fmt(x.selfSizeMb, 1),
          fmt(x.byType.filter((t) => /string/.test(t.type)).reduce((a, t) => a + t.mb, 0), 1),
          `${fmt(x.sourceMapStrings.mb, 1)} (${fmt(x.sourceMapStrings.count)})`,
          `${fmt(x.sourceStrings.mb, 1)} (${fmt(x.sourceStrings.count)})`,
          fmt(x.byType.find((t) => t.type === 'code')?.mb, 1),
          fmt(x.distinctUuids),
        ]),
      ),
    );
  }
  if (r.modules) {
    console.log('\nWhat loading the libraries costs a bare node (after a full GC; MB):\n');
    const rows: string[][] = [];
    for (const m of r.modules) for (const s of m.steps) rows.push([m.runner, s.label, fmt(s.rssMb, 1), fmt(s.heapUsedMb, 1), fmt(s.heapTotalMb, 1), fmt(s.externalMb, 1)]);
    console.log(table(['runner', 'step', 'RSS', 'V8 heap used', 'V8 heap committed', 'external'], rows, 2));
  }
  if (r.variants.length) {
    console.log(`\nThe coordinator started other ways, ${fmt(levels.at(-1)!.inFlight)} in flight, the same ${r.args.sagas} happy sagas (each a fresh process):\n`);
    console.log(
      table(
        ['coordinator', 'ready in s', 'RSS after start', 'RSS peak', 'RSS at end', 'PSS at end', 'V8 heap (main)', 'young gen (peak)', 'anonymous', 'threads', 'sagas/s', 'p99 ms', 'CPU ms/saga', 'GC ms/saga', 'scavenges/saga'],
        r.variants.map((x) => [
          x.name,
          fmt(x.startupMs / 1000, 1),
          fmt(x.rssAfterStartMb),
          fmt(x.coordinator.rssPeakMb),
          fmt(x.coordinator.rssEndMb),
          fmt(x.coordinator.pss?.pss),
          fmt(x.coordinator.heap.heapTotalMb, 1),
          fmt(x.coordinator.heap.spacesPeakMb.new_space, 1),
          fmt(x.smaps?.['anonymous (V8 heap, malloc arenas, stacks)'], 1),
          fmt(x.coordinator.status?.Threads),
          fmt(x.sagasPerSecond, 1),
          fmt(x.latencyMs?.p99),
          fmt(x.coordinator.cpuMsPerSaga, 1),
          fmt(gcPerSaga(x)?.ms, 2),
          fmt(gcPerSaga(x)?.minor, 2),
        ]),
      ),
    );
  }
  if (r.captured.length) {
    console.log('\nStatements the coordinator sent (captured through Sequelize, per happy saga; background polling included):\n');
    console.log(table(['statement shape', 'per saga', 'ms total'], r.captured.slice(0, 20).map((c) => [c.shape.slice(0, 140), fmt(c.perSaga, 2), fmt(c.ms, 0)])));
  }
  console.log(`\nQuery plans (ANALYZE FORMAT=JSON; writes rolled back) with ${fmt(levels.at(-1)!.inFlight)} sagas in flight:\n`);
  console.log(
    table(
      ['query', 'table: access (key)', 'rows read', 'ms', 'scan?'],
      r.plans.map((p) => [p.query.slice(0, 110), p.tables.map((t) => `${t.table}: ${t.access}${t.key ? ` (${t.key})` : ''}${t.sort ? ' +sort' : ''}`).join('; ').slice(0, 90), fmt(p.rowsExamined), fmt(p.ms, 2), p.scan ? 'SCAN' : 'no']),
    ),
  );
  if (r.indexTrial) {
    console.log(`\nTrial (index added in this run's database only, then dropped): ${r.indexTrial.index}`);
    for (const p of r.indexTrial.plans) console.log(`  ${p.query}: ${p.tables.map((t) => `${t.access}${t.key ? ` (${t.key})` : ''}`).join('; ') || 'no table read (Select tables optimized away)'}, ${fmt(p.rowsExamined)} rows read, ${fmt(p.ms, 2)} ms`);
    const o = r.indexTrial.ordered;
    if (o) console.log(`  ${o.query}: ${o.tables.map((t) => `${t.access}${t.key ? ` (${t.key})` : ''}${t.sort ? ' +sort' : ''}`).join('; ')}, ${fmt(o.rowsExamined)} rows read, ${fmt(o.ms, 2)} ms`);
    const idle = (x: IndexTrial['idle']['without']) => `coordinator ${fmt(x.coordinatorCpuPct, 1)}% of a core, mariadbd ${fmt(x.mariadbdCpuPct, 1)}%, ${fmt(x.rowsReadPerSecond)} rows read/s by the server`;
    console.log(`  no saga moving, ${r.indexTrial.idle.without.seconds} s each: without the index ${idle(r.indexTrial.idle.without)}; with it ${idle(r.indexTrial.idle.withIndex)} (mariadbd and its counters include other clients of the server).`);
  }
  console.log(`\nA copied saga driven on (pagos' payment event): ${r.driven.finalState ?? 'NOT FINAL'} in ${fmt(r.driven.ms)} ms.`);
}

function save(r: Report & { run: GrowthRun; startedAt: number; loadAtStart: number[]; bundleError: string | null }): void {
  const json = {
    generatedAt: new Date().toISOString(),
    machine: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadAverageAtStart: r.loadAtStart, loadAverageAtEnd: os.loadavg(), wallSeconds: (Date.now() - r.startedAt) / 1000 },
    setup: {
      broker: PULSAR_URL,
      mariadb: r.run.mariadbVersion,
      style: 'orchestration',
      pulsarDriver: process.env.SAGA_PULSAR_DRIVER ?? 'auto',
      plazoPasoMs: PLAZO_PASO_MS,
      realSagas: r.args.real,
      copies: 'rows of the real waiting sagas copied in bulk SQL under new ids (MD5 of id#copy), table by table',
      rowsPerWaitingSaga: r.perSaga,
      seedMs: r.seedMs,
    },
    options: { ...r.args },
    target: { rssMb: RSS_TARGET_MB, growthTolerance: GROWTH_TOLERANCE },
    verdict: verdict(r.levels),
    levels: r.levels.map((l) => ({ ...l, mariadbCpuMsPerSaga: cpuMs(l, 'mariadbd') })),
    heapSnapshot: r.snapshot,
    moduleCosts: r.modules,
    variants: r.variants,
    bundleError: r.bundleError,
    capturedStatements: r.captured.slice(0, 30).map(({ sample, ...rest }) => ({ ...rest, sample: sample.slice(0, 200) })),
    plans: r.plans,
    indexTrial: r.indexTrial,
    copiedSagaDriven: r.driven,
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, JSON.stringify(round(json), null, 2) + '\n');
  console.log(`\nJSON: ${path.relative(process.cwd(), RESULTS)}`);
}

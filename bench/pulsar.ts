/**
 * `npm run bench -- --transport pulsar`: the reservation saga with every service as its own
 * process (coordinator, vuelos, pagos, gds, notificaciones: `services/service-main.ts`,
 * spawned by tools/cluster/service-cluster.ts) over the real Pulsar broker and MariaDB, all on this
 * machine. Reports completed sagas per second, the latency from `POST /reservas` (request
 * sent) to the saga's final state, the same for one saga alone, the CPU each process spent
 * per saga (the broker and MariaDB included), MariaDB statements and broker messages per saga.
 *
 *   npm run bench -- --transport pulsar
 *   npm run bench -- --transport pulsar --peer restate     # then Restate, and the ratios
 *   npm run bench -- --transport pulsar --sagas 500 --concurrency 50 --cpu-prof /tmp/prof
 *
 * Flags: --sagas N (measured, default 200), --concurrency C (sagas in flight, from POST until
 * their final state is seen, default 20), --poll-ms P (interval of the final-state query,
 * default 20), --warmup W (sagas run first and not reported, default 100: the broker's JIT needs them), --timeout S (per
 * saga, default 60), --one-in-flight N (sagas run one at a time after the measured run,
 * default 30), --drivers websocket,native, --peer restate (bench/peer/restate.ts, run after
 * ours with our services stopped), --cpu-prof DIR (each service writes a V8 CPU profile).
 * Env: PULSAR_URL (default http://127.0.0.1:8080), BENCH_MYSQL_URL (default
 * mysql://root@127.0.0.1:3306), PULSAR_STATE_DIR (where `npm run pulsar` keeps broker.pid).
 *
 * The benchmark does not load what it measures to learn that a saga finished: one SQL query
 * per round (every --poll-ms) reads the rows of all sagas in flight by primary key straight
 * from MariaDB; the saga logs (for the hop table) are read once, after the run. Latency is
 * `updated_at` of the saga's final row (the coordinator's Date.now() when it applied the last
 * event) minus Date.now() here right before the POST; every process runs on this host and
 * reads the same clock, and the run checks causality.
 *
 * Creates a fresh MariaDB database `saga_bench_pulsar_<pid>` and a fresh Pulsar namespace
 * `public/bench-<random>`; stops every service process, drops the database and deletes the
 * namespace at the end, on errors and on Ctrl-C. Writes bench/results/pulsar-latest.json.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { SERVICE_NAMES, type ServiceName } from '../services/config.ts';
import { fmt, round, stats, table, type Stats } from './figures.ts';
import { brokerPid, mariadbPid, ProcessMonitor, servicePids, type ProcessReport } from './processes.ts';
import { openTransport } from '../services/transport.ts';
import { loadConfig } from '../services/config.ts';
import { formatPeerResult, runRestatePeer, type PeerResult } from './peer/restate.ts';
import { DEFAULT_PULSAR_URL as PULSAR_URL, deleteNamespace, freshNamespace, ServiceCluster } from '../tools/cluster/service-cluster.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RESULTS = path.join(HERE, 'results', 'pulsar-latest.json');
const MYSQL_URL = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const USAGE = 'usage: npm run bench -- --transport pulsar [--peer restate] [--drivers websocket,native] [--sagas 200] [--concurrency 20] [--poll-ms 20] [--warmup 100] [--timeout 60] [--one-in-flight 30] [--coordinators 1,2] [--cpu-prof DIR]';

/** Whether the native driver (pulsar-client, `npm run setup:native`) loads here: then both drivers run by default. */
const NATIVE_LOADS = await import('pulsar-client' as string).then(
  () => true,
  () => false,
);

/**
 * Takes `--transport memory|pulsar` (or `--transport=…`) out of `argv`, so the in-process
 * benchmark's own flag parser never sees it, and returns it (default memory).
 */
export function takeTransportFlag(argv: string[] = process.argv): 'memory' | 'pulsar' {
  let transport = 'memory';
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--transport') {
      transport = argv[i + 1] ?? '';
      argv.splice(i, 2);
      i--;
    } else if (argv[i].startsWith('--transport=')) {
      transport = argv[i].slice('--transport='.length);
      argv.splice(i, 1);
      i--;
    }
  }
  if (transport !== 'memory' && transport !== 'pulsar') {
    console.error(`--transport must be memory or pulsar, got "${transport}"`);
    process.exit(2);
  }
  return transport;
}

type Driver = 'websocket' | 'native';

interface Args {
  /** The Pulsar drivers to run, one after the other, each on a fresh namespace and database. */
  drivers: Driver[];
  sagas: number;
  concurrency: number;
  pollMs: number;
  warmup: number;
  timeoutMs: number;
  /** Sagas run one at a time after the measured run (the latency of a saga alone), 0 for none. */
  oneInFlight: number;
  /** Each service writes a V8 CPU profile (`node --cpu-prof`) into this folder, when given. */
  cpuProfDir: string | null;
  /** The peer run in the same benchmark, after ours (whose services are stopped by then). */
  peer: 'restate' | null;
  /** Coordinator replicas per run: `--coordinators 1,2` runs each driver with one, then with two. */
  coordinators: number[];
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      sagas: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '20' },
      'poll-ms': { type: 'string', default: '20' },
      warmup: { type: 'string', default: '100' },
      timeout: { type: 'string', default: '60' },
      'one-in-flight': { type: 'string', default: '30' },
      'cpu-prof': { type: 'string' },
      peer: { type: 'string' },
      drivers: { type: 'string' },
      coordinators: { type: 'string', default: '1' },
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
  const drivers = (values.drivers ?? (NATIVE_LOADS ? 'websocket,native' : 'websocket')).split(',').map((d) => d.trim()) as Driver[];
  for (const driver of drivers) {
    if (driver !== 'websocket' && driver !== 'native') {
      console.error(`--drivers lists websocket and/or native, got "${driver}"\n${USAGE}`);
      process.exit(2);
    }
    if (driver === 'native' && !NATIVE_LOADS) {
      console.error('--drivers native: pulsar-client does not load here; build it with npm run setup:native');
      process.exit(2);
    }
  }
  return {
    drivers,
    sagas: int('sagas', values.sagas!, 1),
    concurrency: int('concurrency', values.concurrency!, 1),
    pollMs: int('poll-ms', values['poll-ms']!, 1),
    warmup: int('warmup', values.warmup!, 0),
    timeoutMs: int('timeout', values.timeout!, 1) * 1000,
    oneInFlight: int('one-in-flight', values['one-in-flight']!, 0),
    cpuProfDir: values['cpu-prof'] ? path.resolve(values['cpu-prof']) : null,
    peer: peerOf(values.peer),
    coordinators: values.coordinators!.split(',').map((n) => int('coordinators', n.trim(), 1)),
  };
}

function peerOf(value: string | undefined): 'restate' | null {
  if (value === undefined) return null;
  if (value !== 'restate') {
    console.error(`--peer takes restate, got "${value}"\n${USAGE}`);
    process.exit(2);
  }
  return value;
}

// ---------------------------------------------------------------------------------------
// Infrastructure: broker check, namespace, database

async function brokerProblem(): Promise<string | null> {
  try {
    const response = await fetch(`${PULSAR_URL}/admin/v2/clusters`, { signal: AbortSignal.timeout(3000) });
    return response.ok ? null : `its admin API answered ${response.status}`;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return cause ?? (error as Error).message;
  }
}

function mysqlAdmin() {
  const server = new URL(MYSQL_URL);
  return mysql.createConnection({
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username || 'root'),
    password: decodeURIComponent(server.password),
    connectTimeout: 3_000,
  });
}

async function mysqlQuery(sql: string): Promise<unknown> {
  const connection = await mysqlAdmin();
  try {
    const [rows] = await connection.query(sql);
    return rows;
  } finally {
    await connection.end();
  }
}

/** MariaDB's global statement counters (all clients of the server). */
async function databaseStatus(): Promise<Record<string, number>> {
  const rows = (await mysqlQuery(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_select', 'Com_insert', 'Com_update', 'Com_delete', 'Com_commit', 'Com_begin', 'Com_rollback', 'Innodb_data_fsyncs')",
  )) as { Variable_name: string; Value: string }[];
  return Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)]));
}

/** Messages in per topic of the namespace, from the broker's admin API (`msgInCounter`). */
async function topicCounters(namespace: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  try {
    const topics = (await (await fetch(`${PULSAR_URL}/admin/v2/persistent/public/${namespace}`)).json()) as string[];
    for (const topic of topics) {
      const name = topic.slice(topic.lastIndexOf('/') + 1);
      const stats = (await (await fetch(`${PULSAR_URL}/admin/v2/persistent/public/${namespace}/${encodeURIComponent(name)}/stats`)).json()) as { msgInCounter?: number };
      counts[name] = stats.msgInCounter ?? 0;
    }
  } catch (error) {
    console.warn(`  could not read topic stats: ${(error as Error).message}`);
  }
  return counts;
}


// ---------------------------------------------------------------------------------------
// One saga: POST, poll, read its log

interface LogEntry {
  seq: number;
  kind: string;
  type: string;
  at: number;
  messageId: string | null;
  payload: unknown;
}

interface SagaSample {
  id: string | null;
  /** Date.now() right before the POST was sent. */
  sentAt: number;
  /** When the 202 was read. */
  acceptedAt: number | null;
  /** When the poll that saw a final state returned. */
  detectedAt: number | null;
  status: string;
  state: string | null;
  /** `at` of xstate.init and of the last `state` entry in the saga log. */
  initAt: number | null;
  finalAt: number | null;
  hops: [string, number][];
  error?: string;
}

/** Service output lines worth showing: failures, retries, negative acks, dead letters. */
const PROBLEM = /error|fail|retry|negative ack|dead.?letter|warn/i;

const REQUEST_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const RESERVA = JSON.stringify({ id_cliente: 'cliente-bench', monto: 320, monto_vat: 60.8, itinerarios: [{ origen: 'BOG', destino: 'CTG' }] });

/** Participant timestamps the reply events carry (`now` of the participant's handler). */
const PARTICIPANT_TIME_FIELDS = ['fecha_creacion', 'fecha_confirmacion', 'fecha_actualizacion'];

/**
 * Segments of one saga's time from its log: POST → xstate.init, then for each command the
 * way to the participant (command `at` → the participant's `now` carried by its reply) and
 * back (→ the reply's `at` at the coordinator, which is also the `at` of the state it led to).
 */
function hopsOf(sentAt: number, log: LogEntry[]): [string, number][] {
  const entries = [...log].sort((a, b) => a.seq - b.seq);
  const hops: [string, number][] = [];
  const init = entries.find((e) => e.kind === 'event' && e.type === 'xstate.init');
  if (!init) return hops;
  hops.push(['POST sent → xstate.init (vuelos HTTP, IniciarReserva via broker, coordinator start)', init.at - sentAt]);
  entries.forEach((command, i) => {
    if (command.kind !== 'command') return;
    const reply = entries.slice(i + 1).find((e) => e.kind === 'event');
    if (!reply) return;
    const data = (reply.payload ?? {}) as Record<string, unknown>;
    const field = PARTICIPANT_TIME_FIELDS.find((f) => typeof data[f] === 'number');
    if (field) {
      const participantAt = data[field] as number;
      hops.push([`${command.type}: coordinator → participant`, participantAt - command.at]);
      hops.push([`${reply.type}: participant → coordinator`, reply.at - participantAt]);
    } else {
      hops.push([`${command.type} → ${reply.type}`, reply.at - command.at]);
    }
  });
  // The final `state` entry is written by the transition of the last event, with its `at`: no segment after it.
  return hops;
}

/**
 * The broker's own floor for one hop over `driver`: a message published, then handled by a
 * Key_Shared consumer, one at a time (nothing else in flight), with the driver's settings
 * (`batchingDelayMs` for the native one). No database, no saga: what every hop of a saga
 * pays at least.
 */
async function brokerFloor(driver: Driver, namespace: string, batchingDelayMs = 0, count = 200): Promise<{ publishMs: Stats | null; handlerMs: Stats | null }> {
  const config = loadConfig({ SAGA_TRANSPORT: 'pulsar', SAGA_PULSAR_DRIVER: driver, PULSAR_URL, PULSAR_NAMESPACE: namespace, PULSAR_BATCHING_DELAY_MS: String(batchingDelayMs) });
  const transport = await openTransport(config);
  const topic = `floor-${driver}-${batchingDelayMs}`;
  let handled: (() => void) | null = null;
  const subscription = await transport.subscribe({ topics: [topic], subscription: 'floor', handler: async () => handled?.() });
  const publish: number[] = [];
  const handler: number[] = [];
  try {
    for (let i = 0; i < count + 20; i++) {
      const seen = new Promise<void>((resolve) => (handled = resolve));
      const t0 = performance.now();
      await transport.publish(topic, { key: `k-${i}`, payload: `{"i":${i}}` });
      const t1 = performance.now();
      await seen;
      // The first 20 warm the connection and the broker's code paths.
      if (i >= 20) (publish.push(t1 - t0), handler.push(performance.now() - t0));
      await sleep(2);
    }
  } finally {
    await subscription.close();
    await transport.close();
  }
  return { publishMs: stats(publish), handlerMs: stats(handler) };
}

/**
 * Learns when sagas reach a final state without loading the system it measures: one query
 * per round (every `pollMs`) reads the rows of every saga in flight, by primary key, straight
 * from MariaDB; no request reaches the coordinator. The saga logs (for the hop table) are
 * read once, after the measured run.
 */
class FinalStates {
  /** Keep-alive connections for the POSTs, as many as sagas in flight (as the Restate peer's client). */
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly waiting = new Map<string, { resolve: (row: FinalRow) => void; until: number; reject: (error: Error) => void }>();
  private timer: NodeJS.Timeout | null = null;
  private connection: mysql.Connection | null = null;
  /** Queries sent, for the report. */
  queries = 0;

  constructor(
    private readonly database: string,
    private readonly pollMs: number,
  ) {}

  async open(): Promise<void> {
    const server = new URL(MYSQL_URL);
    this.connection = await mysql.createConnection({
      host: server.hostname,
      port: Number(server.port || 3306),
      user: decodeURIComponent(server.username || 'root'),
      password: decodeURIComponent(server.password),
      database: this.database,
    });
    this.timer = setInterval(() => void this.round(), this.pollMs);
  }

  async close(): Promise<void> {
    this.agent.destroy();
    if (this.timer) clearInterval(this.timer);
    for (const [, w] of this.waiting) w.reject(new Error('interrupted'));
    this.waiting.clear();
    await this.connection?.end().catch(() => undefined);
  }

  /** Resolves with the saga's row once it is no longer running, or null after `timeoutMs`. */
  wait(id: string, timeoutMs: number): Promise<FinalRow | null> {
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject, until: Date.now() + timeoutMs }));
  }

  private busy = false;
  private async round(): Promise<void> {
    if (this.busy || this.waiting.size === 0 || !this.connection) return;
    this.busy = true;
    try {
      const ids = [...this.waiting.keys()];
      this.queries++;
      const [rows] = await this.connection.query(`SELECT id, status, state_value, updated_at FROM saga_instances WHERE saga_type = 'reserva' AND id IN (?)`, [ids]);
      const seenAt = Date.now();
      for (const row of rows as { id: string; status: string; state_value: string; updated_at: number | string }[]) {
        if (row.status === 'running') continue;
        const w = this.waiting.get(row.id);
        this.waiting.delete(row.id);
        w?.resolve({ status: row.status, state: row.state_value, finalAt: Number(row.updated_at), seenAt });
      }
      for (const [id, w] of this.waiting) {
        if (seenAt <= w.until) continue;
        this.waiting.delete(id);
        (w.resolve as (row: FinalRow | null) => void)(null);
      }
    } catch (error) {
      console.warn(`  final-state query failed: ${(error as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  /** The saga logs of `ids`, one query per 200 sagas (after the run). */
  async logs(ids: string[]): Promise<Map<string, LogEntry[]>> {
    const byId = new Map<string, LogEntry[]>();
    for (let i = 0; i < ids.length; i += 200) {
      const [rows] = await this.connection!.query(`SELECT saga_id, seq, kind, type, at, message_id, payload FROM saga_log WHERE saga_type = 'reserva' AND saga_id IN (?)`, [ids.slice(i, i + 200)]);
      for (const row of rows as { saga_id: string; seq: number; kind: string; type: string; at: number | string; message_id: string | null; payload: string }[]) {
        const entries = byId.get(row.saga_id) ?? [];
        entries.push({ seq: Number(row.seq), kind: row.kind, type: row.type, at: Number(row.at), messageId: row.message_id, payload: JSON.parse(row.payload) });
        byId.set(row.saga_id, entries);
      }
    }
    return byId;
  }
}

/**
 * POST with node's http client on a keep-alive agent: the same client the Restate peer uses,
 * and cheaper than fetch, so the benchmark takes less of the CPU the system needs.
 */
function post(agent: http.Agent, url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

interface FinalRow {
  status: string;
  state: string;
  /** `updated_at` of the saga's row: the coordinator's clock when it applied the last event. */
  finalAt: number;
  /** When the query that saw it returned. */
  seenAt: number;
}

async function runSaga(cluster: ServiceCluster, finals: FinalStates, args: Args, signal: AbortSignal): Promise<SagaSample> {
  const sample: SagaSample = { id: null, sentAt: Date.now(), acceptedAt: null, detectedAt: null, status: 'error', state: null, initAt: null, finalAt: null, hops: [] };
  try {
    // No shared AbortSignal on the requests: fetch would add a listener to it per request.
    const response = await post(finals.agent, `${cluster.url('vuelos')}/reservas`, RESERVA);
    const text = response.body;
    sample.acceptedAt = Date.now();
    if (response.status !== 202) throw new Error(`POST /reservas answered ${response.status}: ${text.slice(0, 200)}`);
    sample.id = (JSON.parse(text) as { id_correlacion: string }).id_correlacion;
    const row = await finals.wait(sample.id, args.timeoutMs - (Date.now() - sample.sentAt));
    if (signal.aborted) throw new Error('interrupted');
    if (!row) {
      sample.status = 'timeout';
      sample.error = `not final after ${args.timeoutMs} ms`;
      return sample;
    }
    sample.detectedAt = row.seenAt;
    sample.status = row.status;
    sample.state = row.state;
    sample.finalAt = row.finalAt;
    return sample;
  } catch (error) {
    if (signal.aborted) throw error;
    sample.error = (error as Error).message;
    return sample;
  }
}

/** Fills in each sample's start time and hops from its saga log, read after the run. */
async function readHops(finals: FinalStates, samples: SagaSample[]): Promise<void> {
  const logs = await finals.logs(samples.flatMap((s) => (s.id ? [s.id] : [])));
  for (const sample of samples) {
    const log = sample.id ? logs.get(sample.id) : undefined;
    if (!log) continue;
    sample.initAt = log.find((e) => e.kind === 'event' && e.type === 'xstate.init')?.at ?? null;
    sample.hops = hopsOf(sample.sentAt, log);
  }
}

/** `count` sagas, at most `concurrency` in flight (from POST until their final state is seen). */
async function runSagas(cluster: ServiceCluster, finals: FinalStates, count: number, args: Args, signal: AbortSignal, progress?: (done: number) => void): Promise<SagaSample[]> {
  const samples: SagaSample[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count && !signal.aborted) {
      next++;
      samples.push(await runSaga(cluster, finals, args, signal));
      progress?.(samples.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.concurrency, count) }, worker));
  return samples;
}

// ---------------------------------------------------------------------------------------
// Statistics and output

function statsRow(label: string, s: Stats | null, digits = 0): string[] {
  return [label, fmt(s?.n), fmt(s?.min, digits), fmt(s?.p50, digits), fmt(s?.p90, digits), fmt(s?.p99, digits), fmt(s?.max, digits), fmt(s?.mean, 1)];
}


// ---------------------------------------------------------------------------------------
// The run

/** Runs the benchmark and returns the process's exit code. */
export async function runPulsarBenchmark(argv: string[] = process.argv.slice(2)): Promise<number> {
  const args = parse(argv);
  const startedAt = Date.now();
  const loadAtStart = os.loadavg();

  const problem = await brokerProblem();
  if (problem) {
    console.error(`No Pulsar broker at ${PULSAR_URL} (${problem}).\nStart it with:  npm run pulsar -- start\nthen run again:  npm run bench -- --transport pulsar`);
    return 1;
  }
  let mariadbVersion: string;
  try {
    mariadbVersion = String(((await mysqlQuery('SELECT VERSION() AS v')) as { v: string }[])[0]?.v ?? '?');
  } catch (error) {
    console.error(`MariaDB/MySQL not reachable at ${MYSQL_URL} (${(error as Error).message}); set BENCH_MYSQL_URL or start it.`);
    return 1;
  }
  console.log(`Pulsar drivers, one after the other on this machine: ${args.drivers.join(', ')}`);
  const runs: DriverRun[] = [];
  for (const driver of args.drivers) {
    for (const coordinators of args.coordinators) {
      const run = await benchDriver(driver, args, mariadbVersion, startedAt, loadAtStart, coordinators);
      if (!run) return 1;
      runs.push(run);
    }
  }
  compare(runs);
  compareReplicas(runs);
  let peer: PeerResult | null = null;
  if (args.peer === 'restate') {
    // Ours is stopped by now (each driver's run stops its services): the peer has the machine.
    console.log(`\n## Restate, the same saga shape, ${args.sagas} sagas, ${args.concurrency} in flight (our services stopped)\n`);
    try {
      peer = await runRestatePeer({ sagas: args.sagas, concurrency: args.concurrency, warmup: args.warmup, timeoutMs: Math.max(120_000, args.timeoutMs), oneInFlight: args.oneInFlight, log: (line) => console.log(`  ${line}`) });
      console.log(formatPeerResult(peer));
      versusPeer(runs, peer);
    } catch (error) {
      console.error(`the Restate peer failed: ${(error as Error).stack ?? error}`);
      return 1;
    }
  }
  const json = {
    generatedAt: new Date().toISOString(),
    transport: 'pulsar',
    machine: { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadAverageAtStart: loadAtStart, loadAverageAtEnd: os.loadavg() },
    drivers: runs.map((r) => r.summary),
    ...(peer ? { peer, ratios: ratiosTo(runs, peer) } : {}),
    runs: runs.map((r) => r.json),
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  const text = JSON.stringify(round(json), null, 1).replace(/([{[])\n\s*([^{}[\]]*?)\n\s*([}\]])/g, (_, open: string, body: string, close: string) => `${open}${body.replace(/\n\s*/g, ' ')}${close}`);
  fs.writeFileSync(RESULTS, text + '\n');
  console.log(`\nwhole benchmark ${((Date.now() - startedAt) / 1000).toFixed(1)} s; JSON: ${path.relative(process.cwd(), RESULTS)}`);
  return runs.every((r) => r.summary.completed === args.sagas) ? 0 : 1;
}

/** Each driver's figures as ratios to the peer's in the same run, the way the targets are stated. */
function ratiosTo(runs: DriverRun[], peer: PeerResult) {
  const cpu = (r: Record<string, number | null>) => Object.entries(r).filter(([n]) => !n.startsWith('bench')).reduce((a, [, v]) => a + (v ?? 0), 0);
  return runs.map(({ summary: r }) => ({
    driver: r.driver,
    /** Target ≥ 1.0. */
    sagasPerSecond: r.sagasPerSecond / peer.sagasPerSecond,
    /** Target ≤ 2.0. */
    p99: (r.p99Ms ?? NaN) / (peer.p99Ms ?? NaN),
    p50: (r.p50Ms ?? NaN) / (peer.p50Ms ?? NaN),
    /** Target ≤ 1.0. */
    oneInFlightP50: (r.oneInFlightP50Ms ?? NaN) / (peer.oneInFlight.p50Ms ?? NaN),
    /** All processes of the system but the benchmark's own. */
    cpuMsPerSaga: cpu(r.cpuMsPerSaga) / cpu(peer.cpuMsPerSaga),
  }));
}

function versusPeer(runs: DriverRun[], peer: PeerResult): void {
  const cpu = (r: Record<string, number | null>) => Object.entries(r).filter(([n]) => !n.startsWith('bench')).reduce((a, [, v]) => a + (v ?? 0), 0);
  console.log('\n### This system and Restate, same machine, same saga shape, same count and concurrency, one after the other\n');
  console.log(
    table(
      ['system', 'completed', 'sagas/s', 'p50 ms', 'p99 ms', '1 in flight p50 ms', 'CPU ms/saga (all processes)'],
      [
        ...runs.map(({ summary: r }) => [`this project, ${r.driver} driver`, String(r.completed), fmt(r.sagasPerSecond, 1), fmt(r.p50Ms), fmt(r.p99Ms), fmt(r.oneInFlightP50Ms), fmt(cpu(r.cpuMsPerSaga), 1)]),
        [`restate ${peer.versions.server}`, String(peer.completed), fmt(peer.sagasPerSecond, 1), fmt(peer.p50Ms), fmt(peer.p99Ms), fmt(peer.oneInFlight.p50Ms), fmt(cpu(peer.cpuMsPerSaga), 1)],
      ],
    ),
  );
  console.log('\nRatios to Restate (targets: sagas/s ≥ 1.0, p99 ≤ 2.0, 1 in flight p50 ≤ 1.0):\n');
  console.log(
    table(
      ['driver', 'sagas/s', 'p50', 'p99', '1 in flight p50', 'CPU per saga'],
      ratiosTo(runs, peer).map((r) => [r.driver, fmt(r.sagasPerSecond, 2), fmt(r.p50, 2), fmt(r.p99, 2), fmt(r.oneInFlightP50, 2), fmt(r.cpuMsPerSaga, 2)]),
    ),
  );
}

/** One driver's figures, for the side-by-side table. */
interface DriverSummary {
  /** The driver, and the coordinator replicas when more than one (`native, 2 coordinators`). */
  driver: string;
  coordinators: number;
  completed: number;
  sagasPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** p50 latency with one saga in flight. */
  oneInFlightP50Ms: number | null;
  /** CPU milliseconds per completed saga, per process. */
  cpuMsPerSaga: Record<string, number | null>;
}

interface DriverRun {
  summary: DriverSummary;
  json: unknown;
}

/** Both drivers side by side: throughput, latency, and the CPU each process spent per saga. */
function compare(runs: DriverRun[]): void {
  if (runs.length < 2) return;
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.summary.cpuMsPerSaga)))].filter((n) => !n.startsWith('bench'));
  console.log('\n### The drivers side by side (same machine, one after the other)\n');
  console.log(
    table(
      ['driver', 'completed', 'sagas/s', 'p50 ms', 'p99 ms', ...names.map((n) => `CPU ms/saga ${n}`)],
      runs.map(({ summary: r }) => [r.driver, String(r.completed), fmt(r.sagasPerSecond, 1), fmt(r.p50Ms), fmt(r.p99Ms), ...names.map((n) => fmt(r.cpuMsPerSaga[n], 1))]),
    ),
  );
  const [a, b] = runs.map((r) => r.summary);
  console.log(`\n${b.driver} ÷ ${a.driver}: sagas/s ${fmt(b.sagasPerSecond / a.sagasPerSecond, 2)}, p50 ${fmt((b.p50Ms ?? NaN) / (a.p50Ms ?? NaN), 2)}, p99 ${fmt((b.p99Ms ?? NaN) / (a.p99Ms ?? NaN), 2)}`);
}

/**
 * Each driver with 1 and with more coordinator replicas (`--coordinators 1,2`): sagas/s and
 * where the CPU went, to show what a second coordinator buys on this machine.
 */
function compareReplicas(runs: DriverRun[]): void {
  const byDriver = new Map<string, DriverSummary[]>();
  for (const { summary } of runs) {
    const driver = summary.driver.split(',')[0];
    byDriver.set(driver, [...(byDriver.get(driver) ?? []), summary]);
  }
  for (const [driver, summaries] of byDriver) {
    if (summaries.length < 2) continue;
    const [one, ...more] = summaries;
    console.log(`\n### Coordinator replicas (${driver} driver, same machine, one run after the other)\n`);
    const cpu = (r: DriverSummary, prefix: string) => Object.entries(r.cpuMsPerSaga).filter(([n]) => n.startsWith(prefix)).reduce((a, [, v]) => a + (v ?? 0), 0);
    const total = (r: DriverSummary) => Object.entries(r.cpuMsPerSaga).filter(([n]) => !n.startsWith('bench')).reduce((a, [, v]) => a + (v ?? 0), 0);
    console.log(
      table(
        ['coordinators', 'sagas/s', 'p50 ms', 'p99 ms', 'CPU ms/saga coordinators', 'CPU ms/saga all processes'],
        summaries.map((r) => [String(r.coordinators), fmt(r.sagasPerSecond, 1), fmt(r.p50Ms), fmt(r.p99Ms), fmt(cpu(r, 'coordinator'), 1), fmt(total(r), 1)]),
      ),
    );
    for (const r of more) console.log(`${r.coordinators} ÷ ${one.coordinators} coordinators: sagas/s ${fmt(r.sagasPerSecond / one.sagasPerSecond, 2)}, p99 ${fmt((r.p99Ms ?? NaN) / (one.p99Ms ?? NaN), 2)}`);
  }
}

/** Runs the whole system over one driver, on its own namespace and database; null when it could not run. */
async function benchDriver(driver: Driver, args: Args, mariadbVersion: string, startedAt: number, loadAtStart: number[], coordinators = 1): Promise<DriverRun | null> {
  const label = coordinators > 1 ? `${driver}, ${coordinators} coordinators` : driver;
  const dbName = `saga_bench_pulsar_${process.pid}_${driver}_${coordinators}`;
  const databaseUrl = `${MYSQL_URL.replace(/\/+$/, '')}/${dbName}`;
  let namespace: string | null = null;
  let cluster: ServiceCluster | null = null;
  let finals: FinalStates | null = null;
  const abort = new AbortController();

  // Everything this run created is undone here, once: after the run, on an error, on Ctrl-C.
  let cleaning: Promise<void> | null = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      abort.abort();
      await finals?.close();
      if (cluster) {
        const stopped = cluster.stop().then(() => true);
        const inTime = await Promise.race([stopped, sleep(15_000).then(() => false)]);
        if (!inTime) console.warn('  services did not stop within 15 s of SIGTERM; sending SIGKILL');
      }
      // Also children left by a ServiceCluster.start that failed half-way (it returns no cluster then).
      for (const child of servicePids()) {
        try {
          process.kill(child.pid, cluster ? 'SIGKILL' : 'SIGTERM');
        } catch {
          // already gone
        }
      }
      await mysqlQuery(`DROP DATABASE IF EXISTS \`${dbName}\``).catch((error: Error) => console.warn(`  could not drop database ${dbName}: ${error.message}`));
      if (namespace) await deleteNamespace(namespace, PULSAR_URL).catch((error: Error) => console.warn(`  could not delete Pulsar namespace public/${namespace}: ${error.message}`));
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the services, dropping ${dbName}${namespace ? ` and deleting public/${namespace}` : ''}`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    await mysqlQuery(`DROP DATABASE IF EXISTS \`${dbName}\``);
    namespace = await freshNamespace(PULSAR_URL, 'bench');
    console.log(
      `\n## ${label}\n\nsaga benchmark over Pulsar (${label}): ${args.sagas} sagas (+${args.warmup} warm-up), ${args.concurrency} in flight, happy path, orchestration, ` +
        `each service its own process\n  broker ${PULSAR_URL} namespace public/${namespace}; MariaDB ${mariadbVersion} database ${dbName}`,
    );
    const t0 = Date.now();
    // Orchestration (the coordinator runs the saga), whatever SAGA_STYLE this shell has.
    cluster = await ServiceCluster.start({ databaseUrl, namespace, env: { SAGA_STYLE: 'orchestration', SAGA_PULSAR_DRIVER: driver }, nodeArgs: profiling(args, driver), replicas: { coordinator: coordinators } });
    const startupMs = Date.now() - t0;
    // Replicas of a service are told apart: coordinator, coordinator#2, …
    const pids = servicePids().map((p, i, all) => {
      const before = all.slice(0, i).filter((q) => q.name === p.name).length;
      return before === 0 ? p : { ...p, name: `${p.name}#${before + 1}` };
    });
    console.log(`  ${pids.length} service processes ready in ${(startupMs / 1000).toFixed(1)} s: ${pids.map((p) => `${p.name} ${p.pid}`).join(', ')}`);

    finals = new FinalStates(dbName, args.pollMs);
    await finals.open();
    if (args.warmup > 0) {
      const warm = await runSagas(cluster, finals, args.warmup, args, abort.signal);
      const ok = warm.filter((s) => s.status === 'completed').length;
      console.log(`  warm-up: ${ok}/${args.warmup} completed (not reported)`);
      if (ok === 0) throw new Error(`no warm-up saga completed: ${warm.find((s) => s.error)?.error ?? warm[0]?.status}`);
    }

    const broker = brokerPid();
    const database = mariadbPid(MYSQL_URL);
    const monitor = new ProcessMonitor([
      ...pids,
      ...(broker ? [{ name: 'pulsar broker (java)', pid: broker }] : []),
      ...(database ? [{ name: 'mariadbd', pid: database }] : []),
      { name: 'bench (this process)', pid: process.pid },
    ]);
    const statusBefore = await databaseStatus();
    const outputBefore = new Map(SERVICE_NAMES.map((name) => [name, cluster!.output.get(name)?.length ?? 0]));
    monitor.start();
    let lastShown = 0;
    const samples = await runSagas(cluster, finals, args.sagas, args, abort.signal, (done) => {
      if (process.stdout.isTTY && (done === args.sagas || Date.now() - lastShown > 500)) {
        lastShown = Date.now();
        process.stdout.write(`\r  ${done}/${args.sagas} sagas final`);
        if (done === args.sagas) process.stdout.write('\n');
      }
    });
    const processes = monitor.stop();
    const machineBusyPct = monitor.machineBusyPct;
    const queries = finals.queries;
    const statusAfter = await databaseStatus();
    const statements = Object.fromEntries(Object.keys(statusAfter).map((k) => [k, statusAfter[k] - (statusBefore[k] ?? 0)]));
    // One in flight: the latency of a saga alone on the system.
    const alone = args.oneInFlight > 0 ? await runSagas(cluster, finals, args.oneInFlight, { ...args, concurrency: 1 }, abort.signal) : [];
    await readHops(finals, [...samples, ...alone]);
    const topics = await topicCounters(namespace);
    // The broker's floor per hop, over this driver (and, native, with producer batching on, for the comparison).
    const floor = { [driver]: await brokerFloor(driver, namespace), ...(driver === 'native' ? { 'native, batching 1 ms': await brokerFloor(driver, namespace, 1) } : {}) };
    const serviceOutput = Object.fromEntries(
      SERVICE_NAMES.map((name) => [name, (cluster!.output.get(name) ?? []).slice(outputBefore.get(name)).join('').split('\n').filter((l) => l.trim() !== '')]),
    ) as Record<ServiceName, string[]>;

    return report({ driver: label, coordinators, args, samples, alone, queries, statements, topics, floor, processes, machineBusyPct, serviceOutput, startupMs, namespace, dbName, mariadbVersion, startedAt, loadAtStart });
  } catch (error) {
    if (!abort.signal.aborted) {
      console.error(`\nbenchmark failed: ${(error as Error).stack ?? error}`);
      if (cluster) {
        for (const name of SERVICE_NAMES) {
          const lines = (cluster.output.get(name) ?? []).join('').split('\n').slice(-15).join('\n');
          if (lines.trim()) console.error(`--- ${name}, last output:\n${lines}`);
        }
      }
    }
    return null;
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The services' node arguments when `--cpu-prof DIR` is given: each writes its profile on exit. */
function profiling(args: Args, driver: Driver): string[] {
  const extra = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  if (!args.cpuProfDir) return extra;
  const dir = path.join(args.cpuProfDir, driver);
  fs.mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

function report(run: {
  /** The driver, with the coordinator replicas when more than one. */
  driver: string;
  coordinators: number;
  args: Args;
  samples: SagaSample[];
  /** Sagas run one at a time after the measured run. */
  alone: SagaSample[];
  /** Final-state queries during the measured run. */
  queries: number;
  /** MariaDB's statement counters over the measured run (the server's, all clients). */
  statements: Record<string, number>;
  /** Messages the broker took in, per topic, over the whole run (warm-up included). */
  topics: Record<string, number>;
  /** The broker's floor per hop (`brokerFloor`), by driver setting. */
  floor: Record<string, { publishMs: Stats | null; handlerMs: Stats | null }>;
  processes: ProcessReport[];
  machineBusyPct: number | null;
  serviceOutput: Record<ServiceName, string[]>;
  startupMs: number;
  namespace: string;
  dbName: string;
  mariadbVersion: string;
  startedAt: number;
  loadAtStart: number[];
}): DriverRun {
  const { args, samples, processes, serviceOutput } = run;
  const completed = samples.filter((s) => s.status === 'completed');
  const notCompleted = samples.filter((s) => s.status !== 'completed');
  const byStatus: Record<string, number> = {};
  for (const s of samples) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;

  const firstSent = Math.min(...samples.map((s) => s.sentAt));
  const final = completed.filter((s) => s.finalAt !== null);
  const lastFinal = Math.max(...final.map((s) => s.finalAt!));
  const lastDetected = Math.max(...samples.map((s) => s.detectedAt ?? s.sentAt));
  const wallDetectedMs = lastDetected - firstSent;
  const wallMs = final.length > 0 ? lastFinal - firstSent : wallDetectedMs;
  const perSecond = (completed.length * 1000) / wallMs;

  const latency = stats(final.map((s) => s.finalAt! - s.sentAt));
  const detected = stats(completed.filter((s) => s.detectedAt !== null).map((s) => s.detectedAt! - s.sentAt));
  const accepted = stats(samples.filter((s) => s.acceptedAt !== null).map((s) => s.acceptedAt! - s.sentAt));
  const pollError = stats(final.filter((s) => s.detectedAt !== null).map((s) => s.detectedAt! - s.finalAt!));
  const queriesPerSecond = (run.queries * 1000) / wallDetectedMs;
  const aloneDone = run.alone.filter((s) => s.status === 'completed' && s.finalAt !== null);
  const aloneLatency = stats(aloneDone.map((s) => s.finalAt! - s.sentAt));

  // Same clock: every process is on this host. Causality checks it anyway.
  const withInit = samples.filter((s) => s.initAt !== null);
  const initAfterPost = withInit.filter((s) => s.initAt! >= s.sentAt).length;
  const finalBeforeSeen = final.filter((s) => s.detectedAt !== null && s.finalAt! <= s.detectedAt).length;
  const clockOk = initAfterPost === withInit.length && finalBeforeSeen === final.length;

  const hopNames: string[] = [];
  const hopValues = new Map<string, number[]>();
  for (const s of completed) {
    for (const [name, ms] of s.hops) {
      if (!hopValues.has(name)) (hopNames.push(name), hopValues.set(name, []));
      hopValues.get(name)!.push(ms);
    }
  }
  const hops = hopNames.map((name) => ({ name, ...stats(hopValues.get(name)!)! }));
  const hopMeanSum = hops.reduce((a, h) => a + h.mean, 0);

  console.log(`\n### ${args.sagas} reservation sagas over Pulsar, ${args.concurrency} in flight, every service its own process\n`);
  console.log(
    table(
      ['completed', 'not completed', 'wall s (1st POST → last final state)', 'completed sagas/s', 'wall s (until last poll saw it)', 'sagas/s by that wall'],
      [[`${completed.length}/${samples.length}`, notCompleted.length === 0 ? '0' : JSON.stringify(Object.fromEntries(Object.entries(byStatus).filter(([k]) => k !== 'completed'))), (wallMs / 1000).toFixed(2), fmt(perSecond, 1), (wallDetectedMs / 1000).toFixed(2), fmt((completed.length * 1000) / wallDetectedMs, 1)]],
      0,
    ),
  );
  console.log('\nLatency, ms:\n');
  console.log(
    table(
      ['', 'n', 'min', 'p50', 'p90', 'p99', 'max', 'mean'],
      [
        statsRow('POST sent → final state (saga log `at`)', latency),
        statsRow(`POST sent → final state seen (one query every ${args.pollMs} ms)`, detected),
        statsRow('POST sent → 202 read', accepted),
        statsRow('final state `at` → query that saw it', pollError),
        statsRow(`one saga in flight: POST sent → final state (${run.alone.length} sagas after the run)`, aloneLatency),
      ],
    ),
  );
  console.log(
    `\nThe first row is the figure: the coordinator's Date.now() when it applied the saga's last event (\`updated_at\` of
the saga's row), minus Date.now() here right before the POST; it is taken before that transaction's COMMIT, so the
saga is durable a few ms later. The "seen" row adds the granularity of learning it: one query every ${args.pollMs} ms reads the
rows of all sagas in flight by primary key, straight from MariaDB (${fmt(queriesPerSecond)} queries/s, a few rows each; no request reaches
the coordinator). Clock check (all processes on this host, one system clock): xstate.init at or after the POST for
${initAfterPost}/${withInit.length}, final \`at\` at or before the query that saw it for ${finalBeforeSeen}/${final.length}${clockOk ? '' : '  <-- CLOCKS DISAGREE, latencies not trustworthy'}.`,
  );

  console.log('\n### Where the time goes (per saga, from the saga log and the participants\' timestamps in their replies)\n');
  console.log(
    table(
      ['segment', 'n', 'min', 'p50', 'p90', 'p99', 'max', 'mean', '% of mean'],
      hops.map((h) => [...statsRow(h.name, h), latency ? `${((100 * h.mean) / latency.mean).toFixed(0)}%` : '-']),
    ),
  );
  console.log(
    `
sum of the segments' means ${fmt(hopMeanSum, 1)} ms = mean latency ${fmt(latency?.mean, 1)} ms (the final state's \`at\` is that of ReservaAprobada's transition).
coordinator → participant: from the coordinator's \`now\` for the transition that wrote the command (taken at the start of its
  apply, before writes and COMMIT) to the participant's \`now\` in its handler (after its BEGIN and reads): the coordinator's
  writes + COMMIT, outbox relay, publish to the broker (persisted, acknowledged), dispatch to the participant's consumer.
participant → coordinator: the participant's writes + COMMIT, its relay, publish, dispatch, the coordinator's BEGIN and reads.`,
  );

  console.log('\n### Processes during the measured run\n');
  console.log(
    table(
      ['process', 'pid', 'RSS MB at end', 'peak RSS MB', 'CPU s', 'CPU % of one core'],
      processes.map((p) => [p.name, String(p.pid), fmt(p.rssMb), fmt(p.peakRssMb), fmt(p.cpuSeconds, 1), fmt(p.cpuPctOfOneCore)]),
    ),
  );
  const total = processes.reduce((a, p) => a + (p.cpuPctOfOneCore ?? 0), 0);
  const cpus = os.cpus().length;
  console.log(
    `\nall of them: ${fmt(total)}% of one core; the whole machine was busy ${fmt(run.machineBusyPct)}% of ${fmt(100 * cpus)}% (${cpus} cores), so other processes took ` +
      `${fmt(run.machineBusyPct === null ? null : Math.max(0, run.machineBusyPct - total))}%. mariadbd's CPU includes other clients of that server, if any.\n` +
      `RSS and CPU are read from /proc (what ps -o rss=,times= show); RSS sampled every 250 ms.`,
  );
  const perSaga = (n: number) => fmt(n / Math.max(1, completed.length), 1);
  console.log(
    `\nMariaDB statements per completed saga (server counters over the measured run): ${Object.entries(run.statements)
      .map(([k, v]) => `${k} ${perSaga(v)}`)
      .join(', ')}`,
  );
  const brokerIn = Object.values(run.topics).reduce((a, b) => a + b, 0);
  const allSagas = args.sagas + args.warmup + run.alone.length;
  console.log(
    `Messages the broker took in, per saga (whole run, ${allSagas} sagas): ${fmt(brokerIn / allSagas, 1)} (${Object.entries(run.topics)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${fmt(v / allSagas, 1)}`)
      .join(', ')})`,
  );
  console.log('\nThe broker alone, one message at a time (publish → acknowledged by the broker, and → in the consumer\'s handler), ms:\n');
  console.log(
    table(
      ['', 'n', 'min', 'p50', 'p90', 'p99', 'max', 'mean'],
      Object.entries(run.floor).flatMap(([setting, f]) => [statsRow(`${setting}: publish acknowledged`, f.publishMs, 1), statsRow(`${setting}: publish → handler`, f.handlerMs, 1)]),
    ),
  );
  // notificaciones logs one line per e-mail; what matters is failures, retries and negative acks.
  const problems = Object.fromEntries(SERVICE_NAMES.map((name) => [name, serviceOutput[name].filter((l) => PROBLEM.test(l))])) as Record<ServiceName, string[]>;
  const noisy = SERVICE_NAMES.filter((name) => problems[name].length > 0);
  console.log(`service output lines about errors/retries/negative acks during the run: ${noisy.length === 0 ? 'none' : noisy.map((n) => `${n} ${problems[n].length}`).join(', ')}`);
  for (const name of noisy) console.log(`  ${name}: ${problems[name].slice(0, 3).map((l) => l.slice(0, 200)).join('\n    ')}`);
  for (const s of notCompleted.slice(0, 5)) console.log(`  not completed: ${s.id ?? '(no id)'} ${s.status} ${s.state ?? ''} ${s.error ?? ''}`);
  const loadAtEnd = os.loadavg();
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`load average (1/5/15 min) at start ${load(run.loadAtStart)}, at end ${load(loadAtEnd)}: other processes on this machine add noise.`);
  console.log(`services started in ${(run.startupMs / 1000).toFixed(1)} s`);

  const json = {
    driver: run.driver,
    coordinators: run.coordinators,
    generatedAt: new Date().toISOString(),
    transport: 'pulsar',
    machine: { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus, cpu: os.cpus()[0]?.model, loadAverageAtStart: run.loadAtStart, loadAverageAtEnd: loadAtEnd },
    setup: { broker: PULSAR_URL, namespace: `public/${run.namespace}`, mariadb: run.mariadbVersion, database: run.dbName, services: SERVICE_NAMES, servicesStartupMs: run.startupMs },
    options: { sagas: args.sagas, concurrency: args.concurrency, pollMs: args.pollMs, warmup: args.warmup, timeoutMs: args.timeoutMs, path: 'happy', style: 'orchestration' },
    definitions: {
      latencyMs: "saga log `at` of the last state entry (coordinator Date.now() when it applied the last event, before COMMIT) minus Date.now() right before POST /reservas was sent; same host, same clock",
      detectedMs: 'Date.now() when the GET /sagas/:id poll that saw a final state returned, minus the POST send time',
      sagasPerSecond: 'completed sagas ÷ (last final-state `at` − first POST sent)',
      hops: "segments between saga log `at`s and the participants' handler `now` carried in their replies",
    },
    result: {
      sagas: samples.length,
      completed: completed.length,
      notCompleted: notCompleted.length,
      byStatus,
      wallMs,
      wallUntilDetectedMs: wallDetectedMs,
      sagasPerSecond: perSecond,
      latencyMs: latency,
      detectedMs: detected,
      acceptedMs: accepted,
      pollErrorMs: pollError,
      finalStateQueriesPerSecond: queriesPerSecond,
      oneInFlightMs: aloneLatency,
      clockCheck: { initAtOrAfterPost: initAfterPost, withInit: withInit.length, finalAtOrBeforeSeen: finalBeforeSeen, final: final.length, ok: clockOk },
    },
    hops,
    processes,
    brokerFloorMs: run.floor,
    databaseStatementsPerSaga: Object.fromEntries(Object.entries(run.statements).map(([k, v]) => [k, v / Math.max(1, completed.length)])),
    brokerMessagesInPerSaga: Object.fromEntries(Object.entries(run.topics).map(([k, v]) => [k, v / allSagas])),
    machineBusyPctOfOneCore: run.machineBusyPct,
    serviceOutputLines: Object.fromEntries(SERVICE_NAMES.map((name) => [name, { all: serviceOutput[name].length, problems: problems[name].length }])),
    failures: notCompleted.slice(0, 20).map(({ id, status, state, error }) => ({ id, status, state, error })),
  };
  const summary: DriverSummary = {
    driver: run.driver,
    coordinators: run.coordinators,
    completed: completed.length,
    sagasPerSecond: perSecond,
    p50Ms: latency?.p50 ?? null,
    p99Ms: latency?.p99 ?? null,
    oneInFlightP50Ms: aloneLatency?.p50 ?? null,
    cpuMsPerSaga: Object.fromEntries(processes.map((p) => [p.name, p.cpuSeconds === null || completed.length === 0 ? null : (1000 * p.cpuSeconds) / completed.length])),
  };
  return { summary, json };
}

/**
 * The Restate peer of the saga benchmark: the same saga shape (crear → pagar → confirmar →
 * aprobar, compensations newest first) on Restate, with the same count and concurrency, so
 * `npm run bench -- --peer restate` can print both rows and their ratios.
 *
 * Restate comes from npm, pinned in bench/peer/restate/package.json and installed there on
 * demand, never into the project's dependencies. This file only starts processes and speaks
 * HTTP to them: it must not import the SDK (tsc never sees it; services.mjs does).
 *
 * Standalone: `npx tsx bench/peer/restate.ts --sagas 200 --concurrency 20`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fmt, stats, table } from '../figures.ts';

const PEER_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'restate');
const CONFIG = path.join(PEER_DIR, 'restate.toml');
const SERVICES = path.join(PEER_DIR, 'services.mjs');
/** Written into node_modules after an install: the hash of the manifest and lock it installed. */
const STAMP = path.join(PEER_DIR, 'node_modules', '.bench-peer-stamp');
const HOST = '127.0.0.1';
/** The services' HTTP/2 port (restate.toml has the server's own). */
const SERVICE_PORT = 19080;

export interface PeerOptions {
  sagas: number;
  /** Sagas in flight at most. */
  concurrency: number;
  /** Sagas run (at the same concurrency) and thrown away before the measured run. */
  warmup: number;
  /** Deadline for each run (warm-up, measured, one in flight), from its first request. */
  timeoutMs: number;
  /** Sagas of the 1-in-flight run; 50 unless given, 0 skips it. */
  oneInFlight?: number;
  log?: (line: string) => void;
}

export interface PeerResult {
  system: 'restate';
  versions: { server: string; sdk: string };
  /** Sagas of the measured run that answered estado 'completada'. */
  completed: number;
  sagas: number;
  /** Completed ÷ (last answer − first request sent) of the measured run. */
  sagasPerSecond: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  oneInFlight: { n: number; p50Ms: number | null; p99Ms: number | null };
  /** CPU (user + system) over the measured run ÷ completed sagas, per process. */
  cpuMsPerSaga: Record<string, number>;
  /** Largest RSS sampled (every 250 ms) from the server's start to the end of the last run. */
  peakRssMb: Record<string, number>;
  /** The measured run, first request sent to last answer. */
  wallMs: number;
  /** The whole machine's busy CPU during the measured run, in % of one core (others' load shows here). */
  machineBusyPctOfOneCore: number | null;
  /**
   * CPU of processes Restate does not use (MariaDB, a Pulsar broker) during the measured run,
   * ms per saga: a check that they idled, never counted in cpuMsPerSaga.
   */
  notCountedCpuMsPerSaga: Record<string, number>;
  /** How long the on-demand install took; 0 when node_modules was already current. */
  installMs: number;
  ports: { ingress: number; admin: number; fabric: number; services: number };
  /** Up to 10 distinct reasons sagas of the measured run did not complete. */
  failures: string[];
}

// ---------------------------------------------------------------------------------------
// Install on demand

function installStamp(): string {
  const hash = createHash('sha256');
  for (const file of ['package.json', 'package-lock.json']) hash.update(fs.readFileSync(path.join(PEER_DIR, file)));
  return hash.digest('hex');
}

function serverBinary(): string {
  return path.join(PEER_DIR, 'node_modules', '@restatedev', `restate-server-${os.platform()}-${os.arch()}`, 'bin', 'restate-server');
}

/**
 * `npm ci` into bench/peer/restate when node_modules is missing or was installed from
 * another lock. Scripts are skipped: the server binary ships inside its package, and the
 * only install script (@scarf/scarf) is download analytics.
 */
async function ensureInstalled(log: (line: string) => void): Promise<number> {
  const stamp = installStamp();
  const current = fs.existsSync(STAMP) && fs.readFileSync(STAMP, 'utf8').trim() === stamp;
  if (current && fs.existsSync(serverBinary())) return 0;
  log(`restate peer: installing the pinned server and SDK into ${path.relative(process.cwd(), PEER_DIR) || '.'} (npm ci)`);
  const started = performance.now();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(npm, ['ci', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: PEER_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`npm ci in ${PEER_DIR} exited with ${code}:\n${output.join('').slice(-2000)}`);
  if (!fs.existsSync(serverBinary())) throw new Error(`npm ci installed no restate-server binary for ${os.platform()}-${os.arch()} (${serverBinary()})`);
  fs.writeFileSync(STAMP, stamp + '\n');
  const ms = performance.now() - started;
  log(`restate peer: installed in ${(ms / 1000).toFixed(1)} s`);
  return ms;
}

function installedVersion(pkg: string): string {
  return (JSON.parse(fs.readFileSync(path.join(PEER_DIR, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The ports restate.toml sets: one source of truth for the server and for this file. */
function configPorts(): { ingress: number; admin: number; fabric: number } {
  const ports: Record<string, number> = {};
  let section = '';
  for (const raw of fs.readFileSync(CONFIG, 'utf8').split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) section = header[1];
    const port = /^bind-port\s*=\s*(\d+)$/.exec(line);
    if (port) ports[section || 'fabric'] = Number(port[1]);
  }
  if (!ports.ingress || !ports.admin || !ports.fabric) throw new Error(`${CONFIG} must set bind-port at the top level and under [ingress] and [admin]`);
  return { ingress: ports.ingress, admin: ports.admin, fabric: ports.fabric };
}

// ---------------------------------------------------------------------------------------
// /proc: CPU and RSS

const CLK_TCK = 100; // USER_HZ on Linux on every architecture Node supports

interface ProcStat {
  ppid: number;
  cpuSeconds: number;
}

function procStat(pid: number): ProcStat | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLK_TCK }; // ppid, utime, stime
  } catch {
    return null;
  }
}

/** Parent → children of every process alive now: one pass over /proc. */
function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(entry)]);
  }
  return children;
}

/** The pid and its descendants. */
function processTree(root: number, children: Map<number, number[]>): number[] {
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

function rssKb(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function machineBusySeconds(): number | null {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return (fields.reduce((a, b) => a + b, 0) - fields[3] - fields[4]) / CLK_TCK; // all but idle and iowait
  } catch {
    return null;
  }
}

/** Processes Restate does not use but that may share the machine: MariaDB and a Pulsar broker. */
function bystanders(): Record<string, number> {
  const found: Record<string, number> = {};
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (comm === 'mariadbd' || comm === 'mysqld') found[comm] = Number(entry);
      else if (comm === 'java' && /org\.apache\.pulsar/.test(fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8'))) found['pulsar-broker'] = Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * What each process counts as: restate-server with its descendants (it has none today, but a
 * helper it forked would be its cost), the services process, and this process alone (its
 * children are the other two).
 */
interface Watched {
  name: string;
  pid: number;
  tree: boolean;
}

function cpuSecondsOf(watched: Watched[]): number[] {
  const children = childrenByParent();
  return watched.map((w) => (w.tree ? processTree(w.pid, children) : [w.pid]).reduce((sum, pid) => sum + (procStat(pid)?.cpuSeconds ?? 0), 0));
}

class RssSampler {
  readonly peakKb = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly watched: Watched[]) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 250);
    this.timer.unref();
  }

  sample(): void {
    const children = childrenByParent();
    for (const w of this.watched) {
      const kb = (w.tree ? processTree(w.pid, children) : [w.pid]).reduce((sum, pid) => sum + rssKb(pid), 0);
      this.peakKb.set(w.name, Math.max(kb, this.peakKb.get(w.name) ?? 0));
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}

// ---------------------------------------------------------------------------------------
// Processes: start, wait, stop, clean up

interface Started {
  name: string;
  child: ChildProcess;
  /** The last output lines, shown when something fails. */
  tail: string[];
  exited: Promise<void>;
}

function start(name: string, command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Started {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const keep = (d: Buffer) => {
    tail.push(...d.toString().split('\n').filter((l) => l.trim()));
    tail.splice(0, Math.max(0, tail.length - 40));
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (error) => tail.push(`spawn failed: ${error.message}`));
  return { name, child, tail, exited };
}

function alive(p: Started): boolean {
  return p.child.exitCode === null && p.child.signalCode === null && p.child.pid !== undefined;
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
async function stop(p: Started, graceMs = 10_000): Promise<void> {
  if (!alive(p)) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => alive(p) && p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `probe` returns true; fails early if one of `watch` exits. */
async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number, watch: Started[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = watch.find((p) => !alive(p));
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}:\n${dead.tail.join('\n')}`);
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

// ---------------------------------------------------------------------------------------
// HTTP

interface Reply {
  status: number;
  body: string;
}

function request(agent: http.Agent, method: string, port: number, urlPath: string, body?: unknown, timeoutMs = 30_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { host: HOST, port, path: urlPath, method, agent, timeout: timeoutMs, headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Like our bench's input: one customer, one itinerary, the amounts with VAT. */
const SAGA_INPUT = { id_cliente: 'cliente-bench', monto: 250, monto_vat: 47.5, itinerarios: [{ origen: 'BOG', destino: 'MDE', fecha: '2026-12-24' }] };

interface RunResult {
  sagas: number;
  completed: number;
  latenciesMs: number[];
  wallMs: number;
  failures: string[];
}

/**
 * `sagas` sagas, at most `concurrency` in flight: each one HTTP request to the ingress that
 * calls reserva/ejecutar and answers when the saga has ended, with its final result.
 */
async function runSagas(agent: http.Agent, ingressPort: number, sagas: number, concurrency: number, timeoutMs: number): Promise<RunResult> {
  const latenciesMs: number[] = [];
  const failures = new Map<string, number>();
  let next = 0;
  let firstSent = Infinity;
  let lastDone = 0;
  const started = performance.now();
  const deadline = started + timeoutMs;
  const worker = async () => {
    while (next < sagas && performance.now() < deadline) {
      next++;
      const sent = performance.now();
      firstSent = Math.min(firstSent, sent);
      let reason: string | null = null;
      try {
        const reply = await request(agent, 'POST', ingressPort, '/reserva/ejecutar', SAGA_INPUT, Math.max(1, deadline - sent));
        const done = performance.now();
        const estado = reply.status === 200 ? (JSON.parse(reply.body) as { estado?: string }).estado : undefined;
        if (estado === 'completada') {
          latenciesMs.push(done - sent);
          lastDone = Math.max(lastDone, done);
        } else reason = reply.status === 200 ? `estado ${estado}` : `HTTP ${reply.status}: ${reply.body.slice(0, 200)}`;
      } catch (error) {
        reason = (error as Error).message;
      }
      if (reason !== null) failures.set(reason, (failures.get(reason) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, sagas)) }, worker));
  return {
    sagas,
    completed: latenciesMs.length,
    latenciesMs,
    wallMs: latenciesMs.length > 0 ? lastDone - firstSent : performance.now() - started,
    failures: [...failures].slice(0, 10).map(([reason, n]) => `${n}× ${reason}`),
  };
}

// ---------------------------------------------------------------------------------------
// The peer run

/**
 * Runs the saga benchmark on Restate: installs the pinned server and SDK on demand, starts
 * restate-server on a fresh temp base dir and the services process, registers the
 * deployment, runs the warm-up, the measured run and a 1-in-flight run, then stops both
 * processes and deletes the temp dir (also when it fails or on SIGINT/SIGTERM). Nothing of
 * ours runs meanwhile: the caller stops our system first. CPU is read from /proc for
 * restate-server (with any descendants), the services process and this process; MariaDB and
 * a Pulsar broker are only reported apart, as a check that they idled.
 *
 * @example
 * const r = await runRestatePeer({ sagas: 200, concurrency: 20, warmup: 20, timeoutMs: 120_000, log: console.log });
 * console.log(`${r.sagasPerSecond.toFixed(1)} sagas/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`);
 */
export async function runRestatePeer(options: PeerOptions): Promise<PeerResult> {
  const log = options.log ?? (() => {});
  const installMs = await ensureInstalled(log);
  const versions = { server: installedVersion('@restatedev/restate-server'), sdk: installedVersion('@restatedev/restate-sdk') };
  const ports = { ...configPorts(), services: SERVICE_PORT };
  for (const [name, port] of Object.entries(ports)) {
    if (!(await portFree(port))) throw new Error(`port ${port} (${name}) on ${HOST} is taken: is a restate-server or services.mjs from another run still up?`);
  }

  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'restate-peer-'));
  const processes: Started[] = [];
  // A signal must not leave the server running or its data behind: kill, delete, then let
  // the signal do what it would have done (other listeners, if any, decide that).
  const onSignal = (signal: NodeJS.Signals) => {
    for (const p of processes) if (alive(p)) p.child.kill('SIGKILL');
    fs.rmSync(baseDir, { recursive: true, force: true, maxRetries: 10 });
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(1, options.concurrency) });
  let rss: RssSampler | null = null;
  try {
    log(`restate peer: restate-server ${versions.server}, SDK ${versions.sdk}; ingress ${ports.ingress}, admin ${ports.admin}, fabric ${ports.fabric}, services ${ports.services}; base dir ${baseDir}`);
    const server = start('restate-server', serverBinary(), ['--config-file', CONFIG, '--base-dir', baseDir, '--no-logo', '--log-disable-ansi-codes', 'true'], { cwd: baseDir, env: process.env });
    processes.push(server);
    await waitFor('the Restate admin API', async () => (await request(agent, 'GET', ports.admin, '/health', undefined, 2_000)).status === 200, 60_000, [server]);
    await waitFor('the Restate ingress', async () => (await request(agent, 'GET', ports.ingress, '/restate/health', undefined, 2_000)).status === 200, 60_000, [server]);

    // No tsx loader in the services process: it is plain JS and its CPU is measured.
    const env: NodeJS.ProcessEnv = { ...process.env, RESTATE_PEER_SERVICE_PORT: String(ports.services), RESTATE_LOGGING: 'WARN' };
    delete env.NODE_OPTIONS;
    const services = start('restate-services', process.execPath, [SERVICES], { cwd: PEER_DIR, env });
    processes.push(services);
    await waitFor('the services process', () => new Promise((resolve) => net.connect(ports.services, HOST).once('connect', function (this: net.Socket) { this.end(); resolve(true); }).once('error', () => resolve(false))), 30_000, [server, services]);

    const registered = await request(agent, 'POST', ports.admin, '/deployments', { uri: `http://${HOST}:${ports.services}` });
    if (registered.status !== 201 && registered.status !== 200) throw new Error(`registering the deployment: HTTP ${registered.status} ${registered.body}`);
    // The ingress learns new services asynchronously: one saga end to end says it has.
    await waitFor('the reserva service at the ingress', async () => (await runSagas(agent, ports.ingress, 1, 1, 10_000)).completed === 1, 30_000, [server, services]);

    const watched: Watched[] = [
      { name: 'restate-server', pid: server.child.pid!, tree: true },
      { name: 'restate-services', pid: services.child.pid!, tree: true },
      { name: 'bench', pid: process.pid, tree: false },
    ];
    rss = new RssSampler(watched);

    if (options.warmup > 0) {
      const warm = await runSagas(agent, ports.ingress, options.warmup, options.concurrency, options.timeoutMs);
      log(`restate peer: warm-up ${warm.completed}/${warm.sagas} sagas`);
    }

    const others = bystanders();
    const othersBefore = Object.fromEntries(Object.entries(others).map(([name, pid]) => [name, procStat(pid)?.cpuSeconds ?? null]));
    const cpuBefore = cpuSecondsOf(watched);
    const machineBefore = machineBusySeconds();
    const measured = await runSagas(agent, ports.ingress, options.sagas, options.concurrency, options.timeoutMs);
    const cpuAfter = cpuSecondsOf(watched);
    const machineAfter = machineBusySeconds();
    const othersAfter = Object.fromEntries(Object.entries(others).map(([name, pid]) => [name, procStat(pid)?.cpuSeconds ?? null]));
    const perSaga = (seconds: number) => (measured.completed > 0 ? (1000 * seconds) / measured.completed : NaN);
    log(`restate peer: measured ${measured.completed}/${measured.sagas} sagas in ${(measured.wallMs / 1000).toFixed(1)} s`);

    const n = options.oneInFlight ?? 50;
    const single = n > 0 ? await runSagas(agent, ports.ingress, n, 1, options.timeoutMs) : null;
    rss.stop();
    const latency = stats(measured.latenciesMs);
    const alone = single ? stats(single.latenciesMs) : null;

    return {
      system: 'restate',
      versions,
      completed: measured.completed,
      sagas: measured.sagas,
      sagasPerSecond: measured.completed > 0 ? (1000 * measured.completed) / measured.wallMs : 0,
      p50Ms: latency?.p50 ?? null,
      p90Ms: latency?.p90 ?? null,
      p99Ms: latency?.p99 ?? null,
      oneInFlight: { n: single?.completed ?? 0, p50Ms: alone?.p50 ?? null, p99Ms: alone?.p99 ?? null },
      cpuMsPerSaga: Object.fromEntries(watched.map((w, i) => [w.name, perSaga(cpuAfter[i] - cpuBefore[i])])),
      peakRssMb: Object.fromEntries([...rss.peakKb].map(([name, kb]) => [name, kb / 1024])),
      wallMs: measured.wallMs,
      machineBusyPctOfOneCore: machineBefore !== null && machineAfter !== null && measured.wallMs > 0 ? (100 * (machineAfter - machineBefore)) / (measured.wallMs / 1000) : null,
      notCountedCpuMsPerSaga: Object.fromEntries(
        Object.keys(others)
          .filter((name) => othersBefore[name] !== null && othersAfter[name] !== null)
          .map((name) => [name, perSaga(othersAfter[name]! - othersBefore[name]!)]),
      ),
      installMs,
      ports,
      failures: measured.failures,
    };
  } catch (error) {
    for (const p of processes) if (p.tail.length > 0) log(`restate peer: last output of ${p.name}:\n${p.tail.slice(-15).join('\n')}`);
    throw error;
  } finally {
    rss?.stop();
    agent.destroy();
    // Services first, so the server does not log retries against a vanished deployment.
    for (const p of [...processes].reverse()) await stop(p);
    fs.rmSync(baseDir, { recursive: true, force: true, maxRetries: 10 });
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

// ---------------------------------------------------------------------------------------
// CLI

/** The result as the markdown tables the bench prints. */
export function formatPeerResult(r: PeerResult): string {
  const names = Object.keys(r.cpuMsPerSaga);
  return [
    table(
      ['system', 'completed', 'sagas/s', 'p50 ms', 'p90 ms', 'p99 ms', '1 in flight p50 ms', '1 in flight p99 ms', ...names.map((n) => `CPU ms/saga ${n}`)],
      [[`restate ${r.versions.server} (SDK ${r.versions.sdk})`, `${r.completed}/${r.sagas}`, fmt(r.sagasPerSecond, 1), fmt(r.p50Ms), fmt(r.p90Ms), fmt(r.p99Ms), fmt(r.oneInFlight.p50Ms), fmt(r.oneInFlight.p99Ms), ...names.map((n) => fmt(r.cpuMsPerSaga[n], 1))]],
    ),
    '',
    table(['process', 'peak RSS MB', 'CPU ms/saga'], names.map((n) => [n, fmt(r.peakRssMb[n]), fmt(r.cpuMsPerSaga[n], 1)])),
    '',
    `wall ${fmt(r.wallMs)} ms; the machine was busy ${fmt(r.machineBusyPctOfOneCore)}% of one core (${os.cpus().length} cores)` +
      (Object.keys(r.notCountedCpuMsPerSaga).length > 0
        ? `; not counted (Restate does not use them): ${Object.entries(r.notCountedCpuMsPerSaga).map(([n, ms]) => `${n} ${fmt(ms, 1)} ms/saga`).join(', ')}`
        : ''),
    ...(r.failures.length > 0 ? [`failures: ${r.failures.join('; ')}`] : []),
  ].join('\n');
}

function parseArgs(argv: string[]): PeerOptions & { json: boolean } {
  const options = { sagas: 200, concurrency: 20, warmup: 20, timeoutMs: 120_000, oneInFlight: 50, json: false };
  const numbers: Record<string, keyof typeof options> = { '--sagas': 'sagas', '--concurrency': 'concurrency', '--warmup': 'warmup', '--timeout-ms': 'timeoutMs', '--one-in-flight': 'oneInFlight' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    if (flag === '--json') options.json = true;
    else if (flag in numbers) {
      const value = Number(inline ?? argv[++i]);
      if (!Number.isInteger(value) || value < 0) throw new Error(`${flag} needs a whole number`);
      (options as Record<string, number | boolean>)[numbers[flag]] = value;
    } else throw new Error(`unknown argument ${argv[i]} (known: ${Object.keys(numbers).join(' ')} --json)`);
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const args = parseArgs(process.argv.slice(2));
  runRestatePeer({ ...args, log: (line) => console.error(line) })
    .then((result) => {
      console.log(args.json ? JSON.stringify(result, null, 1) : formatPeerResult(result));
      process.exitCode = result.completed === result.sagas ? 0 : 1;
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    });
}

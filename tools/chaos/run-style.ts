import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { SERVICE_NAMES, type ServiceName } from '../../services/config.ts';
import { deleteNamespace, freshNamespace, ServiceCluster, type UnexpectedExit } from '../cluster/service-cluster.ts';
import type { BrokerControl } from './broker.ts';
import { ReservationClient, type Reservation } from './client.ts';
import { DlqAudit } from './dlq-audit.ts';
import { SCENARIOS, type Scenario, type Style } from './expectations.ts';
import { injectFault, type FaultContext, type FaultRecord } from './faults.ts';
import { checkInvariants, type Invariants, type Observed } from './invariants.ts';
import { Load, scenarioPicker, seeded, shuffle } from './load.ts';
import { POISON_TOPICS, publishPoison, type Poison } from './poison.ts';
import { waitForQuiescence, type Quiescence } from './quiescence.ts';
import type { ChaosProfile } from './settings.ts';
import { Supervisor, type SupervisedRestart } from './supervisor.ts';
import { TcpProxy } from './tcp-proxy.ts';

export interface StyleOptions {
  style: Style;
  profile: ChaosProfile;
  seed: number;
  /** Environment of every service (settings.ts CHAOS_SERVICE_ENV plus overrides). */
  serviceEnv: Record<string, string>;
  broker: BrokerControl;
  /** The MariaDB/MySQL server (`mysql://user:pass@host:port`); each style gets a fresh database on it. */
  mysqlUrl: string;
  logDir: string;
  keep?: boolean;
  log: (line: string) => void;
}

/** Everything one style's run measured. */
export interface StyleReport {
  style: Style;
  profile: string;
  seed: number;
  namespace: string | null;
  database: string;
  logDir: string;
  startedAt: string;
  durationMs: number;
  /** First POST to the load's end (the last reservation accepted or given up). */
  loadMs: number;
  posted: number;
  accepted: number;
  acceptedByScenario: Record<Scenario, number>;
  probes: number;
  /** Reservations retried at least once, and those the client gave up on. */
  retried: number;
  gaveUp: number;
  gaveUpExamples: string[];
  /** Accepted sagas (probes included) per second, from the first POST to the last saga finished. */
  sagasPerSecond: number | null;
  faults: FaultRecord[];
  unexpectedExits: UnexpectedExit[];
  supervisedRestarts: SupervisedRestart[];
  proxy: TcpProxy['counts'];
  poison: Poison[];
  quiescence: Quiescence | null;
  observed: Observed | null;
  invariants: Invariants | null;
  /** What failed: invariants with a count, and problems of the run itself. */
  failures: string[];
  error: string | null;
  ok: boolean;
}

function serverParts(url: string) {
  const server = new URL(url);
  return {
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username || 'root'),
    password: decodeURIComponent(server.password),
  };
}

/**
 * One style's chaos run: a fresh database (behind a TcpProxy) and Pulsar namespace, every
 * service as a process, the load, the faults of the profile in order, quiescence, then the
 * invariants. Never throws: a run that broke down reports `error`.
 *
 * @example
 * const report = await runStyle({ style: 'orchestration', profile: SHORT_PROFILE, seed: 1, serviceEnv: CHAOS_SERVICE_ENV, broker, mysqlUrl, logDir, log: console.log });
 */
export async function runStyle(options: StyleOptions): Promise<StyleReport> {
  const { style, profile } = options;
  const started = Date.now();
  const database = `saga_chaos_${style.slice(0, 5)}_${process.pid}_${started}`;
  const server = serverParts(options.mysqlUrl);
  const log = (line: string) => options.log(`[${style} ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  const report: StyleReport = {
    style,
    profile: profile.name,
    seed: options.seed,
    namespace: null,
    database,
    logDir: options.logDir,
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    loadMs: 0,
    posted: 0,
    accepted: 0,
    acceptedByScenario: Object.fromEntries(SCENARIOS.map((s) => [s, 0])) as Record<Scenario, number>,
    probes: 0,
    retried: 0,
    gaveUp: 0,
    gaveUpExamples: [],
    sagasPerSecond: null,
    faults: [],
    unexpectedExits: [],
    supervisedRestarts: [],
    proxy: { forwarded: 0, refused: 0, cutOpen: 0 },
    poison: [],
    quiescence: null,
    observed: null,
    invariants: null,
    failures: [],
    error: null,
    ok: false,
  };

  let db: Connection | null = null;
  let proxy: TcpProxy | null = null;
  let cluster: ServiceCluster | null = null;
  let supervisor: Supervisor | null = null;
  let load: Load | null = null;
  let progress: NodeJS.Timeout | null = null;
  const probes: Reservation[] = [];
  const pulsarUrl = options.broker.settings.url;
  try {
    const admin = await mysql.createConnection({ ...server, connectTimeout: 5000 });
    await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await admin.query(`CREATE DATABASE \`${database}\``);
    await admin.end();
    report.namespace = await freshNamespace(pulsarUrl, 'chaos');
    const audit = new DlqAudit(pulsarUrl, report.namespace);
    await audit.prepare();

    proxy = new TcpProxy({ targetHost: server.host, targetPort: server.port });
    const proxyPort = await proxy.listen();
    const credentials = `${encodeURIComponent(server.user)}${server.password ? `:${encodeURIComponent(server.password)}` : ''}`;
    const databaseUrl = `mysql://${credentials}@127.0.0.1:${proxyPort}/${database}`;
    log(`database ${database} behind proxy :${proxyPort}, namespace public/${report.namespace}, broker ${pulsarUrl}, service logs in ${options.logDir}`);

    cluster = await ServiceCluster.start({ databaseUrl, namespace: report.namespace, pulsarUrl, env: { SAGA_STYLE: style, ...options.serviceEnv }, logDir: options.logDir });
    log('every service ready');
    db = await mysql.createConnection({ ...server, database, connectTimeout: 5000 });
    supervisor = new Supervisor(cluster, log);
    supervisor.start();

    const random = seeded(options.seed);
    const client = new ReservationClient({ url: () => cluster!.url('vuelos') });
    const harnessDb = db;
    load = new Load(client, { rate: profile.rate, maxInFlight: profile.maxInFlight, pick: scenarioPicker(profile.mix, random), finished: (ids) => finishedSagas(harnessDb, style, ids) });
    const deck: ServiceName[] = [];
    const nextKillTarget = () => {
      if (deck.length === 0) deck.push(...shuffle([...SERVICE_NAMES], random));
      return deck.shift()!;
    };
    const context: FaultContext = { cluster, supervisor, broker: options.broker, proxy, client, probes, random, nextKillTarget, recoveryTimeoutMs: profile.recoveryTimeoutMs, log };
    const poisonAt = (i: number) => POISON_TOPICS[i % POISON_TOPICS.length];
    const publishOne = async (i: number) => {
      const poison = await publishPoison(pulsarUrl, report.namespace!, poisonAt(i), `chaos-poison-${started}-${i}`);
      report.poison.push(poison);
      log(`published malformed message ${poison.marker} on ${poison.topic}`);
    };

    if (profile.poison > 0) await publishOne(0);
    load.start();
    progress = setInterval(() => log(`load: ${load!.acceptedCount} accepted, ${load!.inFlightCount} in flight, ${load!.reservations.length} posted`), 10_000);
    for (const plan of profile.faults) {
      await load.acceptedAtLeast(Math.ceil(plan.at * profile.sagas));
      report.faults.push(await injectFault(plan, context));
    }
    // The other malformed messages once the faults are over (under load, but with every dependency up).
    for (let i = report.poison.length; i < profile.poison; i++) await publishOne(i);
    await load.acceptedAtLeast(profile.sagas);
    log(`load: ${profile.sagas} accepted; waiting for the reservations in flight`);
    await load.stop();
    clearInterval(progress);
    progress = null;
    const all = [...load.reservations, ...probes];
    report.loadMs = Math.max(...all.map((r) => r.accepted?.at ?? r.attempts.at(-1)?.at ?? 0)) - Math.min(...all.map((r) => r.firstSentAt));
    log(`load done: ${load.acceptedCount} accepted of ${load.reservations.length} posted; waiting for quiescence`);

    await supervisor.idle();
    report.quiescence = await waitForQuiescence(db, { timeoutMs: profile.quiescenceTimeoutMs });
    log(report.quiescence.reached ? `quiescent after ${report.quiescence.waitedMs} ms` : `NOT quiescent after ${report.quiescence.waitedMs} ms: ${report.quiescence.reason}`);

    const dlq = await audit.collect();
    const checked = await checkInvariants({ style, db, reservations: all, poison: report.poison, dlq, coordinatorUrl: cluster.url('coordinator') });
    report.invariants = checked.invariants;
    report.observed = checked.observed;
    fillCounts(report, load.reservations, probes);
  } catch (error) {
    report.error = (error as Error).stack ?? String(error);
    log(`run failed: ${(error as Error).message}`);
    if (load) fillCounts(report, load.reservations, probes);
  } finally {
    if (progress) clearInterval(progress);
    // Leave the broker running for whatever comes next, even when the run broke down mid-fault.
    if (!(await options.broker.answers())) await options.broker.start().catch((error: Error) => log(`could not start the broker again: ${error.message}`));
    supervisor?.stop();
    if (load) await Promise.race([load.stop(), new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (cluster) {
      report.unexpectedExits = [...cluster.unexpectedExits];
      await cluster.stop().catch(() => {});
    }
    report.supervisedRestarts = supervisor?.restarts ?? [];
    if (proxy) {
      report.proxy = { ...proxy.counts };
      await proxy.close();
    }
    await db?.end().catch(() => {});
    if (!options.keep) {
      const admin = await mysql.createConnection({ ...server, connectTimeout: 5000 }).catch(() => null);
      await admin?.query(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => {});
      await admin?.end().catch(() => {});
      if (report.namespace) await deleteNamespace(report.namespace, pulsarUrl).catch((error: Error) => log(`could not delete public/${report.namespace}: ${error.message}`));
    }
    report.durationMs = Date.now() - started;
  }
  report.failures = failuresOf(report, profile);
  report.ok = report.failures.length === 0;
  return report;
}

/**
 * Which of `ids` finished, for the load's in-flight bound: the saga (or tracker) is no longer
 * running, or, in choreography, a participant's part stopped in manual repair (the tracker
 * cannot show that; the invariants judge it, not this).
 */
async function finishedSagas(db: Connection, style: Style, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const [rows] = await db.query<RowDataPacket[]>(
    style === 'orchestration'
      ? "SELECT id FROM saga_instances WHERE saga_type = 'reserva' AND status <> 'running' AND id IN (?)"
      : "SELECT DISTINCT id FROM saga_instances WHERE id IN (?) AND ((saga_type = 'reserva-coreografia' AND status <> 'running') OR (saga_type IN ('vuelos-reserva', 'pagos-reserva', 'gds-reserva') AND status = 'failed'))",
    [ids],
  );
  return new Set(rows.map((r) => String(r.id)));
}

function fillCounts(report: StyleReport, reservations: Reservation[], probes: Reservation[]): void {
  const all = [...reservations, ...probes];
  report.posted = reservations.length;
  report.accepted = reservations.filter((r) => r.accepted).length;
  for (const r of reservations) if (r.accepted) report.acceptedByScenario[r.scenario]++;
  report.probes = probes.length;
  report.retried = all.filter((r) => r.attempts.length > 1).length;
  const gaveUp = all.filter((r) => r.gaveUp);
  report.gaveUp = gaveUp.length;
  report.gaveUpExamples = gaveUp.slice(0, 5).map((r) => `key ${r.key.slice(0, 8)} (${r.scenario}): ${r.gaveUp}`);
  const firstSent = Math.min(...all.map((r) => r.firstSentAt).filter((t) => t > 0));
  const lastFinished = report.observed?.lastFinishedAt;
  const acceptedAll = all.filter((r) => r.accepted).length;
  if (lastFinished && Number.isFinite(firstSent) && lastFinished > firstSent) report.sagasPerSecond = acceptedAll / ((lastFinished - firstSent) / 1000);
}

/** Names of what failed: invariants with a count, faults the system did not recover from, and a run that could not do its job. */
function failuresOf(report: StyleReport, profile: ChaosProfile): string[] {
  const failures: string[] = [];
  if (report.error) failures.push(`run error: ${report.error.split('\n')[0]}`);
  if (report.invariants) for (const [name, finding] of Object.entries(report.invariants)) if (finding.count > 0) failures.push(`${name}: ${finding.count}`);
  const unrecovered = report.faults.filter((f) => f.recoveryMs === null);
  if (unrecovered.length) failures.push(`faults not recovered: ${unrecovered.map((f) => `${f.kind} ${f.target} (${f.error})`).join('; ')}`);
  if (report.faults.length < profile.faults.length && !report.error) failures.push(`only ${report.faults.length} of ${profile.faults.length} faults injected`);
  if (report.accepted < profile.sagas) failures.push(`only ${report.accepted} of ${profile.sagas} reservations accepted`);
  if (report.quiescence && !report.quiescence.reached) failures.push(`not quiescent after ${report.quiescence.waitedMs} ms: ${report.quiescence.reason}`);
  return failures;
}

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { QueryTypes } from 'sequelize';
import type { ReservaInput } from '../machines/reserva.ts';
import type { Outcome } from '../runtime/saga-runtime.ts';
import { serverCpuMs } from './databases.ts';
import { Probe, type Tally, type TxTally } from './probe.ts';
import { openBenchSystem } from './system.ts';

export interface SagaRunOptions {
  sagas: number;
  /** The runtime's `maxBatch`; undefined = its default (64). */
  maxBatch?: number;
  timeoutMs: number;
  /** Also sample the MariaDB server's CPU time. */
  serverCpu?: boolean;
}

export interface SagaRunResult {
  maxBatch: number | 'default';
  sagas: number;
  completed: number;
  /** Final states other than completada, startSaga failures, sagas still running at the timeout. */
  notCompleted: number;
  timedOut: boolean;
  /** From the first startSaga call to the commit that completed the last saga. */
  wallMs: number;
  /** Until every startSaga call had resolved. */
  startsMs: number;
  sagasPerSecond: number;
  /** Saga log entries of kind event + timer of these sagas (xstate.init + 4 replies each on the happy path). */
  events: number;
  eventsPerSecond: number;
  /** Every message handled: startSaga calls + runtime inputs + participant deliveries. */
  messages: { starts: number; runtimeInputs: number; participants: number; total: number };
  messagesPerSecond: number;
  batches: { count: number; avgSize: number; maxSize: number; histogram: Record<string, number> };
  transactions: {
    total: number;
    perSaga: number;
    perSecond: number;
    /** Messages handled per transaction: the batching factor over the whole system. */
    messagesPerTx: number;
    /** Mean ms per transaction getting a connection + BEGIN (includes pool waits on MariaDB). */
    acquireMsPerTx: number;
    /** Mean ms per transaction from BEGIN done to COMMIT done. */
    runMsPerTx: number;
    byComponent: Record<string, TxTally>;
  };
  statements: { total: number; perSaga: number; byKind: Record<string, Tally> };
  /**
   * Summed transaction durations ÷ wall time. SQLite runs the process's transactions one at a
   * time, so there `busy` near 1 means the single writer never idled; `running` counts only
   * BEGIN..COMMIT (on MariaDB: the mean number of transactions in progress, at most 10).
   */
  txTimeShare: { busy: number; running: number };
  cpu: { processPct: number; eventLoopUtilization: number; serverPct: number | null };
  peakRssMb: number;
  deliveriesAfterLastCompletion: number;
  retries: number;
  deadLetters: number;
  log: Record<string, number>;
  status: Record<string, number>;
}

function reservaInput(id: string): ReservaInput {
  return {
    id_correlacion: id,
    id_reserva: `R-${id.slice(0, 8)}`,
    id_cliente: 'cliente-bench',
    monto: 250,
    monto_vat: 47.5,
    itinerarios: [{ origen: 'BOG', destino: 'MDE', fecha: '2026-12-24' }],
    // Long deadlines: a slow run must still measure the happy path, not compensations.
    plazos: { paso: 600_000, compensacion: 600_000 },
  };
}

const FINAL = new Set(['completada', 'compensada', 'reparacionManual']);

/**
 * Starts `sagas` reservation sagas at once through `runtime.startSaga` and waits (through
 * `runtime.onCommitted`) until every one reached a final state.
 */
export async function runSagas(databaseUrl: string, options: SagaRunOptions): Promise<SagaRunResult> {
  const probe = new Probe();
  const system = await openBenchSystem(databaseUrl, { maxBatch: options.maxBatch, probe });
  const ids: string[] = Array.from({ length: options.sagas }, () => randomUUID());
  const wanted = new Set(ids);
  const finished = new Map<string, string>();
  let allDone!: () => void;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  let lastCompletion = 0;
  system.runtime.onCommitted((outcomes: Outcome[]) => {
    for (const outcome of outcomes) {
      if (outcome.status !== 'applied' || !FINAL.has(outcome.state) || !wanted.has(outcome.sagaId)) continue;
      finished.set(outcome.sagaId, outcome.state);
      lastCompletion = performance.now();
    }
    if (finished.size === wanted.size) allDone();
  });

  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 25);
  const cpuBefore = process.cpuUsage();
  const eluBefore = performance.eventLoopUtilization();
  const serverBefore = options.serverCpu ? serverCpuMs() : null;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), options.timeoutMs)));

  const started = performance.now();
  let startsMs = 0;
  const starts = Promise.allSettled(ids.map((id) => probe.label('start', () => system.runtime.startSaga('reserva', reservaInput(id), { id })))).then(
    (results) => {
      startsMs = performance.now() - started;
      const failed = results.filter((r) => r.status === 'rejected');
      if (failed.length > 0) console.warn(`  ${failed.length} startSaga calls failed: ${(failed[0] as PromiseRejectedResult).reason}`);
      return failed.length;
    },
  );
  const result = await Promise.race([done.then(() => 'done' as const), timeout]);
  const endedAt = result === 'done' ? lastCompletion : performance.now();
  const wallMs = endedAt - started;
  clearTimeout(timer);
  const cpu = process.cpuUsage(cpuBefore);
  const elu = performance.eventLoopUtilization(eluBefore);
  const serverAfter = options.serverCpu ? serverCpuMs() : null;
  const at = probe.snapshot();
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  const startFailures = await starts;

  // Let the trailing deliveries (e.g. the last ReservaAprobada notifications) finish before closing.
  await drain(system, probe, 15_000);
  clearInterval(sampler);
  const final = probe.snapshot();

  const query = <T extends object>(sql: string) =>
    system.sequelize.query<T>(sql, { replacements: { ids }, type: QueryTypes.SELECT });
  const statusRows = await query<{ status: string; n: number }>(
    "SELECT status, COUNT(*) AS n FROM saga_instances WHERE saga_type = 'reserva' AND id IN (:ids) GROUP BY status",
  );
  const logRows = await query<{ kind: string; n: number }>(
    "SELECT kind, COUNT(*) AS n FROM saga_log WHERE saga_type = 'reserva' AND saga_id IN (:ids) GROUP BY kind",
  );
  await system.close();

  const status = Object.fromEntries(statusRows.map((r) => [r.status, Number(r.n)]));
  const log = Object.fromEntries(logRows.map((r) => [r.kind, Number(r.n)]));
  const completed = [...finished.values()].filter((s) => s === 'completada').length;
  const seconds = wallMs / 1000;
  const events = (log.event ?? 0) + (log.timer ?? 0);
  const participantDeliveries = sum(Object.entries(at.deliveries).filter(([k]) => k !== 'sagas').map(([, n]) => n));
  const messages = {
    starts: options.sagas - startFailures,
    runtimeInputs: at.batches.inputs,
    participants: participantDeliveries,
    total: options.sagas - startFailures + at.batches.inputs + participantDeliveries,
  };
  const txTotal = sum(Object.values(at.transactions).map((t) => t.count));
  const txMs = sum(Object.values(at.transactions).map((t) => t.ms));
  const acquireMs = sum(Object.values(at.transactions).map((t) => t.acquireMs));
  const runMs = sum(Object.values(at.transactions).map((t) => t.runMs));
  const statementsTotal = sum(Object.values(at.statements).map((t) => t.count));
  return {
    maxBatch: options.maxBatch ?? 'default',
    sagas: options.sagas,
    completed,
    notCompleted: options.sagas - completed,
    timedOut: result === 'timeout',
    wallMs,
    startsMs,
    sagasPerSecond: completed / seconds,
    events,
    eventsPerSecond: events / seconds,
    messages,
    messagesPerSecond: messages.total / seconds,
    batches: {
      count: at.batches.count,
      avgSize: at.batches.count ? at.batches.inputs / at.batches.count : 0,
      maxSize: at.batches.max,
      histogram: at.batches.histogram,
    },
    transactions: {
      total: txTotal,
      perSaga: txTotal / options.sagas,
      perSecond: txTotal / seconds,
      messagesPerTx: messages.total / txTotal,
      acquireMsPerTx: acquireMs / txTotal,
      runMsPerTx: runMs / txTotal,
      byComponent: at.transactions,
    },
    statements: { total: statementsTotal, perSaga: statementsTotal / options.sagas, byKind: at.statements },
    txTimeShare: { busy: txMs / wallMs, running: runMs / wallMs },
    cpu: {
      processPct: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
      eventLoopUtilization: elu.utilization,
      serverPct: serverBefore !== null && serverAfter !== null ? ((serverAfter - serverBefore) / wallMs) * 100 : null,
    },
    peakRssMb: peakRss / 2 ** 20,
    deliveriesAfterLastCompletion: sum(Object.values(final.deliveries)) - sum(Object.values(at.deliveries)),
    retries: at.retries,
    deadLetters: at.deadLetters,
    log,
    status,
  };
}

/** Waits until no handler runs, no subscription has a backlog and the outbox is sent. */
async function drain(system: Awaited<ReturnType<typeof openBenchSystem>>, probe: Probe, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  let quiet = 0;
  while (performance.now() < until && quiet < 3) {
    const idle =
      probe.inFlight === 0 &&
      system.subscriptions.every((s) => system.inner.backlog(s) === 0) &&
      (await system.store.pendingOutbox(1)).length === 0;
    quiet = idle ? quiet + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

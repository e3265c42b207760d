/**
 * Replicas of every service over the real broker and MariaDB (issue 11): two coordinators
 * and two of each participant, on partitioned topics, share the sagas; the broker's topic
 * statistics show each outbox row published once; a coordinator replica killed with SIGKILL
 * leaves nothing unfinished.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import mysql from 'mysql2/promise';
import type { SimulatedFailure } from '../machines/messages.ts';
import { parseReplicas } from '../services/config.ts';
import { deleteNamespace, freePort, freshNamespace, ServiceCluster, type ReplicaId } from '../tools/cluster/service-cluster.ts';
import { freshMysqlDatabase } from './support/databases.ts';
import { PULSAR_URL, requireDriver } from './support/pulsar.ts';
import { postReserva } from './support/services.ts';
import { sleep, waitFor } from './support/wait.ts';

type State = string | null;
/** What each participant's own table shows at the end, per simulated failure (from the tutorial's steps, not from the runtime). */
const OUTCOMES: Record<string, { status: string; vuelos: State; pagos: State; gds: State }> = {
  happy: { status: 'completed', vuelos: 'aprobada', pagos: 'pagado', gds: 'confirmada' },
  reserva: { status: 'compensated', vuelos: null, pagos: null, gds: null },
  pago: { status: 'compensated', vuelos: 'cancelada', pagos: null, gds: null },
  gds: { status: 'compensated', vuelos: 'cancelada', pagos: 'revertido', gds: null },
  aprobacion: { status: 'compensated', vuelos: 'cancelada', pagos: 'revertido', gds: 'revertida' },
  'timeout-pago': { status: 'compensated', vuelos: 'cancelada', pagos: 'revertido', gds: null },
};
/**
 * In choreography a participant whose own step failed may also hold its compensation's mark
 * (`revertido`, `revertida`: nothing charged or confirmed, a late request refused): its part
 * of the saga may hear of the compensation (`PagoRevertido` on evento-pago) before its own
 * failure (`ConfirmacionFallida` on evento-gds): one topic does not wait for another.
 */
const CHOREOGRAPHY_ALSO: Record<string, Partial<Record<'pagos' | 'gds', State>>> = { pago: { pagos: 'revertido' }, gds: { gds: 'revertida' } };
const MIX: (SimulatedFailure | null)[] = [null, null, null, 'reserva', 'pago', 'gds', 'aprobacion', null, 'timeout-pago', null];

interface Started {
  id_correlacion: string;
  id_reserva: string;
  fallo: SimulatedFailure | null;
}

/** Per style: the saga type whose status is the saga's, and the replica killed mid-run (one that runs saga instances). */
const STYLES = [
  { style: 'orchestration', sagaType: 'reserva', victim: 'coordinator#2', survivor: 'coordinator' },
  { style: 'choreography', sagaType: 'reserva-coreografia', victim: 'pagos#2', survivor: 'pagos' },
] as const;

for (const { style, sagaType, victim, survivor } of STYLES) describe(`replicas (${style}): two coordinators and two of each participant over Pulsar (partitioned topics) and MariaDB`, function () {
  this.timeout(600_000);
  let cluster: ServiceCluster;
  let database: { url: string; drop: () => Promise<void> };
  let db: mysql.Connection;
  let namespace: string;

  before(requireDriver('native'));
  before(async function () {
    database = await freshMysqlDatabase('replicas');
    namespace = await freshNamespace(PULSAR_URL, 'replicas');
    cluster = await ServiceCluster.start({
      databaseUrl: database.url,
      namespace,
      replicas: { coordinator: 2, vuelos: 2, pagos: 2, gds: 2, notificaciones: 2 },
      env: {
        SAGA_PULSAR_DRIVER: 'native',
        SAGA_STYLE: style,
        PULSAR_PARTITIONS: '2',
        // Long enough that a loaded 2-core machine does not turn a slow answer into a timeout (and a compensation mark).
        SAGA_PLAZO_PASO_MS: '20000',
        SAGA_PLAZO_COMPENSACION_MS: '4000',
        SAGA_REPLICA_LEASE_MS: '3000',
      },
    });
    db = await mysql.createConnection(database.url);
  });
  after(async () => {
    await db?.end();
    await cluster?.stop();
    await database?.drop();
    if (namespace) await deleteNamespace(namespace).catch(() => undefined);
  });

  const query = async <T>(sql: string, params: unknown[] = []) => (await db.query(sql, params))[0] as T[];

  /** Posts `count` reservations of the mix, alternately to each vuelos replica, a few at a time. */
  async function start(count: number, offset = 0): Promise<Started[]> {
    const started: Started[] = [];
    const entries: ReplicaId[] = ['vuelos', 'vuelos#2'];
    for (let i = 0; i < count; i += 10) {
      const batch = Array.from({ length: Math.min(10, count - i) }, (_, j) => {
        const n = offset + i + j;
        const fallo = MIX[n % MIX.length];
        const entry = entries[n % 2];
        return postReserva(cluster, fallo ? { simular_fallo: fallo } : {}, {}, entry).then((ids) => ({ ...ids, fallo }));
      });
      started.push(...(await Promise.all(batch)));
    }
    return started;
  }

  async function waitForAllFinal(started: Started[], timeoutMs: number): Promise<Map<string, string>> {
    const ids = started.map((s) => s.id_correlacion);
    let statuses = new Map<string, string>();
    await waitFor(
      async () => {
        const rows = await query<{ id: string; status: string }>(`SELECT id, status FROM saga_instances WHERE saga_type = ? AND id IN (?)`, [sagaType, ids]);
        statuses = new Map(rows.map((r) => [r.id, r.status]));
        return statuses.size === ids.length && rows.every((r) => r.status !== 'running');
      },
      `${ids.length} sagas final`,
      timeoutMs,
      250,
    ).catch((error: Error) => {
      const running = ids.filter((id) => statuses.get(id) !== 'completed' && statuses.get(id) !== 'compensated');
      throw new Error(`${error.message}; not final: ${running.length} (${running.slice(0, 5).join(', ')})`);
    });
    return statuses;
  }

  /** Each saga's status and each participant's own row, as stated in OUTCOMES; no charge, refund or event applied twice. */
  async function expectOutcomes(started: Started[], statuses: Map<string, string>): Promise<void> {
    const ids = started.map((s) => s.id_reserva);
    const rowsOf = async (table: string, columns: string) =>
      new Map((await query<{ id_reserva: string } & Record<string, unknown>>(`SELECT id_reserva, ${columns} FROM ${table} WHERE id_reserva IN (?)`, [ids])).map((r) => [r.id_reserva, r]));
    const vuelos = await rowsOf('vuelos_reservas', 'estado');
    const pagos = await rowsOf('pagos_pagos', 'estado, cargos, reembolsos');
    const gds = await rowsOf('gds_confirmaciones', 'estado');
    for (const s of started) {
      const expected = OUTCOMES[s.fallo ?? 'happy'];
      const log = async () =>
        (await query<{ saga_type: string; kind: string; type: string; at: number }>(`SELECT saga_type, kind, type, at FROM saga_log WHERE saga_id = ? ORDER BY at, saga_type, seq`, [s.id_correlacion]))
          .map((e) => `${e.at} ${e.saga_type} ${e.kind} ${e.type}`)
          .join('\n    ');
      const what = `${s.fallo ?? 'happy'} saga ${s.id_correlacion}`;
      const also = style === 'choreography' ? (CHOREOGRAPHY_ALSO[s.fallo ?? 'happy'] ?? {}) : {};
      const allowed = (participant: 'vuelos' | 'pagos' | 'gds') => [expected[participant], ...(participant in also ? [also[participant as 'pagos' | 'gds']] : [])];
      const actual = { status: statuses.get(s.id_correlacion), vuelos: vuelos.get(s.id_reserva)?.estado ?? null, pagos: pagos.get(s.id_reserva)?.estado ?? null, gds: gds.get(s.id_reserva)?.estado ?? null };
      const ok = actual.status === expected.status && (['vuelos', 'pagos', 'gds'] as const).every((p) => allowed(p).includes(actual[p] as State));
      if (!ok) console.log(`  ${what}: ${JSON.stringify(actual)}\n    ${await log()}`);
      expect(actual.status, what).to.equal(expected.status);
      for (const participant of ['vuelos', 'pagos', 'gds'] as const) expect(allowed(participant), `${what}: ${participant}`).to.include(actual[participant]);
      const pago = pagos.get(s.id_reserva);
      if (pago) expect([Number(pago.cargos), Number(pago.reembolsos)], `${what}: charged and refunded at most once`).to.satisfy(([c, r]: number[]) => c <= 1 && r <= 1);
    }
    const twice = await query<{ saga_id: string }>(
      `SELECT saga_id FROM saga_log WHERE kind IN ('event', 'timer') AND saga_id IN (?) GROUP BY saga_type, saga_id, kind, COALESCE(message_id, payload) HAVING COUNT(*) > 1`,
      [started.map((s) => s.id_correlacion)],
    );
    expect(twice, 'no event or deadline applied twice').to.deep.equal([]);
  }

  /** Messages the broker took per topic (partitions summed), from its own statistics. */
  async function brokerCounts(): Promise<Record<string, number>> {
    const listed = (await (await fetch(`${PULSAR_URL}/admin/v2/namespaces/public/${namespace}/topics`)).json()) as string[];
    const counts: Record<string, number> = {};
    for (const topic of listed) {
      const stats = (await (await fetch(`${PULSAR_URL}/admin/v2/${topic.replace('://', '/')}/stats`)).json()) as { msgInCounter: number };
      const base = topic.split('/').pop()!.replace(/-partition-\d+$/, '');
      counts[base] = (counts[base] ?? 0) + stats.msgInCounter;
    }
    return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
  }

  async function outboxCounts(): Promise<Record<string, number>> {
    const rows = await query<{ topic: string; n: number; unsent: number }>(`SELECT topic, COUNT(*) AS n, SUM(sent_at IS NULL) AS unsent FROM outbox GROUP BY topic`);
    expect(rows.filter((r) => Number(r.unsent) > 0), 'every outbox row published').to.deep.equal([]);
    return Object.fromEntries(rows.map((r) => [r.topic, Number(r.n)]));
  }

  it('should bring 200 sagas of mixed outcomes to the right end, sharing them over the replicas, and publish every outbox row exactly once', async () => {
    const started = await start(200);
    const statuses = await waitForAllFinal(started, 240_000);
    await expectOutcomes(started, statuses);

    // Every message the broker took is one outbox row, and every row went out once. The
    // counters are updated a moment after the publish: wait until they add up, then compare.
    const outbox = await outboxCounts();
    let broker: Record<string, number> = {};
    await waitFor(async () => {
      broker = await brokerCounts();
      return Object.values(broker).reduce((a, b) => a + b, 0) >= Object.values(outbox).reduce((a, b) => a + b, 0);
    }, 'the broker counted every message', 30_000, 500).catch(() => undefined);
    expect(broker, 'messages per topic: broker (msgInCounter) vs outbox').to.deep.equal(outbox);

    // Both replicas of each service wrote (and so published) rows: the keys were spread.
    const owners = await query<{ saga_type: string; owners: number }>(`SELECT saga_type, COUNT(DISTINCT owner) AS owners FROM outbox GROUP BY saga_type`);
    expect(owners.length, 'writers of outbox rows').to.be.greaterThan(2);
    for (const { saga_type, owners: n } of owners) expect(Number(n), `replicas that published ${saga_type} rows`).to.equal(2);

    // Any coordinator replica answers for any saga, and its /ui lists them.
    const sample = started[7].id_correlacion;
    for (const coordinator of ['coordinator', 'coordinator#2'] as const) {
      const { status, body } = await cluster.json<{ status: string }>(coordinator, `/sagas/${sample}`);
      if (status !== 200) throw new Error(`GET /sagas/${sample} on ${coordinator}: ${status} ${JSON.stringify(body)}`);
      expect([status, body.status], `GET /sagas/:id on ${coordinator}`).to.deep.equal([200, statuses.get(sample)]);
      const ui = await fetch(`${cluster.url(coordinator)}/ui/sagas/${sample}`);
      expect(ui.status, `/ui on ${coordinator}`).to.equal(200);
      const health = await cluster.json<{ replica?: string }>(coordinator, '/health');
      expect(health.body.replica, `/health names the replica that answered`).to.include(`-${cluster.pid(coordinator)}-`);
    }
  });

  it(`should finish every saga with the surviving ${survivor} when ${victim} is killed with SIGKILL mid-run, adopting what it left unpublished`, async () => {
    const killedPid = cluster.pid(victim);
    const from = Date.now();
    const inFlight = start(60, 200);
    // Kill once the replica holds work of this run: rows in its outbox.
    await waitFor(async () => (await query(`SELECT 1 FROM outbox WHERE owner LIKE ? AND created_at >= ? LIMIT 1`, [`%-${killedPid}-%`, from])).length > 0, `${victim} at work`, 60_000, 20);
    await cluster.kill(victim, 'SIGKILL');
    const started = await inFlight;
    const statuses = await waitForAllFinal(started, 240_000);
    await expectOutcomes(started, statuses);

    const left = await query<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL`);
    expect(Number(left[0].n), 'nothing left unpublished').to.equal(0);
    await waitFor(() => (cluster.output.get(survivor) ?? []).join('').includes('adopted a dead replica'), 'the survivor adopted the dead replica', 30_000, 100);
    const replicas = await query<{ replica_id: string }>(`SELECT replica_id FROM replicas WHERE service = ?`, [survivor]);
    expect(replicas.map((r) => r.replica_id).filter((id) => id.includes(`-${killedPid}-`)), 'the dead replica adopted and forgotten').to.deep.equal([]);
    expect(cluster.unexpectedExits, 'no other process died').to.deep.equal([]);
  });
});

describe('npm run services -- --replicas', function () {
  this.timeout(180_000);

  it('should read replica counts per service and refuse what it cannot run', () => {
    expect(parseReplicas('coordinator=2,pagos=3')).to.deep.equal({ coordinator: 2, vuelos: 1, pagos: 3, gds: 1, notificaciones: 1 });
    expect(parseReplicas(undefined)).to.deep.equal({ coordinator: 1, vuelos: 1, pagos: 1, gds: 1, notificaciones: 1 });
    for (const bad of ['coordinator', 'coordinator=0', 'hotel=2', 'pagos=11', 'pagos=two']) expect(() => parseReplicas(bad), bad).to.throw(/--replicas takes <service>=<count>/);
  });

  it('should refuse replicas over SQLite, naming the fix', async () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'services/run-all.ts', '--replicas', 'coordinator=2'], { env: { ...process.env, DATABASE_URL: 'sqlite:./data/never.db' }, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).to.equal(2);
    expect(run.stderr).to.match(/SQLite serves one process per service: set DATABASE_URL=mysql:/);
  });

  it('should run coordinator=2,pagos=2 and drive sagas to their end, answered by either coordinator, then stop on Ctrl-C', async function () {
    await requireDriver('native').call(this);
    const database = await freshMysqlDatabase('runall');
    const namespace = await freshNamespace(PULSAR_URL, 'runall');
    // Ports 10 apart are the replicas' (run-all's layout): pick a base with both free.
    const base = await freePortPair();
    const ports = { coordinator: base, vuelos: base + 1, pagos: base + 2, gds: base + 3, notificaciones: base + 4 };
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/run-all.ts', '--replicas', 'coordinator=2,pagos=2'], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        SAGA_TRANSPORT: 'pulsar',
        SAGA_PULSAR_DRIVER: 'native',
        PULSAR_URL,
        PULSAR_NAMESPACE: namespace,
        DATABASE_URL: database.url,
        COORDINATOR_PORT: String(ports.coordinator),
        VUELOS_PORT: String(ports.vuelos),
        PAGOS_PORT: String(ports.pagos),
        GDS_PORT: String(ports.gds),
        NOTIFICACIONES_PORT: String(ports.notificaciones),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = (port: number) => `http://127.0.0.1:${port}`;
    try {
      const listening = [ports.coordinator, ports.coordinator + 10, ports.vuelos, ports.pagos, ports.pagos + 10, ports.gds, ports.notificaciones];
      await waitFor(async () => (await Promise.all(listening.map((port) => fetch(`${url(port)}/ready`).then((r) => r.ok, () => false)))).every(Boolean), `all seven processes ready:\n${output}`, 90_000, 250);
      const started = [];
      for (const simular_fallo of [undefined, 'gds', undefined, 'pago']) {
        const response = await fetch(`${url(ports.vuelos)}/reservas`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id_cliente: 'c-1', monto: 250, ...(simular_fallo ? { simular_fallo } : {}) }) });
        expect(response.status).to.equal(202);
        started.push({ ...((await response.json()) as { id_correlacion: string }), expected: simular_fallo ? 'compensated' : 'completed' });
      }
      for (const { id_correlacion, expected } of started) {
        for (const port of [ports.coordinator, ports.coordinator + 10]) {
          const saga = await waitFor(async () => {
            const body = (await (await fetch(`${url(port)}/sagas/${id_correlacion}`)).json()) as { status?: string };
            return body.status && body.status !== 'running' && body;
          }, `saga ${id_correlacion} final on port ${port}`, 60_000, 100);
          expect(saga.status, `saga ${id_correlacion} on coordinator port ${port}`).to.equal(expected);
        }
      }
      // Not a terminal: the children's JSON log lines come through as they are, one process each.
      const lines = output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { service?: string; pid?: number; msg?: string });
      const processesListening = (service: string) => new Set(lines.filter((l) => l.service === service && l.msg?.startsWith(`${service} listening on`)).map((l) => l.pid)).size;
      expect(processesListening('coordinator'), 'coordinator processes listening').to.equal(2);
      expect(processesListening('pagos'), 'pagos processes listening').to.equal(2);
    } finally {
      child.kill('SIGINT');
      const code = await Promise.race([exited, sleep(20_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') child.kill('SIGKILL');
      await database.drop();
      await deleteNamespace(namespace).catch(() => undefined);
      expect(code, `run-all exit on SIGINT:\n${output.slice(-2000)}`).to.equal(0);
    }
  });
});

/** A free port whose +10 (a second replica's) is free too. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 14 > 65_535) continue;
    const others = await Promise.all([1, 2, 3, 4, 10, 12].map((d) => isFree(port + d)));
    if (others.every(Boolean)) return port;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

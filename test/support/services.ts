import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { SERVICE_NAMES, SERVICE_PORTS, type ServiceName } from '../../services/config.ts';
import { PULSAR_URL } from './pulsar.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A Pulsar namespace of its own, so a test sees no message of another run. */
export async function freshNamespace(): Promise<string> {
  const namespace = `e2e-${randomUUID().slice(0, 8)}`;
  const response = await fetch(`${PULSAR_URL}/admin/v2/namespaces/public/${namespace}`, { method: 'PUT' });
  if (!response.ok) throw new Error(`cannot create Pulsar namespace public/${namespace}: ${response.status} ${await response.text()}`);
  return namespace;
}

/**
 * The services, each as its own process (`services/service-main.ts <name>`), on free ports,
 * over the real broker and a shared database.
 *
 * @example
 * const cluster = await ServiceCluster.start({ databaseUrl, namespace });
 * await fetch(`${cluster.url('vuelos')}/reservas`, ...);
 * await cluster.kill('coordinator', 'SIGKILL'); await cluster.start('coordinator');
 */
export class ServiceCluster {
  private readonly children = new Map<ServiceName, ChildProcess>();
  readonly output = new Map<ServiceName, string[]>();

  private constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly ports: Record<ServiceName, number>,
  ) {}

  static async start(options: { databaseUrl: string; namespace: string; env?: NodeJS.ProcessEnv; names?: readonly ServiceName[] }): Promise<ServiceCluster> {
    const ports = {} as Record<ServiceName, number>;
    for (const name of SERVICE_NAMES) ports[name] = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'test',
      SAGA_TRANSPORT: 'pulsar',
      PULSAR_URL,
      PULSAR_NAMESPACE: options.namespace,
      DATABASE_URL: options.databaseUrl,
      HOST: '127.0.0.1',
      // Deadlines wait this long after a service starts (and after an outage): short, so tests stay quick.
      SAGA_OUTAGE_GRACE_MS: '3000',
      ...Object.fromEntries(SERVICE_NAMES.map((name) => [SERVICE_PORTS[name].env, String(ports[name])])),
      ...options.env,
    };
    const cluster = new ServiceCluster(env, ports);
    // Migrations take a lock, but one process creating the schema first keeps start-up quiet.
    const names = options.names ?? SERVICE_NAMES;
    await cluster.startService(names[0]);
    await Promise.all(names.slice(1).map((name) => cluster.startService(name)));
    return cluster;
  }

  url(name: ServiceName): string {
    return `http://127.0.0.1:${this.ports[name]}`;
  }

  /** Starts (or restarts) one service and waits until it answers `/ready`. */
  async startService(name: ServiceName, timeoutMs = 60_000): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/service-main.ts', name], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.set(name, child);
    const lines = this.output.get(name) ?? [];
    this.output.set(name, lines);
    child.stdout!.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${lines.join('')}`);
      try {
        const response = await fetch(`${this.url(name)}/ready`, { signal: AbortSignal.timeout(1000) });
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > until) throw new Error(`${name} not ready in ${timeoutMs} ms:\n${lines.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Stops one service with `signal` (SIGKILL: no shutdown at all) and waits for it to exit. */
  async kill(name: ServiceName, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.children.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    await Promise.all(SERVICE_NAMES.map((name) => this.kill(name, 'SIGTERM')));
  }

  async json<T>(name: ServiceName, path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.url(name)}${path}`, init);
    return { status: response.status, body: (await response.json()) as T };
  }
}

/** A saga as the coordinator's `GET /sagas/:id` shows it. */
export interface SagaView {
  type: string;
  status: string;
  state: string;
  log: { kind: string; type: string; messageId: string | null }[];
}

/** Asks vuelos for a reservation (`POST /reservas`), optionally with a failure to simulate and more headers (`Idempotency-Key`). */
export async function postReserva(cluster: ServiceCluster, body: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<{ id_correlacion: string; id_reserva: string }> {
  const response = await cluster.json<{ id_correlacion: string; id_reserva: string }>('vuelos', '/reservas', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ id_cliente: 'cliente-e2e', monto: 320, monto_vat: 60.8, itinerarios: [{ origen: 'BOG', destino: 'CTG' }], ...body }),
  });
  if (response.status !== 202) throw new Error(`POST /reservas answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

/** Polls the coordinator until the saga is no longer running. */
export async function waitForFinal(cluster: ServiceCluster, id: string, timeoutMs = 40_000): Promise<SagaView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await cluster.json<SagaView>('coordinator', `/sagas/${id}`).catch(() => ({ status: 0, body: null }));
    if (status === 200 && body && body.status !== 'running') return body;
    if (Date.now() > until) throw new Error(`saga ${id} not final after ${timeoutMs} ms (${body?.state})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

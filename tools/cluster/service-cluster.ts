import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_ENV, SERVICE_NAMES, SERVICE_NODE_ARGS, SERVICE_PORTS, type ServiceName } from '../../services/config.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Web service URL of the broker the services use unless told otherwise (`PULSAR_URL`, else the project's broker). */
export const DEFAULT_PULSAR_URL = process.env.PULSAR_URL ?? 'http://127.0.0.1:8080';

/** A TCP port free on 127.0.0.1 now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A Pulsar namespace of its own, so a run sees no message of another run.
 *
 * @example
 * const namespace = await freshNamespace(); // 'e2e-1a2b3c4d' in public/
 */
export async function freshNamespace(pulsarUrl = DEFAULT_PULSAR_URL, prefix = 'e2e'): Promise<string> {
  const namespace = `${prefix}-${randomUUID().slice(0, 8)}`;
  const response = await fetch(`${pulsarUrl}/admin/v2/namespaces/public/${namespace}`, { method: 'PUT' });
  if (!response.ok) throw new Error(`cannot create Pulsar namespace public/${namespace}: ${response.status} ${await response.text()}`);
  return namespace;
}

/**
 * Deletes a namespace's topics, then the namespace (this broker refuses a forced namespace deletion).
 *
 * @example
 * await deleteNamespace(namespace);
 */
export async function deleteNamespace(namespace: string, pulsarUrl = DEFAULT_PULSAR_URL): Promise<void> {
  const admin = async (method: string, url: string) => {
    const response = await fetch(`${pulsarUrl}/admin/v2/${url}`, { method, signal: AbortSignal.timeout(30_000) });
    if (!response.ok && response.status !== 404) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
    return response;
  };
  const listed = await admin('GET', `namespaces/public/${namespace}/topics`);
  const topics = listed.ok ? ((await listed.json()) as string[]) : [];
  for (const topic of topics) await admin('DELETE', `${topic.replace('://', '/')}?force=true`);
  await admin('DELETE', `namespaces/public/${namespace}`);
}

/** Every service process alive, so none outlives this process (Ctrl-C, a failed run, mocha's --exit). */
const LIVE = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of LIVE) child.kill('SIGKILL');
});

/**
 * One process of the cluster: a service's name for its first replica, `name#2`, `name#3`…
 * for the others (`ServiceClusterOptions.replicas`).
 */
export type ReplicaId = ServiceName | `${ServiceName}#${number}`;

/** The service a replica runs. */
export function serviceOf(id: ReplicaId): ServiceName {
  return id.split('#')[0] as ServiceName;
}

/** A service process that ended without being asked to. */
export interface UnexpectedExit {
  name: ReplicaId;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export interface ServiceClusterOptions {
  databaseUrl: string;
  namespace: string;
  /** Extra environment of every service (wins over the defaults). */
  env?: NodeJS.ProcessEnv;
  names?: readonly ServiceName[];
  /** The broker's web service URL (default `PULSAR_URL`, else http://127.0.0.1:8080). */
  pulsarUrl?: string;
  /**
   * Appends each service's output to `<logDir>/<name>.log` and keeps only its last lines in
   * `output` (long runs). Without it `output` keeps everything.
   */
  logDir?: string;
  /** Extra arguments of every service's `node` (e.g. `--cpu-prof`, which NODE_OPTIONS does not take). */
  nodeArgs?: readonly string[];
  /** Processes per service (default 1): `{ coordinator: 2 }` adds `coordinator#2`, on a port of its own. */
  replicas?: Partial<Record<ServiceName, number>>;
}

/**
 * The services, each as its own process (`services/service-main.ts <name>`), on free ports,
 * over the real broker and a shared database.
 *
 * @example
 * const cluster = await ServiceCluster.start({ databaseUrl, namespace });
 * await fetch(`${cluster.url('vuelos')}/reservas`, ...);
 * await cluster.kill('coordinator', 'SIGKILL'); await cluster.startService('coordinator');
 */
export class ServiceCluster {
  private readonly children = new Map<ReplicaId, ChildProcess>();
  private readonly stopping = new Set<ChildProcess>();
  private readonly logs = new Map<ReplicaId, fs.WriteStream>();
  readonly output = new Map<ReplicaId, string[]>();
  /** Processes that exited although nobody killed them (a crash). */
  readonly unexpectedExits: UnexpectedExit[] = [];

  private constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly ports: Map<ReplicaId, number>,
    private readonly logDir: string | undefined,
    private readonly nodeArgs: readonly string[] = [],
  ) {}

  static async start(options: ServiceClusterOptions): Promise<ServiceCluster> {
    const ports = new Map<ReplicaId, number>();
    for (const name of SERVICE_NAMES) {
      for (let index = 1; index <= (options.replicas?.[name] ?? 1); index++) ports.set(index === 1 ? name : `${name}#${index}`, await freePort());
    }
    const env: NodeJS.ProcessEnv = {
      ...SERVICE_ENV,
      ...process.env,
      NODE_ENV: 'test',
      SAGA_TRANSPORT: 'pulsar',
      PULSAR_URL: options.pulsarUrl ?? DEFAULT_PULSAR_URL,
      PULSAR_NAMESPACE: options.namespace,
      DATABASE_URL: options.databaseUrl,
      HOST: '127.0.0.1',
      // Deadlines wait this long after a service starts (and after an outage): short, so tests stay quick.
      SAGA_OUTAGE_GRACE_MS: '3000',
      ...Object.fromEntries(SERVICE_NAMES.map((name) => [SERVICE_PORTS[name].env, String(ports.get(name))])),
      ...options.env,
    };
    if (options.logDir) fs.mkdirSync(options.logDir, { recursive: true });
    const cluster = new ServiceCluster(env, ports, options.logDir, options.nodeArgs);
    // Migrations take a lock, but one process creating the schema first keeps start-up quiet.
    const names = options.names ?? SERVICE_NAMES;
    const replicas = [...ports.keys()].filter((id) => names.includes(serviceOf(id)) && id !== names[0]);
    try {
      await cluster.startService(names[0]);
      await Promise.all(replicas.map((id) => cluster.startService(id)));
    } catch (error) {
      await cluster.stop(); // no process left behind
      throw error;
    }
    return cluster;
  }

  url(name: ReplicaId): string {
    return `http://127.0.0.1:${this.ports.get(name)}`;
  }

  /** Every process of the cluster (running or not), first replicas first. */
  get replicas(): ReplicaId[] {
    return [...this.ports.keys()];
  }

  /** The pid of the service's current process, or null when it is not running. */
  pid(name: ReplicaId): number | null {
    const child = this.children.get(name);
    return child && child.exitCode === null && child.signalCode === null ? (child.pid ?? null) : null;
  }

  /** Starts (or restarts) one service and waits until it answers `/ready`. */
  async startService(name: ReplicaId, timeoutMs = 60_000): Promise<void> {
    const service = serviceOf(name);
    if (!this.ports.has(name)) throw new Error(`no replica ${name} in this cluster (replicas: ${this.replicas.join(', ')})`);
    const env = { ...this.env, [SERVICE_PORTS[service].env]: String(this.ports.get(name)) };
    const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, ...this.nodeArgs, '--import', 'tsx', 'services/service-main.ts', service], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.set(name, child);
    const lines = this.output.get(name) ?? [];
    this.output.set(name, lines);
    const file = this.logFile(name);
    file?.write(`--- ${new Date().toISOString()} started pid ${child.pid}\n`);
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      lines.push(text);
      if (file) {
        file.write(text);
        if (lines.length > 400) lines.splice(0, lines.length - 200);
      }
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    LIVE.add(child);
    child.once('exit', (code, signal) => {
      LIVE.delete(child);
      file?.write(`--- ${new Date().toISOString()} pid ${child.pid} exited (code ${code}, signal ${signal})\n`);
      if (!this.stopping.delete(child)) this.unexpectedExits.push({ name, pid: child.pid ?? -1, code, signal, at: Date.now() });
    });
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited with ${child.exitCode ?? child.signalCode}:\n${lines.slice(-40).join('')}`);
      try {
        const response = await fetch(`${this.url(name)}/ready`, { signal: AbortSignal.timeout(1000) });
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > until) throw new Error(`${name} not ready in ${timeoutMs} ms:\n${lines.slice(-40).join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * Starts a service again and again, as a process supervisor would, until it answers
   * `/ready` (a start can fail while the database or the broker is down). Returns the
   * number of attempts.
   *
   * @example
   * await cluster.kill('pagos', 'SIGKILL'); await cluster.restart('pagos');
   */
  async restart(name: ReplicaId, options: { timeoutMs?: number; attemptTimeoutMs?: number } = {}): Promise<number> {
    const until = Date.now() + (options.timeoutMs ?? 300_000);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.startService(name, options.attemptTimeoutMs ?? 60_000);
        return attempt;
      } catch (error) {
        await this.kill(name, 'SIGKILL');
        if (Date.now() > until) throw new Error(`${name} did not start in ${attempt} attempts: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 * attempt)));
      }
    }
  }

  /**
   * Stops one service with `signal` (SIGKILL: no shutdown at all) and waits for it to exit;
   * resolves with how it exited (null when it was not running).
   */
  async kill(name: ReplicaId, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
    const child = this.children.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return null;
    this.stopping.add(child);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
    child.kill(signal);
    return exited;
  }

  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((name) => this.kill(name, 'SIGTERM')));
    for (const file of this.logs.values()) await new Promise((resolve) => file.end(resolve));
    this.logs.clear();
  }

  async json<T>(name: ReplicaId, path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.url(name)}${path}`, init);
    return { status: response.status, body: (await response.json()) as T };
  }

  private logFile(name: ReplicaId): fs.WriteStream | null {
    if (!this.logDir) return null;
    let file = this.logs.get(name);
    if (!file) {
      file = fs.createWriteStream(path.join(this.logDir, `${name.replace('#', '-')}.log`), { flags: 'a' });
      this.logs.set(name, file);
    }
    return file;
  }
}

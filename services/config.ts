import { DEFAULT_DATABASE_URL } from '../db/connect.ts';
import type { Plazos } from '../machines/compensacion.ts';
import { parseInspectSetting, type InspectSetting } from '../runtime/inspection.ts';
import { AEROALPES } from './catalog.ts';

/** The processes of the system when each service runs on its own (`npm run services`): the catalog's services. */
export const SERVICE_NAMES = AEROALPES.services.map((s) => s.name);
export type ServiceName = (typeof AEROALPES.services)[number]['name'];

/** Environment variable (`<NAME>_PORT`) and default of each service's HTTP port. */
export const SERVICE_PORTS = Object.fromEntries(AEROALPES.services.map((s) => [s.name, { env: `${s.name.toUpperCase()}_PORT`, port: s.port }])) as Record<
  ServiceName,
  { env: string; port: number }
>;

/** How many processes of each service (`npm run services -- --replicas coordinator=2,pagos=2`); 1 each by default. */
export type Replicas = Record<ServiceName, number>;

/** Ports of a service's replicas are this far apart: replica 2 of the coordinator listens on 3010, replica 3 on 3020. */
export const REPLICA_PORT_STEP = 10;

/**
 * Reads a replica count per service, `name=count` separated by commas; services not named
 * run once.
 *
 * @throws Error naming the entry that is not `<service>=<count ≥ 1>`
 * @example
 * parseReplicas('coordinator=2,pagos=2'); // { coordinator: 2, vuelos: 1, pagos: 2, gds: 1, notificaciones: 1 }
 */
export function parseReplicas(value: string | undefined): Replicas {
  const replicas = Object.fromEntries(SERVICE_NAMES.map((name) => [name, 1])) as Replicas;
  for (const entry of (value ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^([a-z]+)=(\d+)$/.exec(entry);
    const name = match?.[1] as ServiceName | undefined;
    const count = Number(match?.[2]);
    if (!name || !SERVICE_NAMES.includes(name) || !(count >= 1 && count <= REPLICA_PORT_STEP)) {
      throw new Error(`--replicas takes <service>=<count> pairs (services ${SERVICE_NAMES.join(', ')}; count 1 to ${REPLICA_PORT_STEP}), got "${entry}"`);
    }
    replicas[name] = count;
  }
  return replicas;
}

/** The HTTP port of replica `index` (1-based) of a service whose first replica listens on `port`. */
export function replicaPort(port: number, index: number): number {
  return port + REPLICA_PORT_STEP * (index - 1);
}

/** Pulsar drivers `SAGA_PULSAR_DRIVER` can name: `auto` is `native` where `pulsar-client` loads, else `websocket`. */
export const PULSAR_DRIVERS = ['auto', 'websocket', 'native'] as const;
export type PulsarDriver = (typeof PULSAR_DRIVERS)[number];

export interface PulsarConfig {
  /**
   * `SAGA_PULSAR_DRIVER`: `auto` (default: `native` where the optional `pulsar-client` package
   * loads, built by `npm run setup:native`; else `websocket`), `native` (the binary protocol
   * through libpulsar; faster, see the benchmark) or `websocket` (the broker's WebSocket API,
   * no native library needed). Both run the transport contract and the end-to-end suites in CI.
   */
  driver: PulsarDriver;
  /**
   * The broker's web service URL; the WebSocket API lives there. The native driver also
   * accepts it (HTTP lookup) or a `pulsar://host:6650` URL.
   */
  url: string;
  token?: string;
  tenant: string;
  namespace: string;
  /** `PULSAR_BATCHING_DELAY_MS`: native driver's producer batching by key (default 0, off; see `PulsarOptions.batchingDelayMs`). */
  batchingDelayMs: number;
  /**
   * `PULSAR_PARTITIONS`: partitions of each topic (default 0, non-partitioned). Topics are
   * created partitioned through the admin API (`PULSAR_ADMIN_URL`, default `PULSAR_URL` when
   * it is http(s)); messages keyed by `id_correlacion` keep one saga on one partition.
   */
  partitions: number;
  adminUrl?: string;
}

/**
 * Node options of every service process (`npm run service(s)`, the test and benchmark
 * clusters): a 2 MB young generation and a 96 MB old generation keep a service under 150 MB
 * of RSS (peaks of 158–177 MB with V8's defaults under `npm run bench -- --growth`, 133 with
 * these) at no throughput cost measured by the benchmark. A service's live heap is about
 * 31 MB, with 100k sagas in flight as with none: the old-generation cap makes V8 collect
 * before it grows, and leaves three times that for bursts.
 */
export const SERVICE_NODE_ARGS: readonly string[] = ['--max-semi-space-size=2', '--max-old-space-size=96'];

/**
 * Environment of every service process, under what the caller sets: glibc's malloc keeps at
 * most two arenas (about 5 MB less RSS per service, measured; its threads are libpulsar's and
 * libuv's, which allocate little).
 */
export const SERVICE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** One process's settings, from environment variables with safe local defaults. */
export interface Config {
  host: string;
  port: number;
  databaseUrl: string;
  transport: 'memory' | 'pulsar';
  /** `SAGA_STYLE`: a coordinator runs the saga (orchestration), or the participants react to each other's events (choreography). */
  style: 'orchestration' | 'choreography';
  pulsar: PulsarConfig;
  /** Ports of the services when each runs as its own process. */
  ports: Record<ServiceName, number>;
  /** Test endpoints (`/prueba-*`, `simular_fallo`): on unless NODE_ENV=production, where SAGA_TEST_ENDPOINTS=1 enables them. */
  testEndpoints: boolean;
  /** Default deadlines of new sagas, in ms. */
  plazoPasoMs: number;
  plazoCompensacionMs: number;
  /** A compensation is retried with doubling waits from `plazoCompensacionMs` up to this (ms). */
  plazoCompensacionMaxMs: number;
  /** How long a compensation is retried before the saga needs manual repair (ms). */
  horizonteCompensacionMs: number;
  /** Deadlines wait this long after an outage of the database or broker ends, and after start (ms). */
  outageGraceMs: number;
  /** Stuck sagas (`GET /sagas?stuck=1`): a deadline this late means its scheduler is not running (`SAGA_STUCK_OVERDUE_MS`, default 60 s) … */
  stuckOverdueMs: number;
  /** … and a running saga with nothing pending this long without an event is stuck (`SAGA_STUCK_IDLE_MS`, default 10 min). */
  stuckIdleMs: number;
  /** On SIGTERM, the longest wait for messages in flight and the outbox before exiting (ms). */
  shutdownTimeoutMs: number;
  /**
   * `SAGA_REPLICA_LEASE_MS`: a service process renews its lease among its replicas four times
   * in this span; one silent this long is taken for dead and what it left unpublished is
   * published by a live replica of the same service (default 10 s).
   */
  replicaLeaseMs: number;
  /** `SAGA_INSPECT`: live inspection in Stately's inspector (`1`, a port, or a `ws://` relay URL); null when off. */
  inspect: InspectSetting | null;
  /** Retention: what is done is deleted after `days` (`SAGA_RETENTION_DAYS`, default 30; 0 is off), checked every `intervalMs` (`SAGA_RETENTION_INTERVAL_MS`, default 1 h). */
  retention: { days: number; intervalMs: number };
  /**
   * `SAGA_ALLOWED_ORIGINS`: origins (`https://app.example.com`) besides the server's own
   * whose browser pages may send state-changing requests (comma-separated; default none).
   */
  allowedOrigins: string[];
  /**
   * `SAGA_ADMIN_TOKEN`: what admin actions (repair, dead-letter replay and discard) must send
   * as `Authorization: Bearer …`. Unset: they are refused (403); `npm start` and
   * `npm run services` outside production make one up and print it.
   */
  adminToken?: string;
  /**
   * `SAGA_TRACE_URL`: where a trace opens in the trace UI the operators run, with `{traceId}`
   * (e.g. `http://jaeger:16686/trace/{traceId}`); `/ui` links each saga log entry to it.
   */
  traceUrl?: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const flag = env.SAGA_TEST_ENDPOINTS;
  const transport = env.SAGA_TRANSPORT ?? 'memory';
  if (transport !== 'memory' && transport !== 'pulsar') throw new Error(`SAGA_TRANSPORT must be memory or pulsar, got "${transport}"`);
  const style = env.SAGA_STYLE || 'orchestration';
  if (style !== 'orchestration' && style !== 'choreography') throw new Error(`SAGA_STYLE must be orchestration or choreography, got "${style}"`);
  const driver = env.SAGA_PULSAR_DRIVER || 'auto';
  if (!isPulsarDriver(driver)) throw new Error(`SAGA_PULSAR_DRIVER must be ${PULSAR_DRIVERS.join(', ')}, got "${driver}"`);
  return {
    host: env.HOST ?? '127.0.0.1',
    port: int(env, 'PORT', 3000),
    databaseUrl: env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    transport,
    style,
    pulsar: {
      driver,
      url: env.PULSAR_URL ?? 'http://127.0.0.1:8080',
      ...(env.PULSAR_TOKEN ? { token: env.PULSAR_TOKEN } : {}),
      tenant: env.PULSAR_TENANT ?? 'public',
      namespace: env.PULSAR_NAMESPACE ?? 'default',
      batchingDelayMs: int(env, 'PULSAR_BATCHING_DELAY_MS', 0),
      partitions: int(env, 'PULSAR_PARTITIONS', 0),
      ...(env.PULSAR_ADMIN_URL ? { adminUrl: env.PULSAR_ADMIN_URL } : {}),
    },
    ports: Object.fromEntries(SERVICE_NAMES.map((name) => [name, int(env, SERVICE_PORTS[name].env, SERVICE_PORTS[name].port)])) as Record<ServiceName, number>,
    testEndpoints: flag === undefined ? !production : flag === '1' || flag === 'true',
    plazoPasoMs: int(env, 'SAGA_PLAZO_PASO_MS', 30_000),
    plazoCompensacionMs: int(env, 'SAGA_PLAZO_COMPENSACION_MS', 10_000),
    plazoCompensacionMaxMs: int(env, 'SAGA_PLAZO_COMPENSACION_MAX_MS', 600_000),
    horizonteCompensacionMs: int(env, 'SAGA_HORIZONTE_COMPENSACION_MS', 6 * 3_600_000),
    outageGraceMs: int(env, 'SAGA_OUTAGE_GRACE_MS', 30_000),
    stuckOverdueMs: int(env, 'SAGA_STUCK_OVERDUE_MS', 60_000),
    stuckIdleMs: int(env, 'SAGA_STUCK_IDLE_MS', 600_000),
    shutdownTimeoutMs: int(env, 'SAGA_SHUTDOWN_TIMEOUT_MS', 10_000),
    replicaLeaseMs: positive('SAGA_REPLICA_LEASE_MS', int(env, 'SAGA_REPLICA_LEASE_MS', 10_000)),
    inspect: parseInspectSetting(env.SAGA_INSPECT, env.HOST ?? '127.0.0.1'),
    allowedOrigins: parseOrigins(env.SAGA_ALLOWED_ORIGINS),
    ...(env.SAGA_ADMIN_TOKEN ? { adminToken: env.SAGA_ADMIN_TOKEN } : {}),
    ...(env.SAGA_TRACE_URL ? { traceUrl: parseTraceUrl(env.SAGA_TRACE_URL) } : {}),
    retention: { days: int(env, 'SAGA_RETENTION_DAYS', 30), intervalMs: positive('SAGA_RETENTION_INTERVAL_MS', int(env, 'SAGA_RETENTION_INTERVAL_MS', 3_600_000)) },
  };
}

/** The deadlines new sagas get. */
export function plazosOf(config: Pick<Config, 'plazoPasoMs' | 'plazoCompensacionMs' | 'plazoCompensacionMaxMs' | 'horizonteCompensacionMs'>): Plazos {
  return { paso: config.plazoPasoMs, compensacion: config.plazoCompensacionMs, compensacionMax: config.plazoCompensacionMaxMs, horizonte: config.horizonteCompensacionMs };
}

/**
 * Reads `SAGA_ALLOWED_ORIGINS`: comma-separated `scheme://host[:port]` origins, each
 * normalized as browsers send it in `Origin` (lower-case host, no default port, no path).
 *
 * @throws Error naming the variable for an entry that is not an http(s) origin
 * @example
 * parseOrigins('https://App.example.com:443, http://localhost:8000'); // ['https://app.example.com', 'http://localhost:8000']
 */
export function parseOrigins(value: string | undefined): string[] {
  const origins: string[] = [];
  for (const raw of (value ?? '').split(',').map((o) => o.trim()).filter(Boolean)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new Error(`SAGA_ALLOWED_ORIGINS must list http(s) origins such as https://app.example.com, got "${raw}"`);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname.replace(/\/$/, '') !== '' || url.search || url.hash || url.username) {
      throw new Error(`SAGA_ALLOWED_ORIGINS must list http(s) origins (scheme://host[:port], no path), got "${raw}"`);
    }
    if (!origins.includes(url.origin)) origins.push(url.origin);
  }
  return origins;
}

function isPulsarDriver(value: string): value is PulsarDriver {
  return (PULSAR_DRIVERS as readonly string[]).includes(value);
}

function positive(name: string, value: number): number {
  if (value === 0) throw new Error(`${name} must be a positive integer, got "0"`);
  return value;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

/** `SAGA_TRACE_URL`: an http(s) address with `{traceId}` where the id goes. */
function parseTraceUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.replaceAll('{traceId}', '0'));
  } catch {
    throw new Error(`SAGA_TRACE_URL must be an http(s) URL with {traceId}, e.g. http://127.0.0.1:16686/trace/{traceId}; got ${JSON.stringify(raw)}`);
  }
  if (!/^https?:$/.test(url.protocol) || !raw.includes('{traceId}')) {
    throw new Error(`SAGA_TRACE_URL must be an http(s) URL with {traceId}, e.g. http://127.0.0.1:16686/trace/{traceId}; got ${JSON.stringify(raw)}`);
  }
  return raw;
}

import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { withAdminToken } from './http/admin.ts';
import { loadConfig, parseReplicas, replicaPort, SERVICE_ENV, SERVICE_NAMES, SERVICE_NODE_ARGS, SERVICE_PORTS, type Replicas } from './config.ts';
import { createLogger, loadPretty, PRETTY_OPTIONS, type ServiceLogger } from './logger.ts';

/**
 * `npm run services`: every service as its own child process. Their JSON log lines are
 * passed through as they are when this output is JSON too (not a terminal, production, or
 * `LOG_FORMAT=json`); in a development terminal they are pretty-printed, prefixed by name.
 * Lines that are not JSON (a crash's stack) are always prefixed by name.
 * `--replicas coordinator=2,pagos=2` runs that many processes of a service (replica 2 of
 * a service on its port + 10, replica 3 on + 20; replicas need MySQL or MariaDB). Ctrl-C (or
 * SIGTERM) stops them all; when one dies, the others are stopped too.
 *
 * @example
 * // SAGA_TRANSPORT=pulsar DATABASE_URL=mysql://root@127.0.0.1:3306/sagas npm run services -- --replicas coordinator=2,pagos=2
 */
const entry = fileURLToPath(new URL('./service-main.ts', import.meta.url));
const children = new Map<string, ChildProcess>();
let stopping = false;

function replicasArgument(argv: readonly string[]): Replicas {
  const at = argv.findIndex((a) => a === '--replicas' || a.startsWith('--replicas='));
  if (at === -1) return parseReplicas(undefined);
  const value = argv[at].includes('=') ? argv[at].slice('--replicas='.length) : argv[at + 1];
  return parseReplicas(value);
}

function stopAll(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const child of children.values()) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 6_000).unref();
  const wait = () => ([...children.values()].every((c) => c.exitCode !== null || c.signalCode !== null) ? process.exit(code) : setTimeout(wait, 100));
  wait();
}

/**
 * Writes a child's output line by line: a JSON log line unchanged when `prettify` is not
 * given, pretty-printed after `prefix` when it is; any other line after `prefix`.
 */
function forward(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, prefix: string, prettify?: (line: string) => string): void {
  readline.createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) => {
    if (line === '') return;
    const json = line.startsWith('{');
    if (json && !prettify) to.write(`${line}\n`);
    else to.write(`${prefix} ${json && prettify ? prettify(line) : `${line}\n`}`);
  });
}

let replicas: Replicas;
let own: ServiceLogger;
try {
  // Its own lines, and a bad LOG_LEVEL or LOG_FORMAT refused once rather than by every child.
  own = createLogger({ service: 'services' });
  // The prefix names the process: its lines need not repeat the service.
  const prettify = own.format === 'pretty' ? loadPretty()?.prettyFactory({ ...PRETTY_OPTIONS, messageFormat: '{msg}' }) : undefined;
  replicas = replicasArgument(process.argv.slice(2));
  const loaded = withAdminToken(loadConfig());
  const { ports, databaseUrl, adminToken } = loaded.config;
  // One token for every process, so an admin action works on whichever one it reaches.
  if (loaded.made) own.log(`admin token for this run (SAGA_ADMIN_TOKEN): ${adminToken}`);
  if (databaseUrl.startsWith('sqlite') && SERVICE_NAMES.some((name) => replicas[name] > 1)) {
    throw new Error('replicas share their database, and SQLite serves one process per service: set DATABASE_URL=mysql://… (MySQL or MariaDB) to run replicas');
  }
  for (const name of SERVICE_NAMES) {
    for (let index = 1; index <= replicas[name]; index++) {
      const label = replicas[name] > 1 ? `${name}#${index}` : name;
      const env = { ...SERVICE_ENV, ...process.env, ...(adminToken ? { SAGA_ADMIN_TOKEN: adminToken } : {}), [SERVICE_PORTS[name].env]: String(replicaPort(ports[name], index)) };
      const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, '--import', 'tsx', entry, name], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.set(label, child);
      const prefix = `[${label.padEnd(16)}]`;
      forward(child.stdout!, process.stdout, prefix, prettify);
      forward(child.stderr!, process.stderr, prefix, prettify);
      child.on('exit', (code, signal) => {
        if (!stopping) {
          own.log(`${label} exited (${signal ?? code}); stopping the others`, { level: 'error', child: label, code, signal });
          stopAll(1);
        }
      });
    }
  }
} catch (error) {
  console.error(`npm run services: ${(error as Error).message}`);
  process.exit(2);
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

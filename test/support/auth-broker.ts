import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The broker with token authentication that `test/pulsar-auth.test.ts` starts and stops: its
 * own ports and state folder, so it never touches the broker on 8080 the other suites share.
 * Every choice is here; each can be overridden from the environment.
 */
export const AUTH_BROKER = {
  webPort: Number(process.env.PULSAR_AUTH_TEST_WEB_PORT ?? 18080),
  brokerPort: Number(process.env.PULSAR_AUTH_TEST_BROKER_PORT ?? 16650),
  bookiePort: Number(process.env.PULSAR_AUTH_TEST_BOOKIE_PORT ?? 13181),
  stateDir: process.env.PULSAR_AUTH_TEST_STATE_DIR ?? path.join(ROOT, '.pulsar-auth-test'),
  /** Half the default heap: two brokers share the machine while this suite runs. */
  mem: '-Xms128m -Xmx512m -XX:MaxDirectMemorySize=256m',
  startTimeoutS: 240,
};

export const AUTH_BROKER_URL = `http://127.0.0.1:${AUTH_BROKER.webPort}`;

/** The jars of the default broker's state folder when they are resolved, so a second copy is not made. */
function libDir(): string | undefined {
  if (process.env.PULSAR_LIB_DIR) return process.env.PULSAR_LIB_DIR;
  const shared = path.join(ROOT, '.pulsar', 'lib');
  const resolved = fs.existsSync(shared) && fs.readdirSync(shared).some((f) => f.startsWith('.resolved-'));
  return resolved ? shared : undefined;
}

function env(): NodeJS.ProcessEnv {
  const lib = libDir();
  return {
    ...process.env,
    PULSAR_STATE_DIR: AUTH_BROKER.stateDir,
    PULSAR_WEB_PORT: String(AUTH_BROKER.webPort),
    PULSAR_BROKER_PORT: String(AUTH_BROKER.brokerPort),
    PULSAR_BOOKIE_PORT: String(AUTH_BROKER.bookiePort),
    PULSAR_MEM: AUTH_BROKER.mem,
    PULSAR_START_TIMEOUT: String(AUTH_BROKER.startTimeoutS),
    PULSAR_AUTH: 'token',
    ...(lib ? { PULSAR_LIB_DIR: lib } : {}),
  };
}

function pulsarSh(...args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile('bash', [path.join(ROOT, 'tools/pulsar/pulsar.sh'), ...args], { env: env(), cwd: ROOT, maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
      resolve({ ok: !error, output: `${stdout}${stderr}` }),
    );
  });
}

/** Why this machine cannot run a broker at all (no JDK), or null. */
export function javaMissing(): string | null {
  const home = process.env.PULSAR_JAVA_HOME;
  if (home) return fs.existsSync(path.join(home, 'bin/java')) ? null : `PULSAR_JAVA_HOME=${home} has no bin/java`;
  const jvms = fs.existsSync('/usr/lib/jvm') ? fs.readdirSync('/usr/lib/jvm').filter((d) => fs.existsSync(path.join('/usr/lib/jvm', d, 'bin/java'))) : [];
  if (jvms.length > 0) return null;
  return spawnSync('java', ['-version']).status === 0 ? null : 'no JDK found (java is not installed)';
}

export interface AuthBroker {
  url: string;
  /** Token of the client role (produce and consume in public/default). */
  clientToken: string;
  /** The HS256 secret the broker validates tokens with. */
  secretKey: Buffer;
  /** How long `pulsar.sh start --auth` took. */
  startMs: number;
}

/**
 * Starts the broker with token authentication (`pulsar.sh start --auth`) and reads its client token.
 *
 * @throws Error with pulsar.sh's output when it does not start.
 */
export async function startAuthBroker(): Promise<AuthBroker> {
  const began = Date.now();
  const { ok, output } = await pulsarSh('start', '--auth');
  if (!ok) throw new Error(`pulsar.sh start --auth failed (state ${AUTH_BROKER.stateDir}):\n${output}`);
  const auth = path.join(AUTH_BROKER.stateDir, 'auth');
  return {
    url: AUTH_BROKER_URL,
    clientToken: fs.readFileSync(path.join(auth, 'client.token'), 'utf8').trim(),
    secretKey: fs.readFileSync(path.join(auth, 'secret.key')),
    startMs: Date.now() - began,
  };
}

export async function stopAuthBroker(): Promise<void> {
  const { ok, output } = await pulsarSh('stop');
  if (!ok) throw new Error(`pulsar.sh stop failed:\n${output}`);
}

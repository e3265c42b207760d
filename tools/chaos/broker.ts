import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PULSAR_SH = path.join(ROOT, 'tools', 'pulsar', 'pulsar.sh');

/** Which broker the chaos run uses and controls. */
export interface BrokerSettings {
  /** Web service URL the services use (`PULSAR_URL`). */
  url: string;
  webPort: number;
  /** `PULSAR_STATE_DIR` of the `pulsar.sh` instance that runs it. */
  stateDir: string;
  /** True when it is the project's default broker (port 8080, `.pulsar`), the one CI uses. */
  isDefault: boolean;
  /** The environment `pulsar.sh` is run with. */
  env: NodeJS.ProcessEnv;
}

/**
 * The broker from the environment: `PULSAR_URL` and/or `PULSAR_WEB_PORT` (they must agree),
 * `PULSAR_STATE_DIR`, `PULSAR_BROKER_PORT`, `PULSAR_BOOKIE_PORT`, as `pulsar.sh` reads them;
 * by default the project's broker (`npm run pulsar -- start`).
 *
 * @example
 * // PULSAR_STATE_DIR=/work/pulsar-chaos PULSAR_WEB_PORT=8086 PULSAR_BROKER_PORT=6656 PULSAR_BOOKIE_PORT=3186
 * brokerSettings(); // { url: 'http://127.0.0.1:8086', webPort: 8086, stateDir: '/work/pulsar-chaos', ... }
 */
export function brokerSettings(env: NodeJS.ProcessEnv = process.env): BrokerSettings {
  const fromUrl = env.PULSAR_URL ? Number(new URL(env.PULSAR_URL).port || 80) : null;
  const fromPort = env.PULSAR_WEB_PORT ? Number(env.PULSAR_WEB_PORT) : null;
  if (fromUrl !== null && fromPort !== null && fromUrl !== fromPort) {
    throw new Error(`PULSAR_URL (${env.PULSAR_URL}) and PULSAR_WEB_PORT (${env.PULSAR_WEB_PORT}) name different brokers`);
  }
  const webPort = fromPort ?? fromUrl ?? 8080;
  const url = env.PULSAR_URL ?? `http://127.0.0.1:${webPort}`;
  const stateDir = path.resolve(env.PULSAR_STATE_DIR ?? path.join(ROOT, '.pulsar'));
  return {
    url,
    webPort,
    stateDir,
    isDefault: webPort === 8080 && !env.PULSAR_STATE_DIR,
    // A stop waits at most 10 s for the broker to shut down cleanly, then kills it (pulsar.sh's default is 30 s).
    env: { PULSAR_STOP_TIMEOUT: '10', ...env, PULSAR_WEB_PORT: String(webPort), PULSAR_STATE_DIR: stateDir },
  };
}

/**
 * Stops and starts the broker through `tools/pulsar/pulsar.sh`, and checks that it really
 * went down and came back (a broker that `pulsar.sh` does not run cannot be controlled, and
 * the run must say so rather than pretend an outage happened).
 *
 * @example
 * const broker = new BrokerControl(brokerSettings());
 * await broker.assertControllable();
 * await broker.stop(); ...; await broker.start();
 */
export class BrokerControl {
  constructor(readonly settings: BrokerSettings) {}

  /** True when the broker's admin API answers. */
  async answers(): Promise<boolean> {
    try {
      const response = await fetch(`${this.settings.url}/admin/v2/clusters`, { signal: AbortSignal.timeout(3000) });
      return response.ok;
    } catch {
      return false;
    }
  }

  /** Throws unless the broker answers and is the one `pulsar.sh` runs from `stateDir`. */
  async assertControllable(): Promise<void> {
    if (!(await this.answers())) throw new Error(`no Pulsar broker answers at ${this.settings.url} (start it: PULSAR_STATE_DIR=${this.settings.stateDir} PULSAR_WEB_PORT=${this.settings.webPort} bash tools/pulsar/pulsar.sh start)`);
    const status = await this.run('status').catch((error: Error) => error.message);
    if (!/^running/.test(status)) {
      throw new Error(`the broker at ${this.settings.url} is not the one tools/pulsar/pulsar.sh runs from ${this.settings.stateDir} (status: ${status.trim()}); set PULSAR_STATE_DIR and the ports of the broker the chaos run may stop`);
    }
  }

  /** Stops the broker and waits until its admin API no longer answers. */
  async stop(): Promise<void> {
    await this.run('stop');
    const until = Date.now() + 30_000;
    while (await this.answers()) {
      if (Date.now() > until) throw new Error(`the broker at ${this.settings.url} still answers after pulsar.sh stop`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Starts the broker; resolves once `pulsar.sh` saw a produce/consume round trip work. */
  async start(): Promise<void> {
    await this.run('start');
  }

  private run(command: 'start' | 'stop' | 'status'): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('bash', [PULSAR_SH, command], { cwd: ROOT, env: this.settings.env, timeout: 600_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`pulsar.sh ${command} failed: ${error.message}\n${stderr}`));
        else resolve(stdout + stderr);
      });
    });
  }
}

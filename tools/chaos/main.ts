/**
 * `npm run chaos`: the broker, MariaDB and every service as its own process, in both
 * styles, under a steady load of mixed outcomes while services are SIGKILLed and restarted,
 * the broker is stopped for 30 s and the database cut for 20 s; then the invariants.
 *
 *   npm run chaos                                   # full: 500 sagas per style, both styles
 *   npm run chaos -- --profile short --styles orchestration
 *   npm run chaos -- --profile calm                 # the same load and checks without faults
 *   npm run chaos -- --sagas 800 --rate 6 --seed 42 --env SAGA_PLAZO_PASO_MS=30000 --keep
 *
 * The broker it stops and starts is the one tools/pulsar/pulsar.sh runs with PULSAR_STATE_DIR,
 * PULSAR_WEB_PORT, PULSAR_BROKER_PORT, PULSAR_BOOKIE_PORT (default: the project's broker,
 * `npm run pulsar -- start`); PULSAR_URL, if set, must name the same web port. MariaDB:
 * TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306), never stopped: the run cuts it
 * through a proxy of its own. Figures go to bench/results/chaos-latest.json; exit code 1
 * when an invariant failed.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Style } from './expectations.ts';
import { runChaos } from './run.ts';
import { CALM_PROFILE, FULL_PROFILE, SHORT_PROFILE, type ChaosProfile } from './settings.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const USAGE = 'usage: npm run chaos -- [--profile full|short|calm] [--styles orchestration,choreography] [--sagas N] [--rate R] [--seed S] [--env NAME=VALUE]... [--keep] [--results FILE] [--log-dir DIR]';

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      profile: { type: 'string', default: 'full' },
      styles: { type: 'string', default: 'orchestration,choreography' },
      sagas: { type: 'string' },
      rate: { type: 'string' },
      seed: { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      keep: { type: 'boolean', default: false },
      results: { type: 'string', default: path.join(ROOT, 'bench', 'results', 'chaos-latest.json') },
      'log-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const profiles: Record<string, ChaosProfile> = { full: FULL_PROFILE, short: SHORT_PROFILE, calm: CALM_PROFILE };
  const base = profiles[values.profile!] ?? fail(`--profile must be full, short or calm, got "${values.profile}"`);
  const number = (name: string, raw: string | undefined, min: number) => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}, got "${raw}"`);
    return n;
  };
  const profile: ChaosProfile = { ...base, sagas: number('sagas', values.sagas, 1) ?? base.sagas, rate: number('rate', values.rate, 0.1) ?? base.rate };
  const styles = values.styles!.split(',').map((s) => s.trim());
  for (const style of styles) if (style !== 'orchestration' && style !== 'choreography') fail(`unknown style "${style}"`);
  const env: Record<string, string> = {};
  for (const pair of values.env!) {
    const at = pair.indexOf('=');
    if (at < 1) fail(`--env takes NAME=VALUE, got "${pair}"`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const report = await runChaos({
    profile,
    styles: styles as Style[],
    seed: number('seed', values.seed, 0),
    env,
    keep: values.keep,
    resultsFile: values.results,
    logDir: values['log-dir'],
  });
  process.exitCode = report.ok ? 0 : 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`chaos: ${signal}, stopping (service processes are killed; the run's database and namespace are left behind)`);
    process.exit(130);
  });
}

try {
  await main();
} catch (error) {
  console.error(`chaos: ${(error as Error).message}`);
  process.exitCode = 2;
}
// Exit now: once, after a full run, Node's own teardown spun for minutes in
// Environment::CleanupHandles (a handle that never finished closing) instead of exiting.
process.exit();

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BrokerControl, brokerSettings } from './broker.ts';
import type { Style } from './expectations.ts';
import { formatStyle, summaryLine } from './report.ts';
import { runStyle, type StyleReport } from './run-style.ts';
import { CHAOS_SERVICE_ENV, type ChaosProfile } from './settings.ts';

export interface ChaosOptions {
  profile: ChaosProfile;
  styles: Style[];
  seed?: number;
  /** Overrides of the services' environment, on top of CHAOS_SERVICE_ENV. */
  env?: Record<string, string>;
  /** MariaDB/MySQL server (default `TEST_MYSQL_URL`, else mysql://root@127.0.0.1:3306). */
  mysqlUrl?: string;
  /** The broker to use and control (default from the environment, see brokerSettings). */
  broker?: BrokerControl;
  /** Where service logs go (default a fresh folder under the OS temp dir). */
  logDir?: string;
  /** Keep each style's database and namespace for inspection. */
  keep?: boolean;
  /** Where to write the JSON figures (none when omitted). */
  resultsFile?: string;
  log?: (line: string) => void;
}

export interface ChaosReport {
  profile: string;
  seed: number;
  serviceEnv: Record<string, string>;
  broker: string;
  startedAt: string;
  durationMs: number;
  styles: StyleReport[];
  summary: string;
  ok: boolean;
}

/**
 * The chaos suite: each style in turn on a fresh database and namespace, under the
 * profile's load and faults, then its invariants; prints each style's figures and the
 * summary line, and writes them as JSON.
 *
 * @example
 * const report = await runChaos({ profile: FULL_PROFILE, styles: ['orchestration', 'choreography'], resultsFile: 'bench/results/chaos-latest.json' });
 * process.exitCode = report.ok ? 0 : 1;
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? ((line: string) => console.log(line));
  const started = Date.now();
  const seed = options.seed ?? (started % 2 ** 31);
  const broker = options.broker ?? new BrokerControl(brokerSettings());
  await broker.assertControllable();
  const serviceEnv = { ...CHAOS_SERVICE_ENV, ...options.env };
  const logDir = options.logDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-'));
  log(`chaos: ${options.profile.name} profile, styles ${options.styles.join(', ')}, seed ${seed}, broker ${broker.settings.url} (${broker.settings.stateDir}), service env ${JSON.stringify(serviceEnv)}`);
  const styles: StyleReport[] = [];
  for (const style of options.styles) {
    const report = await runStyle({ style, profile: options.profile, seed, serviceEnv, broker, mysqlUrl: options.mysqlUrl ?? process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306', logDir: path.join(logDir, style), keep: options.keep, log });
    styles.push(report);
    log(formatStyle(report));
  }
  const summary = summaryLine(styles);
  const report: ChaosReport = {
    profile: options.profile.name,
    seed,
    serviceEnv,
    broker: broker.settings.url,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    styles,
    summary,
    ok: styles.every((s) => s.ok),
  };
  if (options.resultsFile) {
    fs.mkdirSync(path.dirname(options.resultsFile), { recursive: true });
    // The DLQ messages read back are for the checks; the figures keep their examples only.
    fs.writeFileSync(options.resultsFile, `${JSON.stringify(report, (key, value) => (key === 'peeked' ? undefined : value), 2)}\n`);
    log(`figures written to ${options.resultsFile}`);
  }
  log(summary);
  return report;
}

import path from 'node:path';
import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { BrokerControl, brokerSettings } from '../tools/chaos/broker.ts';
import type { Style } from '../tools/chaos/expectations.ts';
import { runChaos } from '../tools/chaos/run.ts';
import { SHORT_PROFILE } from '../tools/chaos/settings.ts';
import { MYSQL_SERVER_URL } from './support/databases.ts';

/**
 * The short chaos run (`npm run chaos -- --profile short`): ≥ 100 sagas of mixed outcomes,
 * every service a process, 3 SIGKILLs, one broker restart, one 10 s database cut; then the
 * same invariants as the full run.
 *
 * It stops and starts the broker that tools/pulsar/pulsar.sh runs (PULSAR_STATE_DIR and
 * ports as pulsar.sh reads them; CI's is the project's broker). On a machine where that
 * broker is shared (the default one, 8080, not under CI), it runs only with
 * CHAOS_SHARED_BROKER=1; point it at a broker of your own instead:
 *   PULSAR_STATE_DIR=/tmp/pulsar-mine PULSAR_WEB_PORT=8086 PULSAR_BROKER_PORT=6656 PULSAR_BOOKIE_PORT=3186 npm run pulsar -- start
 * `CHAOS_STYLES=orchestration,choreography` runs both styles (default orchestration).
 */
describe('the chaos suite, short (kills, a broker restart and a database cut under load)', function () {
  this.timeout(20 * 60_000);
  let broker: BrokerControl;

  before(async function () {
    const settings = brokerSettings();
    if (!process.env.CI && settings.isDefault && !process.env.CHAOS_SHARED_BROKER) {
      console.warn('    (skipping: this test stops and starts the broker on 8080, which others may be using; set PULSAR_STATE_DIR/PULSAR_WEB_PORT to a broker of your own, or CHAOS_SHARED_BROKER=1)');
      this.skip();
    }
    broker = new BrokerControl(settings);
    const problems: string[] = [];
    await broker.assertControllable().catch((error: Error) => problems.push(error.message));
    const server = new URL(MYSQL_SERVER_URL);
    await mysql
      .createConnection({ host: server.hostname, port: Number(server.port || 3306), user: decodeURIComponent(server.username || 'root'), password: decodeURIComponent(server.password), connectTimeout: 3000 })
      .then((c) => c.end())
      .catch((error: Error) => problems.push(`MariaDB/MySQL at ${MYSQL_SERVER_URL}: ${error.message}`));
    if (problems.length === 0) return;
    if (process.env.CI) throw new Error(`the chaos suite needs the broker and MariaDB in CI: ${problems.join('; ')}`);
    console.warn(`    (skipping: ${problems.join('; ')})`);
    this.skip();
  });

  it('should lose no saga, end each as its injected failure implies, apply no effect twice and leave no unexplained dead letter', async () => {
    const styles = (process.env.CHAOS_STYLES ?? 'orchestration').split(',').map((s) => s.trim()) as Style[];
    const report = await runChaos({
      profile: SHORT_PROFILE,
      styles,
      broker,
      mysqlUrl: MYSQL_SERVER_URL,
      resultsFile: path.join('test-artifacts', 'chaos-short.json'),
      log: (line) => console.log(line.replace(/^/gm, '      ')),
    });
    expect(report.styles.map((s) => s.accepted + s.probes).reduce((a, b) => a + b, 0)).to.be.at.least(100 * styles.length);
    expect(report.ok, `${report.summary}\n${report.styles.flatMap((s) => s.failures.map((f) => `${s.style}: ${f}`)).join('\n')}`).to.equal(true);
  });
});

import { redact } from '../db/connect.ts';
import { loadConfig, type Config } from './config.ts';
import { withAdminToken } from './http/admin.ts';
import { createApp } from './http/app.ts';
import { fail, log, serve, startLogging } from './serve.ts';
import { startTracing } from './tracing.ts';
import { createSystem, type System } from './system.ts';

/** The all-in-one process's service name, in its logs and traces. */
const SERVICE = 'aeroalpes';

/**
 * `npm start`: the whole orchestrated system (saga runtime, participants, outbox relay)
 * and its HTTP API in one process, configured from the environment (see `loadConfig`).
 *
 * @example
 * // PORT=8080 DATABASE_URL=mysql://root@127.0.0.1:3306/sagas npm start
 */
async function main(): Promise<void> {
  startLogging(SERVICE);
  let config: Config;
  let madeToken = false;
  try {
    ({ config, made: madeToken } = withAdminToken(loadConfig()));
  } catch (error) {
    fail((error as Error).message);
  }
  if (madeToken) log(`admin token for this run (SAGA_ADMIN_TOKEN): ${config.adminToken}`);
  const database = redact(config.databaseUrl);
  const stopTracing = startTracing(SERVICE);
  let system: System;
  try {
    system = await createSystem(config, { log, processMetrics: true });
  } catch (error) {
    fail(`cannot start on the database ${database} and transport ${config.transport}: ${(error as Error).message}`);
  }
  await serve(createApp(system, { log }), {
    host: config.host,
    port: config.port,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    close: async () => {
      await system.close();
      await stopTracing();
    },
    banner: (url) =>
      `AeroAlpes saga runtime listening on ${url} ` +
      `(database ${database}, transport ${config.transport}, test endpoints ${config.testEndpoints ? 'on' : 'off'})`,
  });
}

await main();

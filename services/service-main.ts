import { redact } from '../db/connect.ts';
import { loadConfig, SERVICE_NAMES, type Config, type ServiceName } from './config.ts';
import { startService, type ServiceProcess } from './process.ts';
import { fail, log, serve, startLogging } from './serve.ts';
import { startTracing } from './tracing.ts';

/**
 * `npm run service -- <name>`: one service as its own process (coordinator, vuelos, pagos,
 * gds, notificaciones), on its own port, talking to the others only through the broker.
 *
 * @example
 * // SAGA_TRANSPORT=pulsar DATABASE_URL=mysql://root@127.0.0.1:3306/sagas npm run service -- pagos
 */
async function main(): Promise<void> {
  const name = process.argv[2] as ServiceName;
  if (!SERVICE_NAMES.includes(name)) fail(`usage: npm run service -- <${SERVICE_NAMES.join('|')}>`);
  startLogging(name);
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    fail((error as Error).message);
  }
  if (config.transport === 'memory') {
    log(`SAGA_TRANSPORT=memory keeps messages inside this process; ${name} will not talk to the other services (use SAGA_TRANSPORT=pulsar)`, { level: 'warn' });
  }
  const stopTracing = startTracing(name);
  let service: ServiceProcess;
  try {
    service = await startService(name, config, { log, processMetrics: true });
  } catch (error) {
    fail(`${name} cannot start (database ${redact(config.databaseUrl)}, transport ${config.transport} ${config.pulsar.url}): ${(error as Error).message}`);
  }
  await serve(service.app, {
    host: config.host,
    port: config.ports[name],
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    close: async () => {
      await service.close();
      await stopTracing();
    },
    banner: (url) => `${name} listening on ${url} (database ${redact(config.databaseUrl)}, transport ${config.transport})`,
  });
}

await main();

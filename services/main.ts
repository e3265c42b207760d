import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { redact } from '../db/connect.ts';
import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import { loadConfig, type Config } from './config.ts';
import { createApp } from './http/app.ts';
import { createSystem, type System } from './system.ts';

/** Longest wait for open requests to finish on shutdown before their connections are cut. */
const SHUTDOWN_GRACE_MS = 5_000;

function log(message: string, fields?: Record<string, unknown>): void {
  console.log(`${new Date().toISOString()} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
}

function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(1);
}

/**
 * `npm start`: the whole orchestrated system (saga runtime, participants, outbox relay)
 * and its HTTP API in one process, configured from the environment (see `loadConfig`).
 *
 * @example
 * // PORT=8080 DATABASE_URL=mysql://root@127.0.0.1:3306/sagas npm start
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    fail((error as Error).message);
  }
  const database = redact(config.databaseUrl);

  let system: System;
  try {
    system = await createSystem(config, { log });
  } catch (error) {
    fail(`cannot open the database ${database}: ${(error as Error).message}`);
  }
  if (config.transport === 'pulsar' && system.transport instanceof InMemoryTransport) {
    await system.close();
    fail('SAGA_TRANSPORT=pulsar is not wired into createSystem in this build; use SAGA_TRANSPORT=memory');
  }

  const server = http.createServer(createApp(system, { log }).callback());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (error) {
    await system.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') fail(`port ${config.port} on ${config.host} is already in use (set PORT to another one)`);
    fail(`cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
  }
  const { port } = server.address() as AddressInfo;
  console.log(
    `AeroAlpes saga runtime listening on http://${config.host}:${port} ` +
      `(database ${database}, transport ${config.transport}, test endpoints ${config.testEndpoints ? 'on' : 'off'})`,
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal} received, shutting down`);
    server.closeIdleConnections();
    const cut = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    clearTimeout(cut);
    try {
      await system.close();
    } catch (error) {
      console.error(`error while closing: ${(error as Error).message}`);
      process.exit(1);
    }
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

await main();

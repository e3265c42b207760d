import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Log } from '../runtime/logger.ts';
import { createLogger, type ServiceLogger } from './logger.ts';

/** How long open requests may take to finish once shutdown starts, before consumers drain. */
const REQUEST_GRACE_MS = 1_000;

let current: ServiceLogger | undefined;

/**
 * Starts this process's logs as `service` (`LOG_LEVEL`, `LOG_FORMAT`; see `createLogger`):
 * `log`, `fail` and `serve` write through it from then on. A bad setting exits 1, saying so.
 *
 * @example
 * const { log } = startLogging('pagos');
 */
export function startLogging(service: string): ServiceLogger {
  try {
    current = createLogger({ service });
  } catch (error) {
    fail((error as Error).message);
  }
  return current;
}

/** This process's log (see `startLogging`); before it starts, a plain line on standard output. */
export const log: Log = (message, fields) => {
  if (current) return current.log(message, fields);
  const { level: _level, ...rest } = fields ?? {};
  console.log(`${new Date().toISOString()} ${message}${fields ? ` ${JSON.stringify(rest)}` : ''}`);
};

/** Logs `message` at `fatal` (a plain `error:` line before logging starts) and exits 1. */
export function fail(message: string): never {
  if (current) current.logger.fatal(message);
  else console.error(`error: ${message}`);
  process.exit(1);
}

/**
 * Serves `app` on host:port until SIGINT or SIGTERM, then shuts down within
 * `shutdownTimeoutMs`: stops taking requests (open ones get a moment to finish), calls
 * `close` (consumers stop pulling and let what is in flight commit and be acknowledged, the
 * outbox is flushed, connections close), cuts what is still open (e.g. event streams) and
 * exits 0. Past the bound it exits 1, saying so: nothing is lost either way, what was not
 * acknowledged is delivered again. Exits 1 with a clear message when the port is taken.
 *
 * @example
 * await serve(app, { host: '127.0.0.1', port: 3000, shutdownTimeoutMs: 10_000, close: () => system.close(), banner: (url) => `listening on ${url}` });
 */
export async function serve(
  app: Koa,
  options: { host: string; port: number; shutdownTimeoutMs?: number; close: () => Promise<void>; banner: (url: string) => string },
): Promise<void> {
  const server = http.createServer(app.callback());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    });
  } catch (error) {
    await options.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') fail(`port ${options.port} on ${options.host} is already in use (set another port)`);
    fail(`cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`);
  }
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host}:${port}`;
  // A terminal's reader gets the banner as it is; a log collector gets it as a line of its own.
  if (current && current.format === 'json') current.logger.info({ url }, options.banner(url));
  else console.log(options.banner(url));

  const bound = options.shutdownTimeoutMs ?? 10_000;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    log(`${signal} received, shutting down (at most ${bound} ms)`, { signal, boundMs: bound });
    setTimeout(() => {
      fail(`shutdown took longer than ${bound} ms; exiting (what was not acknowledged is delivered again)`);
    }, bound).unref();
    server.closeIdleConnections();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, REQUEST_GRACE_MS))]);
    try {
      await options.close();
    } catch (error) {
      log('closing failed', { level: 'error', error });
      process.exit(1);
    }
    server.closeAllConnections();
    log(`stopped in ${Date.now() - started} ms`, { ms: Date.now() - started });
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

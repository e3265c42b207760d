import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

/** Longest wait for open requests to finish on shutdown before their connections are cut. */
const SHUTDOWN_GRACE_MS = 5_000;

export function log(message: string, fields?: Record<string, unknown>): void {
  console.log(`${new Date().toISOString()} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
}

export function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(1);
}

/**
 * Serves `app` on host:port until SIGINT or SIGTERM, then stops taking requests, lets open
 * ones finish, and calls `close` (consumers, relay, database). Exits 1 with a clear message
 * when the port is taken.
 *
 * @example
 * await serve(app, { host: '127.0.0.1', port: 3000, close: () => system.close(), banner: (url) => `listening on ${url}` });
 */
export async function serve(app: Koa, options: { host: string; port: number; close: () => Promise<void>; banner: (url: string) => string }): Promise<void> {
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
  console.log(options.banner(`http://${options.host}:${port}`));

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
      await options.close();
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

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

/** How long open requests may take to finish once shutdown starts, before consumers drain. */
const REQUEST_GRACE_MS = 1_000;

export function log(message: string, fields?: Record<string, unknown>): void {
  console.log(`${new Date().toISOString()} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
}

export function fail(message: string): never {
  console.error(`error: ${message}`);
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
  console.log(options.banner(`http://${options.host}:${port}`));

  const bound = options.shutdownTimeoutMs ?? 10_000;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    log(`${signal} received, shutting down (at most ${bound} ms)`);
    setTimeout(() => {
      console.error(`error: shutdown took longer than ${bound} ms; exiting (what was not acknowledged is delivered again)`);
      process.exit(1);
    }, bound).unref();
    server.closeIdleConnections();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, REQUEST_GRACE_MS))]);
    try {
      await options.close();
    } catch (error) {
      console.error(`error while closing: ${(error as Error).message}`);
      process.exit(1);
    }
    server.closeAllConnections();
    log(`stopped in ${Date.now() - started} ms`);
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

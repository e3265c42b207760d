import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

export interface Answer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface HttpClient {
  base: string;
  /** Sends `body` as JSON (a string as is) with `Content-Type: application/json` unless `headers` set another. */
  request(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  close(): Promise<void>;
}

/**
 * Serves a Koa app on a free port of 127.0.0.1, with a small JSON client for it.
 *
 * @example
 * const client = await serveApp(createApp(system));
 * const answer = await client.request('POST', '/reservas', { id_cliente: 'c-1', monto: 10 });
 * await client.close();
 */
export async function serveApp(app: Koa): Promise<HttpClient> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    async request(method, url, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        const given = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
        if (!given) (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
      const response = await fetch(base + url, init);
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { platform } from 'node:os';
import { WebSocket, WebSocketServer } from 'ws';

export interface InspectorRelayOptions {
  /** Interface to listen on (`HOST`; 127.0.0.1 by default). */
  host?: string;
  port: number;
  /** Stately's inspector, embedded by the page (default https://stately.ai/inspect). */
  inspectorUrl?: string;
  /** Events kept for a page that connects later (default 200). */
  bufferSize?: number;
}

export interface InspectorRelay {
  /** Where the relay listens. */
  address: AddressInfo;
  close(): Promise<void>;
}

/**
 * The relay between the runtime and Stately's inspector in a browser, as
 * `@statelyai/inspect/server`'s `createInspectorServer` does it, but bound to one interface
 * (that function always listens on every interface) and refusing WebSocket connections
 * from another site's page: an HTTP page that embeds https://stately.ai/inspect and a
 * WebSocket server that forwards every event a client sends to the other clients (the
 * page), replaying the last `bufferSize` events to a page that connects late.
 *
 * A client without an `Origin` header (the runtime's inspector, any Node process) may
 * connect; a browser page only when it was served by the relay itself (its `Origin` names
 * the host the request was sent to), so a web page elsewhere cannot read the sagas.
 *
 * @throws the listen error (e.g. `EADDRINUSE` when another process serves the relay)
 * @example
 * const relay = await startInspectorRelay({ host: '127.0.0.1', port: 8090 });
 * // open http://localhost:8090; connect createWebSocketInspector({ url: 'ws://127.0.0.1:8090' })
 * await relay.close();
 */
export async function startInspectorRelay(options: InspectorRelayOptions): Promise<InspectorRelay> {
  const host = options.host ?? '127.0.0.1';
  const inspectorUrl = options.inspectorUrl ?? 'https://stately.ai/inspect';
  const bufferSize = options.bufferSize ?? 200;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(bridgePage(inspectorUrl));
  });
  const sockets = new WebSocketServer({
    server,
    verifyClient: ({ origin, req }: { origin?: string; req: http.IncomingMessage }) => !origin || sameHost(origin, req.headers.host),
  });
  // The server's errors (a listen error included) reach the caller through `listen` below.
  sockets.on('error', () => {});
  const buffer: string[] = [];
  sockets.on('connection', (socket) => {
    for (const message of buffer) socket.send(message);
    socket.on('message', (data) => {
      const message = data.toString();
      buffer.push(message);
      if (buffer.length > bufferSize) buffer.shift();
      for (const client of sockets.clients) if (client !== socket && client.readyState === WebSocket.OPEN) client.send(message);
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    sockets.close();
    throw error;
  }
  return {
    address: server.address() as AddressInfo,
    close: async () => {
      for (const client of sockets.clients) client.terminate();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Opens `url` in the desktop's browser, if there is one; failures are ignored. */
export function openBrowser(url: string): void {
  const [command, args] = platform() === 'darwin' ? ['open', [url]] : platform() === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(command, args as string[], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // no browser here
  }
}

function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return !!host && new URL(origin).host === new URL(`${new URL(origin).protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/** The page: Stately's inspector in an iframe, fed with what the relay's socket receives. */
function bridgePage(inspectorUrl: string): string {
  return `<!DOCTYPE html>
<html>
<head>
  <title>Stately Inspector</title>
  <style>
    * { margin: 0; padding: 0; }
    html, body { height: 100%; }
    iframe { width: 100%; height: 100%; border: none; }
  </style>
</head>
<body>
  <iframe id="inspector" src="${inspectorUrl}"></iframe>
  <script>
    const iframe = document.getElementById('inspector');
    const buffer = [];
    let connected = false;
    window.addEventListener('message', (e) => {
      if (e.data && e.data.type === '@statelyai.connected') {
        connected = true;
        buffer.forEach((event) => iframe.contentWindow.postMessage(event, '*'));
        buffer.length = 0;
      }
    });
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host);
    ws.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (connected) iframe.contentWindow.postMessage(data, '*');
      else buffer.push(data);
    };
  </script>
</body>
</html>`;
}

import net from 'node:net';

/** Where a {@link TcpProxy} forwards its connections. */
export interface TcpProxyOptions {
  targetHost: string;
  targetPort: number;
}

/**
 * A TCP proxy in front of a server that can be cut and restored, to take a shared server
 * (MariaDB) away from the processes that use it without stopping it for everybody else.
 *
 * While cut, every open connection has been destroyed (reset) and each new one is reset at
 * once, as a client sees a server that went away; `restore()` lets new connections through
 * again. It listens on 127.0.0.1.
 *
 * @example
 * const proxy = new TcpProxy({ targetHost: '127.0.0.1', targetPort: 3306 });
 * const port = await proxy.listen();          // DATABASE_URL=mysql://root@127.0.0.1:<port>/db
 * proxy.cut();                                 // the database is "down"
 * proxy.restore();                             // and back
 * await proxy.close();
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private isCut = false;
  /** Connections accepted and forwarded, and connections reset because the proxy was cut. */
  readonly counts = { forwarded: 0, refused: 0, cutOpen: 0 };

  constructor(private readonly options: TcpProxyOptions) {}

  /** Starts listening on 127.0.0.1:`port` (0: a free port); resolves with the port. */
  async listen(port = 0): Promise<number> {
    if (this.server) throw new Error('TcpProxy is already listening');
    const server = net.createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as net.AddressInfo).port;
  }

  /** Destroys every open connection and resets new ones until `restore()`. */
  cut(): void {
    this.isCut = true;
    for (const pair of [...this.pairs]) {
      this.counts.cutOpen++;
      this.drop(pair);
    }
  }

  /** Lets new connections through again. */
  restore(): void {
    this.isCut = false;
  }

  /** True between `cut()` and `restore()`. */
  get cutNow(): boolean {
    return this.isCut;
  }

  /** Stops listening and destroys every open connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const pair of [...this.pairs]) this.drop(pair);
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.isCut) {
      this.counts.refused++;
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    this.counts.forwarded++;
    const upstream = net.connect({ host: this.options.targetHost, port: this.options.targetPort });
    const pair = { client, upstream };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const end = () => this.drop(pair);
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private drop(pair: { client: net.Socket; upstream: net.Socket }): void {
    if (!this.pairs.delete(pair)) return;
    // A reset, not a polite FIN: the client learns at once that the server is gone.
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    if (!pair.upstream.destroyed) pair.upstream.resetAndDestroy();
  }
}

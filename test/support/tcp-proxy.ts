import net from 'node:net';

export interface TcpProxyOptions {
  targetPort: number;
  targetHost?: string;
  /** Port to listen on (default 0: any free port). */
  port?: number;
}

/**
 * A TCP proxy in front of a server, which a test can cut (every open connection destroyed,
 * new ones refused) and restore: a network outage of one client without touching the
 * server others use.
 *
 * @example
 * const proxy = new TcpProxy({ targetPort: 8080 });
 * const port = await proxy.listen();
 * proxy.cut();      // the client loses the server
 * proxy.restore();  // and finds it again
 * await proxy.close();
 */
export class TcpProxy {
  private readonly server: net.Server;
  private readonly open = new Set<net.Socket>();
  private isCut = false;

  constructor(private readonly options: TcpProxyOptions) {
    this.server = net.createServer((client) => this.accept(client));
  }

  /** Starts listening on 127.0.0.1; resolves with the port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, '127.0.0.1', () => resolve((this.server.address() as net.AddressInfo).port));
    });
  }

  /** Destroys every open connection (both sides) and refuses new ones until {@link restore}. */
  cut(): void {
    this.isCut = true;
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }

  restore(): void {
    this.isCut = false;
  }

  /** Connections open through the proxy now (each counts its two sides once). */
  get connections(): number {
    return this.open.size / 2;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.isCut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(this.options.targetPort, this.options.targetHost ?? '127.0.0.1');
    this.open.add(client);
    this.open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.open.delete(client);
      this.open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

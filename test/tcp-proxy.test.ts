import net from 'node:net';
import { expect } from 'chai';
import { TcpProxy } from '../tools/chaos/tcp-proxy.ts';

/** Connects, sends `text`, resolves with what came back before the socket closed or `ms` passed. */
function roundTrip(port: number, text: string): Promise<{ echoed: string; closed: boolean; error?: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let echoed = '';
    socket.on('data', (chunk) => {
      echoed += chunk.toString();
      if (echoed === text) {
        socket.end();
        resolve({ echoed, closed: false });
      }
    });
    socket.on('error', (error) => resolve({ echoed, closed: true, error: (error as NodeJS.ErrnoException).code }));
    socket.on('close', () => resolve({ echoed, closed: true }));
    socket.write(text);
  });
}

describe('TcpProxy', function () {
  let echo: net.Server;
  let echoPort: number;
  let proxy: TcpProxy;
  let port: number;

  beforeEach(async () => {
    echo = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as net.AddressInfo).port;
    proxy = new TcpProxy({ targetHost: '127.0.0.1', targetPort: echoPort });
    port = await proxy.listen();
  });
  afterEach(async () => {
    await proxy.close();
    await new Promise((resolve) => echo.close(resolve));
  });

  it('should forward bytes both ways', async () => {
    expect(await roundTrip(port, 'hola')).to.deep.equal({ echoed: 'hola', closed: false });
  });

  it('should destroy open connections on cut, reset new ones while cut, and forward again after restore', async () => {
    const open = net.connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => open.once('connect', resolve));
    open.write('x');
    await new Promise((resolve) => open.once('data', resolve));
    const ended = new Promise<string>((resolve) => {
      open.once('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? 'error'));
      open.once('close', () => resolve('close'));
    });

    proxy.cut();
    expect(await ended).to.be.oneOf(['ECONNRESET', 'close']);
    const refused = await roundTrip(port, 'while cut');
    expect(refused.closed).to.equal(true);
    expect(refused.echoed).to.equal('');
    expect(proxy.counts.refused).to.equal(1);

    proxy.restore();
    expect(await roundTrip(port, 'back')).to.deep.equal({ echoed: 'back', closed: false });
  });

  it('should refuse to listen twice', async () => {
    let error: unknown;
    await proxy.listen().catch((e) => (error = e));
    expect(String(error)).to.match(/already listening/);
  });
});

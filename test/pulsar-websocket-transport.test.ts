import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'chai';
import { WebSocketServer } from 'ws';
import { BrokerAuthError, MessageRejectedError, UnavailableError } from '../runtime/errors.ts';
import type { Delivery, TransportAvailability } from '../runtime/ports.ts';
import { DEFAULT_MAX_TEXT_FRAME_BYTES, PulsarWebSocketTransport, producerFrame } from '../runtime/pulsar-websocket-transport.ts';
import { PULSAR_URL, requirePulsar } from './support/pulsar.ts';
import { TcpProxy } from './support/tcp-proxy.ts';
import { transportContract } from './transport-contract.ts';
import { rejection } from './support/wait.ts';

const broker = new URL(PULSAR_URL);
const brokerPort = Number(broker.port || 80);

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}


/**
 * In front of the broker: answers the first `refusals` connections with HTTP 503 (a broker
 * still starting, a load balancer without a backend) and passes later ones through.
 */
class RefusingGate {
  readonly attempts: number[] = [];
  /** When the first connection that was let through arrived. */
  passedAt: number | null = null;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private refusals: number) {
    this.server = net.createServer((client) => {
      this.attempts.push(Date.now());
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client)).on('error', () => undefined);
      if (this.refusals > 0) {
        this.refusals--;
        client.once('data', () => client.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
        return;
      }
      this.passedAt ??= Date.now();
      const upstream = net.connect(brokerPort, broker.hostname);
      this.sockets.add(upstream);
      upstream.on('close', () => (this.sockets.delete(upstream), client.destroy())).on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as net.AddressInfo).port)));
  }

  async close(): Promise<void> {
    this.sockets.forEach((s) => s.destroy());
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A stand-in broker for the WebSocket API: answers each send with the frame `answer` returns, or refuses the upgrade. */
class FakeBroker {
  readonly upgrades: string[] = [];
  private readonly server = http.createServer();
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor(options: { refuseWith?: number; answer?: (frame: { context: string; payload: string }) => object; push?: object }) {
    this.server.on('upgrade', (request, socket, head) => {
      this.upgrades.push(request.url ?? '');
      if (options.refuseWith) {
        socket.end(`HTTP/1.1 ${options.refuseWith} Refused\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html><head><title>Error ${options.refuseWith} Failed to authenticate</title></head></html>`);
        return;
      }
      this.wss.handleUpgrade(request, socket, head, (ws) => {
        if (options.push) ws.send(JSON.stringify(options.push));
        ws.on('message', (data) => {
          const frame = JSON.parse(data.toString()) as { context: string; payload: string; type?: string };
          if (frame.type || !options.answer) return;
          ws.send(JSON.stringify({ context: frame.context, ...options.answer(frame) }));
        });
      });
    });
  }

  listen(): Promise<string> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`)));
  }

  async close(): Promise<void> {
    this.wss.clients.forEach((c) => c.terminate());
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('PulsarWebSocketTransport against a real broker', function () {
  before(requirePulsar);

  transportContract(
    'PulsarWebSocketTransport',
    async () => {
      const transport = new PulsarWebSocketTransport({ url: PULSAR_URL, negativeAckRedeliveryDelayMs: 300, maxInFlight: 50 });
      return { transport, cleanup: () => transport.close() };
    },
    { nackDelayMs: 300, timeoutMs: 15_000 },
  );

  describe('startup', function () {
    this.timeout(30_000);
    let gate: RefusingGate;
    let transport: PulsarWebSocketTransport;

    afterEach(async () => {
      await transport?.close();
      await gate?.close();
    });

    it('should subscribe as soon as a later attempt connects when the broker refused the first upgrade (503)', async () => {
      gate = new RefusingGate(1);
      const port = await gate.listen();
      // subscribe waits up to 3 × sendTimeoutMs = 6 s for the connection.
      transport = new PulsarWebSocketTransport({ url: `http://127.0.0.1:${port}`, sendTimeoutMs: 2_000, reconnectMinMs: 100 });
      const topic = `startup-${randomUUID()}`;
      const received: string[] = [];
      const began = Date.now();
      await transport.subscribe({ topics: [topic], subscription: `sub-${randomUUID()}`, handler: async (d) => void received.push(d.payload) });
      const subscribedAt = Date.now();

      expect(gate.attempts.length, 'upgrade attempts').to.be.at.least(2);
      expect(gate.passedAt, 'an attempt was let through').to.not.equal(null);
      expect(subscribedAt - gate.passedAt!, 'ms from the attempt that got through to subscribe resolving').to.be.below(1_000);
      expect(subscribedAt - began, 'ms subscribe took').to.be.below(3_000);

      await transport.publish(topic, { key: 'k', payload: 'after a refused start' });
      await waitFor(() => received.length === 1, 'the delivery');
      expect(received).to.deep.equal(['after a refused start']);
    });

    it('should publish as soon as a later attempt connects when the broker refused the producer\'s first upgrade (503)', async () => {
      gate = new RefusingGate(1);
      const port = await gate.listen();
      transport = new PulsarWebSocketTransport({ url: `http://127.0.0.1:${port}`, sendTimeoutMs: 3_000, reconnectMinMs: 100 });
      const began = Date.now();
      await transport.publish(`startup-${randomUUID()}`, { key: 'k', payload: 'p' });
      expect(gate.attempts.length, 'upgrade attempts').to.be.at.least(2);
      expect(Date.now() - gate.passedAt!, 'ms from the attempt that got through to the receipt').to.be.below(1_000);
      expect(Date.now() - began, 'ms publish took').to.be.below(3_000);
    });
  });

  describe('publish errors', function () {
    this.timeout(30_000);
    let transport: PulsarWebSocketTransport;
    afterEach(() => transport?.close());

    /** The largest payload of ASCII bytes whose frame (key 'k') fits `limit`. */
    function largestPayload(limit: number): string {
      let low = 0;
      let high = limit;
      while (low < high) {
        const mid = Math.ceil((low + high) / 2);
        if (Buffer.byteLength(producerFrame({ key: 'k', payload: 'x'.repeat(mid) }, randomUUID())) <= limit) low = mid;
        else high = mid - 1;
      }
      return 'x'.repeat(low);
    }

    it('should refuse at once, with MessageRejectedError, a payload whose frame exceeds the broker\'s 1 MiB limit, take the largest that fits, and go on publishing', async () => {
      transport = new PulsarWebSocketTransport({ url: PULSAR_URL });
      const topic = `big-${randomUUID()}`;
      const received: Delivery[] = [];
      await transport.subscribe({ topics: [topic], subscription: `sub-${randomUUID()}`, handler: async (d) => void received.push(d) });

      const fits = largestPayload(DEFAULT_MAX_TEXT_FRAME_BYTES);
      const tooBig = `${fits}xxxx`;
      const began = Date.now();
      const error = await rejection(transport.publish(topic, { key: 'k', payload: tooBig }));
      expect(Date.now() - began, 'ms to refuse').to.be.below(200);
      expect(error).to.be.instanceOf(MessageRejectedError);
      expect(error).to.include({ retryable: false, code: 'message_rejected' });
      expect(error.message).to.match(/webSocketMaxTextFrameSize/);

      await transport.publish(topic, { key: 'k', payload: fits });
      await transport.publish(topic, { key: 'k', payload: 'small, right after' });
      await waitFor(() => received.length === 2, 'both deliveries');
      expect(received.map((d) => d.payload.length)).to.deep.equal([fits.length, 'small, right after'.length]);
    });

    it('should match the broker: the refused payload, sent anyway, makes the broker drop the producer\'s socket', async () => {
      // Without the check (a limit above the broker's), the broker closes the socket: every
      // send on it fails as an outage, and the same message would fail again on each retry.
      transport = new PulsarWebSocketTransport({ url: PULSAR_URL, maxTextFrameBytes: 8 * DEFAULT_MAX_TEXT_FRAME_BYTES, sendTimeoutMs: 5_000 });
      const topic = `big-${randomUUID()}`;
      await transport.publish(topic, { key: 'k', payload: 'connect first' });
      const error = await rejection(transport.publish(topic, { key: 'k', payload: `${largestPayload(DEFAULT_MAX_TEXT_FRAME_BYTES)}xxxx` }));
      expect(error).to.be.instanceOf(UnavailableError);
      expect(error.message).to.match(/closed \(1009/);
    });
  });

  describe('availability (watch) through a proxy that cuts the connection', function () {
    this.timeout(60_000);
    let proxy: TcpProxy;
    let transport: PulsarWebSocketTransport;

    afterEach(async () => {
      await transport?.close();
      await proxy?.close();
    });

    it('should report the broker lost when the connections are cut, back when they are restored, and consume what is published after', async () => {
      proxy = new TcpProxy({ targetPort: brokerPort, targetHost: broker.hostname });
      const port = await proxy.listen();
      transport = new PulsarWebSocketTransport({ url: `http://127.0.0.1:${port}`, reconnectMinMs: 100, reconnectMaxMs: 400, sendTimeoutMs: 1_500, pingIntervalMs: 1_000 });
      const states: TransportAvailability[] = [];
      transport.watch((state) => states.push(state));
      const topic = `watch-${randomUUID()}`;
      const received: string[] = [];
      await transport.subscribe({ topics: [topic], subscription: `sub-${randomUUID()}`, handler: async (d) => void received.push(d.payload) });
      await transport.publish(topic, { key: 'k', payload: 'before' });
      await waitFor(() => received.includes('before'), 'the message published before the cut');
      expect(states, 'reports while connected').to.deep.equal([]);

      proxy.cut();
      await waitFor(() => states.at(-1)?.available === false, 'available=false after the cut');
      expect(states.at(-1)!.reason).to.match(/^(consumer|producer) watch-/);
      const whileCut = await rejection(transport.publish(topic, { key: 'k', payload: 'while cut' }));
      expect(whileCut).to.be.instanceOf(UnavailableError);
      const late: TransportAvailability[] = [];
      const unwatch = transport.watch((state) => late.push(state));
      expect(late.map((s) => s.available), 'a listener added while the broker is lost').to.deep.equal([false]);
      expect(late[0].reason).to.match(/^(consumer|producer) watch-/);
      unwatch();

      proxy.restore();
      await waitFor(() => states.at(-1)?.available === true, 'available=true after the restore', 15_000);
      await transport.publish(topic, { key: 'k', payload: 'after' });
      await waitFor(() => received.includes('after'), 'the message published after the restore');
      expect(states.map((s) => s.available), 'availability reports').to.deep.equal([false, true]);
      expect(late.length, 'reports to a removed listener').to.equal(1);
    });
  });
});

describe('PulsarWebSocketTransport against a stand-in broker', function () {
  this.timeout(10_000);
  let fake: FakeBroker;
  let transport: PulsarWebSocketTransport;

  afterEach(async () => {
    await transport?.close();
    await fake?.close();
  });

  for (const status of [401, 403]) {
    it(`should fail subscribe and publish at once with BrokerAuthError on HTTP ${status}, and not keep reconnecting`, async () => {
      fake = new FakeBroker({ refuseWith: status });
      transport = new PulsarWebSocketTransport({ url: await fake.listen(), reconnectMinMs: 20, sendTimeoutMs: 3_000 });
      const began = Date.now();
      const subscribing = await rejection(transport.subscribe({ topics: ['t'], subscription: 's', handler: async () => undefined }));
      const publishing = await rejection(transport.publish('t', { key: 'k', payload: 'p' }));
      expect(Date.now() - began, 'ms to fail both').to.be.below(1_000);
      for (const error of [subscribing, publishing]) {
        expect(error).to.be.instanceOf(BrokerAuthError);
        expect(error).to.include({ retryable: false, code: 'broker_auth' });
        expect(error.message).to.include(`HTTP ${status}`).and.to.include('set PULSAR_TOKEN');
      }
      const attempts = fake.upgrades.length;
      await delay(300);
      expect(fake.upgrades.length, 'upgrade attempts after the refusal').to.equal(attempts);
    });
  }

  const answers: [string, object, new (...args: never[]) => Error][] = [
    ['send-error:7 (payload encoding)', { result: 'send-error:7', errorMsg: 'Invalid Base64 message-payload' }, MessageRejectedError],
    ['send-error:3 (not JSON)', { result: 'send-error:3', errorMsg: 'Unrecognized token' }, MessageRejectedError],
    ['send-error:8 with a message too big', { result: 'send-error:8', errorMsg: 'org.apache.pulsar.client.api.PulsarClientException$InvalidMessageException: Message size is bigger than 5242880 bytes' }, MessageRejectedError],
    ['send-error:8 with a timeout', { result: 'send-error:8', errorMsg: 'org.apache.pulsar.client.api.PulsarClientException$TimeoutException: Could not send message to broker within given timeout' }, UnavailableError],
    ['send-error:8 with a closed producer', { result: 'send-error:8', errorMsg: 'Producer already closed' }, UnavailableError],
  ];
  for (const [what, answer, type] of answers) {
    it(`should reject publish with ${type.name} when the broker answers ${what}`, async () => {
      fake = new FakeBroker({ answer: () => answer });
      transport = new PulsarWebSocketTransport({ url: await fake.listen() });
      const error = await rejection(transport.publish('t', { key: 'k', payload: 'p' }));
      expect(error).to.be.instanceOf(type);
      expect(error.message).to.include((answer as { result: string }).result);
    });
  }

  it('should pass the message properties of a delivery (a dead-letter topic\'s REAL_TOPIC, ORIGIN_MESSAGE_ID)', async () => {
    const properties = { REAL_TOPIC: 'persistent://public/default/evento-pago', ORIGIN_MESSAGE_ID: '12:0:-1', count: 3 };
    fake = new FakeBroker({ push: { messageId: 'CAUQADAA', payload: Buffer.from('p').toString('base64'), properties, redeliveryCount: 0, key: 'k' } });
    transport = new PulsarWebSocketTransport({ url: await fake.listen() });
    const received: Delivery[] = [];
    await transport.subscribe({ topics: ['sagas-DLQ'], subscription: 's', handler: async (d) => void received.push(d) });
    await waitFor(() => received.length === 1, 'the delivery');
    expect(received[0].properties).to.deep.equal({ REAL_TOPIC: 'persistent://public/default/evento-pago', ORIGIN_MESSAGE_ID: '12:0:-1' });
  });
});

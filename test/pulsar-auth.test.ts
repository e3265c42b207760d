import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { TOPICS } from '../machines/messages.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import { BrokerAuthError } from '../runtime/errors.ts';
import type { Delivery } from '../runtime/ports.ts';
import { PulsarWebSocketTransport } from '../runtime/pulsar-websocket-transport.ts';
import { AUTH_BROKER, javaMissing, startAuthBroker, stopAuthBroker, type AuthBroker } from './support/auth-broker.ts';
import { EVENT_DATA } from './support/event-samples.ts';
import { requireDriver } from './support/pulsar.ts';
import { rejection, waitFor } from './support/wait.ts';
import { freePort } from '../tools/cluster/service-cluster.ts';

/** A JWT for `subject` signed with `key` (HS256), as tools/pulsar/auth-tokens.mjs makes them. */
function token(key: Buffer, subject: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: subject })}`;
  return `${signed}.${createHmac('sha256', key).update(signed).digest('base64url')}`;
}




describe('Pulsar with token authentication (npm run pulsar -- start --auth)', function () {
  this.timeout((AUTH_BROKER.startTimeoutS + 60) * 1000);

  let broker: AuthBroker;
  let started = false;
  const transports: PulsarWebSocketTransport[] = [];
  const children: ChildProcess[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pulsar-auth-'));

  before(async function () {
    const missing = javaMissing();
    if (missing) {
      if (process.env.CI) throw new Error(`the token-authentication broker is required in CI: ${missing}`);
      console.warn(`    (skipping: ${missing})`);
      this.skip();
    }
    broker = await startAuthBroker(); // fails (also under CI) when it does not start
    started = true;
    console.log(`    (broker with token authentication on ${broker.url} ready after ${(broker.startMs / 1000).toFixed(1)} s)`);
  });

  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
  });

  after(async function () {
    this.timeout(60_000);
    fs.rmSync(tmp, { recursive: true, force: true });
    if (started) await stopAuthBroker();
  });

  function transport(tokenValue: string | undefined): PulsarWebSocketTransport {
    const t = new PulsarWebSocketTransport({ url: broker.url, token: tokenValue, sendTimeoutMs: 5_000, reconnectMinMs: 100 });
    transports.push(t);
    return t;
  }

  it('should publish and consume with the client token (PULSAR_TOKEN)', async () => {
    const client = transport(broker.clientToken);
    const topic = `auth-${randomUUID()}`;
    const received: Delivery[] = [];
    await client.subscribe({ topics: [topic], subscription: `sub-${randomUUID()}`, handler: async (d) => void received.push(d) });
    await client.publish(topic, { key: 'k', payload: 'with the token' });
    await waitFor(() => received.length === 1, 'the delivery');
    expect(received[0]).to.include({ payload: 'with the token', key: 'k' });
  });

  const refused: [string, () => string | undefined][] = [
    ['no token', () => undefined],
    ['a token signed with another key', () => token(randomBytes(32), 'saga-client')],
    ['a token that is not a JWT', () => 'not-a-token'],
  ];
  for (const [what, tokenOf] of refused) {
    it(`should refuse a client with ${what} at once with BrokerAuthError, on subscribe and on publish`, async () => {
      const stranger = transport(tokenOf());
      const topic = `auth-${randomUUID()}`;
      const began = Date.now();
      const subscribing = await rejection(stranger.subscribe({ topics: [topic], subscription: `sub-${randomUUID()}`, handler: async () => undefined }));
      const publishing = await rejection(stranger.publish(topic, { key: 'k', payload: 'p' }));
      expect(Date.now() - began, 'ms until both were refused').to.be.below(3_000);
      for (const error of [subscribing, publishing]) {
        expect(error).to.be.instanceOf(BrokerAuthError);
        expect(error).to.include({ retryable: false, code: 'broker_auth' });
        expect(error.message).to.match(/HTTP 401/).and.to.match(/PULSAR_TOKEN/);
      }
    });
  }

  async function startNotificaciones(tokenValue: string | undefined, driver: string): Promise<{ child: ChildProcess; url: string; output: string[] }> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'test',
      SAGA_TRANSPORT: 'pulsar',
      PULSAR_URL: broker.url,
      DATABASE_URL: `sqlite:${path.join(tmp, `notificaciones-${randomUUID().slice(0, 8)}.db`)}`,
      HOST: '127.0.0.1',
      NOTIFICACIONES_PORT: String(port),
      SAGA_PULSAR_DRIVER: driver,
    };
    delete env.PULSAR_TOKEN;
    if (tokenValue) env.PULSAR_TOKEN = tokenValue;
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/service-main.ts', 'notificaciones'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const output: string[] = [];
    child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    return { child, url: `http://127.0.0.1:${port}`, output };
  }

  for (const driver of ['websocket', 'native'] as const) {
    it(`should run a service process with PULSAR_TOKEN over the ${driver} driver: it becomes ready and handles an event published to it`, async function () {
      if (driver === 'native') await requireDriver('native').call(this);
      const { child, url, output } = await startNotificaciones(broker.clientToken, driver);
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`notificaciones exited with ${child.exitCode}:\n${output.join('')}`);
          return fetch(`${url}/ready`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false);
        },
        'notificaciones to be ready',
        60_000,
      );
      const id = randomUUID();
      const event = makeEnvelope('ReservaAprobada', { ...EVENT_DATA.ReservaAprobada, id_correlacion: id, id_reserva: `R-${id.slice(0, 8)}` }, 'vuelos.aeroalpes');
      await transport(broker.clientToken).publish(TOPICS.ReservaAprobada, { key: id, payload: JSON.stringify(event) });
      let sent: unknown[] = [];
      await waitFor(async () => {
        const response = await fetch(`${url}/notificaciones?id_correlacion=${id}`);
        sent = ((await response.json()) as { notificaciones: unknown[] }).notificaciones;
        return sent.length === 1;
      }, 'the notification of the event', 15_000);
      expect(sent[0]).to.include({ id_correlacion: id, tipo: 'ReservaAprobada' });
    });

    it(`should stop a service process without PULSAR_TOKEN over the ${driver} driver with a clear error instead of retrying forever`, async function () {
      if (driver === 'native') await requireDriver('native').call(this);
      const { child, output } = await startNotificaciones(undefined, driver);
      const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
      expect(code, output.join('')).to.equal(1);
      expect(output.join('')).to.match(/notificaciones cannot start/).and.to.match(/HTTP 401/).and.to.match(/set PULSAR_TOKEN/);
    });
  }
});

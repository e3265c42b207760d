import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { TOPICS } from '../machines/messages.ts';
import { connect } from '../db/connect.ts';
import { findIdempotencyKey } from '../db/idempotency-keys.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { Sql } from '../db/sql.ts';
import { UnavailableError } from '../runtime/errors.ts';
import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import type { Delivery, OutgoingMessage, SubscribeOptions, Transport } from '../runtime/ports.ts';
import { loadConfig } from '../services/config.ts';
import { createApp } from '../services/http/app.ts';
import { RESERVAS_SCOPE } from '../services/http/reserva-entry.ts';
import { startService, type ServiceProcess } from '../services/process.ts';
import type { System } from '../services/system.ts';
import { eachDatabase } from './support/databases.ts';
import { serveApp, type HttpClient } from './support/http.ts';
import { startSystem, waitForStatus } from './support/system.ts';

const reserva = { id_cliente: 'cliente-idem', monto: 320, monto_vat: 60.8, itinerarios: [{ origen: 'BOG', destino: 'CTG' }] };

/** A broker that can be down: publishing fails while `down`; the rest is an in-process broker. */
class FlakyTransport implements Transport {
  down = false;
  constructor(readonly inner = new InMemoryTransport()) {}
  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    if (this.down) throw new UnavailableError('broker unreachable (test)');
    await this.inner.publish(topic, message);
  }
  subscribe(options: SubscribeOptions) {
    return this.inner.subscribe(options);
  }
  close() {
    return this.inner.close();
  }
}

async function until<T>(read: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('idempotent entry: POST /reservas with an Idempotency-Key', function () {
  this.timeout(60_000);

  eachDatabase((db) => {
    describe('on the all-in-one app', function () {
      let system: System;
      let client: HttpClient;
      const sagaCount = async () => (await system.store.listInstances({ limit: 1000 })).length;
      const post = (body: unknown, key?: string) => client.request('POST', '/reservas', body, key === undefined ? {} : { 'idempotency-key': key });
      before(async function () {
        system = await startSystem(await db.fresh());
        client = await serveApp(createApp(system, { log: () => {} }));
      });
      after(async function () {
        await client?.close();
        await system?.close();
      });

      it('should answer a retry with the same key and body with the first answer, and start one saga', async function () {
        const key = randomUUID();
        const before = await sagaCount();
        const first = await post(reserva, key);
        expect(first.status).to.equal(202);
        expect(first.headers.get('idempotent-replayed')).to.equal(null);
        // The same fields in another order and spacing are the same request.
        const again = await client.request('POST', '/reservas', JSON.stringify({ itinerarios: reserva.itinerarios, monto_vat: 60.8, monto: 320, id_cliente: 'cliente-idem' }, null, 2), { 'idempotency-key': key });
        expect(again.status).to.equal(202);
        expect(again.body).to.deep.equal(first.body);
        expect(again.headers.get('location')).to.equal(first.headers.get('location'));
        expect(again.headers.get('idempotent-replayed')).to.equal('true');
        expect(await sagaCount()).to.equal(before + 1);
        const saga = await waitForStatus(system, first.body.id_correlacion, 'completed');
        expect((saga.snapshot as { context: { id_reserva: string } }).context.id_reserva).to.equal(first.body.id_reserva);
        expect((await post(reserva, key)).body).to.deep.equal(first.body);
        expect(await sagaCount()).to.equal(before + 1);
      });

      it('should refuse the same key with another body with 409 and start no saga', async function () {
        const key = randomUUID();
        const first = await post(reserva, key);
        expect(first.status).to.equal(202);
        const before = await sagaCount();
        const reused = await post({ ...reserva, monto: 999 }, key);
        expect(reused.status).to.equal(409);
        expect(reused.body.error.code).to.equal('idempotency_key_reused');
        expect(reused.body.error.message).to.include(key);
        expect(await sagaCount()).to.equal(before);
        // The first answer stays the key's answer.
        expect((await post(reserva, key)).body).to.deep.equal(first.body);
      });

      it('should refuse an Idempotency-Key longer than 128 characters, or not visible ASCII, with 400 naming it', async function () {
        const before = await sagaCount();
        for (const key of ['k'.repeat(129), 'two words', '']) {
          const answer = await post(reserva, key);
          expect(answer.status, JSON.stringify(key)).to.equal(400);
          expect(answer.body.error.code).to.equal('invalid');
          expect(answer.body.error.message).to.include('Idempotency-Key');
        }
        expect(await sagaCount()).to.equal(before);
        expect((await post(reserva, 'k'.repeat(128))).status).to.equal(202);
      });

      it('should start one saga for concurrent requests with one key, and give each the same answer', async function () {
        const key = randomUUID();
        const before = await sagaCount();
        const answers = await Promise.all(Array.from({ length: 12 }, () => post(reserva, key)));
        expect(answers.map((a) => a.status)).to.deep.equal(Array(12).fill(202));
        expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).to.equal(1);
        expect(answers.filter((a) => a.headers.get('idempotent-replayed') === null)).to.have.length(1);
        expect(await sagaCount()).to.equal(before + 1);
        await waitForStatus(system, answers[0].body.id_correlacion, 'completed');
      });

      it('should start the saga on a retry when the first attempt stopped between recording the key and starting it', async function () {
        const key = randomUUID();
        const before = await sagaCount();
        const start = system.requestReserva;
        system.requestReserva = async () => {
          throw new Error('process died here (test)');
        };
        try {
          expect((await post(reserva, key)).status).to.equal(500);
        } finally {
          system.requestReserva = start;
        }
        const recorded = await findIdempotencyKey(new Sql(system.sequelize), RESERVAS_SCOPE, key);
        const ids = (recorded?.response as { body: { id_correlacion: string; id_reserva: string } }).body;
        expect(await system.store.getInstance('reserva', ids.id_correlacion)).to.equal(null);
        expect(await sagaCount()).to.equal(before);

        const retry = await post(reserva, key);
        expect(retry.status).to.equal(202);
        expect(retry.body).to.deep.equal(ids);
        await waitForStatus(system, ids.id_correlacion, 'completed');
        expect((await post(reserva, key)).body).to.deep.equal(ids);
        expect(await sagaCount()).to.equal(before + 1);
      });

      it('should compare keys exactly: keys that differ in case are two keys', async function () {
        const key = `Pedido-${randomUUID()}`;
        const upper = await post(reserva, key);
        const lower = await post(reserva, key.toLowerCase());
        expect(upper.status).to.equal(202);
        expect(lower.status).to.equal(202);
        expect(lower.body.id_correlacion).not.to.equal(upper.body.id_correlacion);
        expect(lower.headers.get('idempotent-replayed')).to.equal(null);
      });

      it('should start a saga per request without the header, as before', async function () {
        const before = await sagaCount();
        const [a, b] = [await post(reserva), await post(reserva)];
        expect(a.status).to.equal(202);
        expect(b.status).to.equal(202);
        expect(a.body.id_correlacion).not.to.equal(b.body.id_correlacion);
        expect(await sagaCount()).to.equal(before + 2);
      });
    });

    describe('on vuelos as a process', function () {
      const started: (() => Promise<void>)[] = [];
      afterEach(async () => {
        for (const stop of started.splice(0).reverse()) await stop();
      });
      const startVuelos = async (url: string, transport: Transport) => {
        const config = { ...loadConfig({}), databaseUrl: url };
        const service: ServiceProcess = await startService('vuelos', config, { transport, relayPollMs: 50 });
        const client = await serveApp(service.app);
        let stopped = false;
        const stop = async () => {
          if (stopped) return;
          stopped = true;
          await client.close();
          await service.close();
        };
        started.push(stop);
        return { client, stop };
      };
      const pendingOutbox = async (url: string) => {
        const store = new SequelizeSagaStore(await connect(url));
        try {
          return await store.pendingOutbox(100);
        } finally {
          await store.close();
        }
      };

      const outboxRows = async (url: string) => {
        const sequelize = await connect(url);
        try {
          const rows = await new Sql(sequelize).select<{ topic: string; msg_key: string; sent: number | string }>(
            'SELECT topic, msg_key, CASE WHEN sent_at IS NULL THEN 0 ELSE 1 END AS sent FROM outbox ORDER BY seq',
          );
          return rows.map((r) => ({ ...r, sent: Number(r.sent) }));
        } finally {
          await sequelize.close();
        }
      };

      it('should accept a request while the broker is down, publish its IniciarReserva once the broker is back, and answer a retry with the same saga', async function () {
        const url = await db.fresh();
        const key = randomUUID();
        const broker = new FlakyTransport();
        broker.down = true;
        const first = await startVuelos(url, broker);
        const accepted = await first.client.request('POST', '/reservas', reserva, { 'idempotency-key': key });
        expect(accepted.status).to.equal(202);
        const { id_correlacion, id_reserva } = accepted.body;
        // Committed with the key, waiting for the broker.
        const pending = await pendingOutbox(url);
        expect(pending.map((m) => [m.topic, m.key])).to.deep.equal([[TOPICS.IniciarReserva, id_correlacion]]);
        // vuelos dies after the commit, before anything reached the broker.
        await first.stop();

        const up = new InMemoryTransport();
        const requests: Delivery[] = [];
        await up.subscribe({ topics: [TOPICS.IniciarReserva], subscription: 'coordinator', handler: async (d) => void requests.push(d) });
        const second = await startVuelos(url, up);
        await until(() => (requests.length > 0 ? true : undefined), 'the IniciarReserva the first vuelos committed');
        const sent = JSON.parse(requests[0].payload);
        expect(sent.type).to.equal('IniciarReserva');
        expect(sent.data).to.include({ id_correlacion, id_reserva, id_cliente: reserva.id_cliente, monto: reserva.monto });

        // The client never saw the 202 and retries: the same saga, and nothing sent again.
        const retry = await second.client.request('POST', '/reservas', reserva, { 'idempotency-key': key });
        expect(retry.status).to.equal(202);
        expect(retry.body).to.deep.equal({ id_correlacion, id_reserva });
        expect(retry.headers.get('idempotent-replayed')).to.equal('true');
        // Everything vuelos ever committed to send: the one IniciarReserva, published once.
        const rows = await until(async () => {
          const all = await outboxRows(url);
          return all.every((r) => r.sent === 1) ? all : undefined;
        }, 'the outbox marked sent');
        expect(rows).to.deep.equal([{ topic: TOPICS.IniciarReserva, msg_key: id_correlacion, sent: 1 }]);
        expect(requests.map((d) => JSON.parse(d.payload).data.id_correlacion)).to.deep.equal([id_correlacion]);
      });

      it('should refuse an id_cliente of 65 characters with 400 naming it, and send nothing', async function () {
        const url = await db.fresh();
        const broker = new FlakyTransport();
        const vuelos = await startVuelos(url, broker);
        const refused = await vuelos.client.request('POST', '/reservas', { ...reserva, id_cliente: 'c'.repeat(65) });
        expect(refused.status).to.equal(400);
        expect(refused.body.error.message).to.include('"id_cliente"');
        expect(await pendingOutbox(url)).to.deep.equal([]);
        expect((await vuelos.client.request('POST', '/reservas', { ...reserva, id_cliente: 'c'.repeat(64) })).status).to.equal(202);
      });
    });
  });
});

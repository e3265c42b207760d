import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../services/config.ts';
import { createApp } from '../services/http/app.ts';
import { createSystem, type System } from '../services/system.ts';
import { startSystem } from './support/system.ts';

interface Answer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** An app of `system` on a random local port. */
async function serve(system: System, log: (message: string, fields?: Record<string, unknown>) => void = () => {}) {
  const server: Server = await new Promise((resolve) => {
    const s = createApp(system, { log }).listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    async request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
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

type Client = Awaited<ReturnType<typeof serve>>;

async function poll(client: Client, url: string, done: (answer: Answer) => boolean, timeoutMs = 10_000): Promise<Answer> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const answer = await client.request('GET', url);
    if (done(answer)) return answer;
    if (Date.now() > until) throw new Error(`GET ${url} never matched; last answer ${answer.status} ${JSON.stringify(answer.body).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const reserva = { id_cliente: 'cliente-7', monto: 320, monto_vat: 60.8, itinerarios: [{ origen: 'BOG', destino: 'CTG', fecha: '2026-12-20' }] };

describe('HTTP API', function () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-http-'));
  let counter = 0;
  const freshDatabase = () => `sqlite:${path.join(dir, `h${++counter}.db`)}`;
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('with test endpoints on', function () {
    let system: System;
    let client: Client;
    before(async function () {
      system = await startSystem(freshDatabase());
      expect(system.config.testEndpoints).to.equal(true);
      client = await serve(system);
    });
    after(async function () {
      await client?.close();
      await system?.close();
    });

    it('should answer /health and /ready', async function () {
      expect(await client.request('GET', '/health')).to.include({ status: 200 }).and.to.have.deep.property('body', { status: 'ok' });
      expect((await client.request('GET', '/ready')).status).to.equal(200);
    });

    it('should start a reservation with 202 and a Location, and show the saga completed with its log', async function () {
      const started = await client.request('POST', '/reservas', reserva);
      expect(started.status).to.equal(202);
      const { id_correlacion, id_reserva } = started.body;
      expect(id_correlacion).to.be.a('string').and.not.equal(id_reserva);
      expect(started.headers.get('location')).to.equal(`/sagas/${id_correlacion}`);

      const { body: saga } = await poll(client, started.headers.get('location')!, (a) => a.body?.status === 'completed');
      expect(saga).to.include({ id: id_correlacion, type: 'reserva', state: 'completada' });
      expect(saga.context).to.include({ id_cliente: reserva.id_cliente, monto: reserva.monto, id_reserva });
      expect(saga.context.plazos).to.deep.equal({ paso: system.config.plazoPasoMs, compensacion: system.config.plazoCompensacionMs });
      expect(saga.deadlines).to.deep.equal([]);
      const stored = await system.store.readLog('reserva', id_correlacion);
      expect(saga.log.map((e: { seq: number; type: string; messageId: string | null }) => [e.seq, e.type, e.messageId])).to.deep.equal(
        stored.map((e) => [e.seq, e.type, e.messageId]),
      );
      expect(saga.log.map((e: { type: string }) => e.type)).to.include.members(['CrearReserva', 'ReservaPagada', 'ReservaAprobada']);

      const verified = await client.request('GET', `/sagas/${id_correlacion}/verify`);
      expect(verified.status).to.equal(200);
      expect(verified.body).to.include({ ok: true, sagaId: id_correlacion });
    });

    it('should list sagas by status, newest first, and refuse an unknown status', async function () {
      const first = (await client.request('POST', '/reservas', reserva)).body.id_correlacion;
      await poll(client, `/sagas/${first}`, (a) => a.body?.status === 'completed');
      const second = (await client.request('POST', '/reservas', reserva)).body.id_correlacion;
      await poll(client, `/sagas/${second}`, (a) => a.body?.status === 'completed');

      const completed = await client.request('GET', '/sagas?status=completed');
      expect(completed.status).to.equal(200);
      const ids = completed.body.sagas.map((s: { id: string }) => s.id);
      expect(ids.indexOf(second)).to.be.within(0, ids.indexOf(first) - 1);
      expect(completed.body.sagas.every((s: { status: string }) => s.status === 'completed')).to.equal(true);
      const limited = await client.request('GET', '/sagas?limit=1');
      expect(limited.body.sagas).to.have.length(1);
      const running = await client.request('GET', '/sagas?status=running');
      expect(running.body.sagas.map((s: { id: string }) => s.id)).not.to.include(first);

      const invalid = await client.request('GET', '/sagas?status=done');
      expect(invalid.status).to.equal(400);
      expect(invalid.body.error.message).to.include('"status"');
    });

    for (const [name, body, field] of [
      ['a missing id_cliente', { monto: 10 }, '"id_cliente"'],
      ['a negative monto', { id_cliente: 'c', monto: -5 }, '"monto"'],
      ['a monto given as a string', { id_cliente: 'c', monto: '10' }, '"monto"'],
      ['a negative monto_vat', { id_cliente: 'c', monto: 10, monto_vat: -1 }, '"monto_vat"'],
      ['itinerarios that are not objects', { id_cliente: 'c', monto: 10, itinerarios: ['BOG'] }, '"itinerarios"'],
      ['an unknown simular_fallo', { id_cliente: 'c', monto: 10, simular_fallo: 'meteorito' }, '"simular_fallo"'],
      ['a body that is not an object', [1, 2], 'JSON object'],
    ] as const) {
      it(`should refuse ${name} with 400 naming the field and start no saga`, async function () {
        const before = (await system.store.listInstances({ limit: 1000 })).length;
        const answer = await client.request('POST', '/reservas', body);
        expect(answer.status).to.equal(400);
        expect(answer.body.error.code).to.equal('invalid');
        expect(answer.body.error.message).to.include(field);
        expect(await system.store.listInstances({ limit: 1000 })).to.have.length(before);
      });
    }

    it('should refuse malformed JSON with 400 and a non-JSON content type with 415', async function () {
      const malformed = await client.request('POST', '/reservas', '{"id_cliente": "c", "monto": ');
      expect(malformed.status).to.equal(400);
      expect(malformed.body.error).to.include({ code: 'invalid' });
      expect(malformed.body.error.message).to.match(/not valid JSON/);
      const text = await client.request('POST', '/reservas', 'id_cliente=c', { 'content-type': 'text/plain' });
      expect(text.status).to.equal(415);
    });

    it('should refuse a body over 1 MB with 413', async function () {
      const answer = await client.request('POST', '/reservas', { ...reserva, relleno: 'x'.repeat(1024 * 1024) });
      expect(answer.status).to.equal(413);
      expect(answer.body.error.code).to.equal('payload_too_large');
    });

    it('should answer 404 JSON for an unknown saga and an unknown route', async function () {
      const saga = await client.request('GET', '/sagas/no-such-saga');
      expect(saga.status).to.equal(404);
      expect(saga.body.error.code).to.equal('unknown_saga');
      expect(saga.body.error.message).to.include('no-such-saga');
      expect((await client.request('GET', '/sagas/no-such-saga/verify')).body.error.code).to.equal('unknown_saga');
      const route = await client.request('GET', '/no/such/route');
      expect(route.status).to.equal(404);
      expect(route.body.error.code).to.equal('not_found');
    });

    it('should move a saga paused in pagando on with /prueba-reserva-pagada until it completes', async function () {
      const started = await client.request('POST', '/reservas', { ...reserva, simular_fallo: 'timeout-pago' });
      expect(started.status).to.equal(202);
      const { id_correlacion, id_reserva } = started.body;
      const paused = await poll(client, `/sagas/${id_correlacion}`, (a) => a.body?.state === 'pagando');
      expect(paused.body.deadlines).to.have.length(1);
      expect(paused.body.deadlines[0].dueAt).to.be.greaterThan(Date.now());

      const query = new URLSearchParams({ id_correlacion, id_reserva, monto: String(reserva.monto), monto_vat: String(reserva.monto_vat) });
      const published = await client.request('GET', `/prueba-reserva-pagada?${query}`);
      expect(published.status).to.equal(202);
      expect(published.body).to.include({ published: 'ReservaPagada', topic: 'evento-pago' });

      const { body: saga } = await poll(client, `/sagas/${id_correlacion}`, (a) => a.body?.status !== 'running');
      expect(saga).to.include({ status: 'completed', state: 'completada' });
      const states = saga.log.filter((e: { kind: string }) => e.kind === 'state').map((e: { type: string }) => e.type);
      expect(states.slice(states.indexOf('pagando'))).to.deep.equal(['pagando', 'confirmandoGds', 'aprobando', 'completada']);
      const paid = saga.log.find((e: { type: string }) => e.type === 'ReservaPagada');
      expect(paid.messageId).to.equal(published.body.id);
      expect(paid.payload).to.include({ id_reserva, monto: reserva.monto, monto_vat: reserva.monto_vat });
    });

    it('should refuse a test endpoint call without id_correlacion or with a malformed number', async function () {
      const missing = await client.request('GET', '/prueba-pagar-reserva?id_reserva=R-1&monto=10&monto_vat=0');
      expect(missing.status).to.equal(400);
      expect(missing.body.error.message).to.include('"id_correlacion"');
      const number = await client.request('GET', '/prueba-pagar-reserva?id_correlacion=c&id_reserva=R-1&monto=diez&monto_vat=0');
      expect(number.status).to.equal(400);
      expect(number.body.error.message).to.include('"monto"');
      const failure = await client.request('GET', '/prueba-confirmar-reserva?id_correlacion=c&id_reserva=R-1&simular_fallo=meteorito');
      expect(failure.status).to.equal(400);
      expect(failure.body.error.message).to.include('simular_fallo');
    });

    it('should dead-letter an event published for an unknown saga and list it in /dead-letters', async function () {
      const query = new URLSearchParams({ id_correlacion: 'sin-saga', id_reserva: 'R-0' });
      const published = await client.request('GET', `/prueba-confirmacion-revertida?${query}`);
      expect(published.status).to.equal(202);
      expect(published.body).to.include({ published: 'ConfirmacionGDSRevertida', topic: 'evento-gds' });
      const { body } = await poll(client, '/dead-letters', (a) => a.body.deadLetters.some((l: { messageId: string }) => l.messageId === published.body.id));
      const letter = body.deadLetters.find((l: { messageId: string }) => l.messageId === published.body.id);
      expect(letter).to.include({ code: 'unknown_saga', sagaId: 'sin-saga', type: 'ConfirmacionGDSRevertida' });
    });
  });

  describe('with test endpoints off (NODE_ENV=production)', function () {
    let system: System;
    let client: Client;
    before(async function () {
      const config = { ...loadConfig({ NODE_ENV: 'production' }), databaseUrl: freshDatabase() };
      expect(config.testEndpoints).to.equal(false);
      system = await createSystem(config, { relayPollMs: 50, deadlinePollMs: 100 });
      client = await serve(system);
    });
    after(async function () {
      await client?.close();
      await system?.close();
    });

    it('should not register the /prueba-* endpoints', async function () {
      const query = new URLSearchParams({ id_correlacion: 'c', id_reserva: 'R-1', monto: '1', monto_vat: '0' });
      for (const path of ['/prueba-reserva-pagada', '/prueba-pagar-reserva', '/prueba-revertir-confirmacion']) {
        const answer = await client.request('GET', `${path}?${query}`);
        expect(answer.status, path).to.equal(404);
        expect(answer.body.error.code).to.equal('not_found');
      }
    });

    it('should refuse simular_fallo with 400 but still start plain reservations', async function () {
      const refused = await client.request('POST', '/reservas', { ...reserva, simular_fallo: 'pago' });
      expect(refused.status).to.equal(400);
      expect(refused.body.error.message).to.include('"simular_fallo"').and.to.include('test endpoints are off');
      expect(await system.store.listInstances()).to.have.length(0);
      const accepted = await client.request('POST', '/reservas', reserva);
      expect(accepted.status).to.equal(202);
    });
  });

  describe('with the database gone', function () {
    it('should answer /ready with 503, other routes with a logged 500 "internal error", and /health with 200', async function () {
      const system = await startSystem(freshDatabase());
      const logged: Record<string, unknown>[] = [];
      const client = await serve(system, (_message, fields) => logged.push(fields ?? {}));
      try {
        await system.close();
        const ready = await client.request('GET', '/ready');
        expect(ready.status).to.equal(503);
        expect(ready.body.error.code).to.equal('unavailable');
        const list = await client.request('GET', '/sagas');
        expect(list.status).to.equal(500);
        expect(list.body.error).to.deep.equal({ code: 'internal', message: 'internal error' });
        expect(logged).to.have.length(1);
        expect(logged[0]).to.include({ method: 'GET', path: '/sagas' });
        expect(logged[0].stack).to.be.a('string').and.match(/\n\s+at /);
        expect((await client.request('GET', '/health')).status).to.equal(200);
      } finally {
        await client.close();
      }
    });
  });
});

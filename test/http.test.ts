import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { SIMULATED_FAILURES } from '../machines/messages.ts';
import { loadConfig } from '../services/config.ts';
import { createApp, type AppOptions } from '../services/http/app.ts';
import { createSystem, type System } from '../services/system.ts';
import { silent, type Log, type LogFields } from '../runtime/logger.ts';
import { serveApp, type Answer, type HttpClient } from './support/http.ts';
import { startSystem } from './support/system.ts';

/** An app of `system` on a random local port. */
function serve(system: System, log: Log = silent, options: AppOptions = {}) {
  return serveApp(createApp(system, { log, ...options }));
}

type Client = HttpClient;

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
      expect(saga.context.plazos).to.deep.equal({ paso: system.config.plazoPasoMs, compensacion: system.config.plazoCompensacionMs, compensacionMax: system.config.plazoCompensacionMaxMs, horizonte: system.config.horizonteCompensacionMs });
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
      ['itinerarios that are not objects', { id_cliente: 'c', monto: 10, itinerarios: ['BOG'] }, '"itinerarios[0]"'],
      ['a blank id_cliente', { id_cliente: '  ', monto: 10 }, '"id_cliente"'],
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

    it("should say what is wrong with a field as a message's own schema says it (IniciarReserva's fields, a request's rules)", async function () {
      const reasons = [];
      for (const body of [
        { id_cliente: 'c', monto: '10' },
        { id_cliente: 'c'.repeat(65), monto: 10 },
        { id_cliente: 'c', monto: 0 },
        { id_cliente: 'c', monto: 10, monto_vat: -1 },
        { id_cliente: 'c', monto: 10, itinerarios: [{ origen: 'BOG' }, 'MDE'] },
        { id_cliente: 'c', monto: 10, simular_fallo: 'meteorito' },
      ]) {
        reasons.push((await client.request('POST', '/reservas', body)).body.error.message);
      }
      expect(reasons).to.deep.equal([
        '"monto": expected number, received string',
        '"id_cliente": longer than 64 characters',
        '"monto": must be greater than 0',
        '"monto_vat": must be at least 0',
        '"itinerarios[1]": expected object, received string',
        `"simular_fallo": must be one of ${SIMULATED_FAILURES.join(', ')}; received "meteorito"`,
      ]);
    });

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

    it('should refuse a body over 64 KiB with 413, below what one broker message carries', async function () {
      const before = (await system.store.listInstances({ limit: 1000 })).length;
      const answer = await client.request('POST', '/reservas', { ...reserva, relleno: 'x'.repeat(70 * 1024) });
      expect(answer.status).to.equal(413);
      expect(answer.body.error.code).to.equal('payload_too_large');
      expect(await system.store.listInstances({ limit: 1000 })).to.have.length(before);
    });

    it('should refuse an id_cliente longer than its column (64) with 400 naming it, and accept 64 characters', async function () {
      const before = (await system.store.listInstances({ limit: 1000 })).length;
      const tooLong = await client.request('POST', '/reservas', { ...reserva, id_cliente: 'c'.repeat(65) });
      expect(tooLong.status).to.equal(400);
      expect(tooLong.body.error).to.include({ code: 'invalid' });
      expect(tooLong.body.error.message).to.include('"id_cliente"').and.to.include('64');
      expect(await system.store.listInstances({ limit: 1000 })).to.have.length(before);
      const longest = await client.request('POST', '/reservas', { ...reserva, id_cliente: 'c'.repeat(64) });
      expect(longest.status).to.equal(202);
      const { body: saga } = await poll(client, `/sagas/${longest.body.id_correlacion}`, (a) => a.body?.status !== 'running');
      expect(saga.status).to.equal('completed');
    });

    it('should refuse itinerarios over 16 KiB of JSON with 400 naming them', async function () {
      const before = (await system.store.listInstances({ limit: 1000 })).length;
      const itinerarios = Array.from({ length: 200 }, (_, i) => ({ origen: 'BOG', destino: 'MDE', nota: `${i}`.padEnd(100, '.') }));
      const answer = await client.request('POST', '/reservas', { ...reserva, itinerarios });
      expect(answer.status).to.equal(400);
      expect(answer.body.error.message).to.include('"itinerarios"');
      expect(await system.store.listInstances({ limit: 1000 })).to.have.length(before);
    });

    it('should refuse a state-changing request that is not application/json with 415, with an empty body too', async function () {
      const before = (await system.store.listInstances({ limit: 1000 })).length;
      const bare = await fetch(`${client.base}/reservas`, { method: 'POST' });
      expect(bare.status).to.equal(415);
      expect((await bare.json()).error.code).to.equal('unsupported_media_type');
      // What an HTML form or a page's fetch without preflight can send.
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        const answer = await client.request('POST', '/reservas', JSON.stringify(reserva), { 'content-type': type });
        expect(answer.status, type).to.equal(415);
        expect(answer.body.error.code).to.equal('unsupported_media_type');
      }
      const test = await client.request('POST', '/prueba-pagar-reserva', 'id_correlacion=c', { 'content-type': 'application/x-www-form-urlencoded' });
      expect(test.status).to.equal(415);
      expect(await system.store.listInstances({ limit: 1000 })).to.have.length(before);
      expect((await client.request('POST', '/reservas', reserva, { 'content-type': 'application/json; charset=utf-8' })).status).to.equal(202);
    });

    it("should refuse a state-changing request from another site's page with 403 and start no saga", async function () {
      const before = (await system.store.listInstances({ limit: 1000 })).length;
      const port = new URL(client.base).port;
      const foreign: Record<string, string>[] = [
        { origin: 'https://evil.example' },
        { origin: 'http://127.0.0.1:1' }, // same host, another port: another origin
        { origin: 'null' },
        { 'sec-fetch-site': 'cross-site' },
        { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      ];
      for (const headers of foreign) {
        const answer = await client.request('POST', '/reservas', reserva, headers);
        expect(answer.status, JSON.stringify(headers)).to.equal(403);
        expect(answer.body.error.code).to.equal('forbidden_origin');
        expect(answer.headers.get('access-control-allow-origin')).to.equal(null);
      }
      expect(await system.store.listInstances({ limit: 1000 })).to.have.length(before);
      // A page the server itself serves (its own origin) may post.
      const own = await client.request('POST', '/reservas', reserva, { origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' });
      expect(own.status).to.equal(202);
      // Reads stay open to links from anywhere (the /ui page).
      expect((await client.request('GET', '/health', undefined, { 'sec-fetch-site': 'cross-site' })).status).to.equal(200);
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

    it('should move a saga paused in pagando on with POST /prueba-reserva-pagada (a JSON body) until it completes', async function () {
      const started = await client.request('POST', '/reservas', { ...reserva, simular_fallo: 'timeout-pago' });
      expect(started.status).to.equal(202);
      const { id_correlacion, id_reserva } = started.body;
      const paused = await poll(client, `/sagas/${id_correlacion}`, (a) => a.body?.state === 'pagando');
      expect(paused.body.deadlines).to.have.length(1);
      expect(paused.body.deadlines[0].dueAt).to.be.greaterThan(Date.now());

      const published = await client.request('POST', '/prueba-reserva-pagada', { id_correlacion, id_reserva, monto: reserva.monto, monto_vat: reserva.monto_vat });
      expect(published.status).to.equal(202);
      expect(published.headers.get('deprecation')).to.equal(null);
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
      const missing = await client.request('POST', '/prueba-pagar-reserva', { id_reserva: 'R-1', monto: 10, monto_vat: 0 });
      expect(missing.status).to.equal(400);
      expect(missing.body.error.message).to.include('"id_correlacion"');
      const number = await client.request('POST', '/prueba-pagar-reserva', { id_correlacion: 'c', id_reserva: 'R-1', monto: 'diez', monto_vat: 0 });
      expect(number.status).to.equal(400);
      expect(number.body.error.message).to.include('"monto"');
      const failure = await client.request('POST', '/prueba-confirmar-reserva', { id_correlacion: 'c', id_reserva: 'R-1', simular_fallo: 'meteorito' });
      expect(failure.status).to.equal(400);
      expect(failure.body.error.message).to.include('simular_fallo');
      const tooLong = await client.request('POST', '/prueba-confirmar-reserva', { id_correlacion: 'c'.repeat(65), id_reserva: 'R-1' });
      expect(tooLong.status).to.equal(400);
      expect(tooLong.body.error.message).to.include('id_correlacion');
    });

    it('should take the fields of POST /prueba-* from query parameters too, with an empty JSON body', async function () {
      const query = new URLSearchParams({ id_correlacion: 'sin-saga-q', id_reserva: 'R-Q', monto: '10', monto_vat: '0' });
      const published = await client.request('POST', `/prueba-pagar-reserva?${query}`, undefined, { 'content-type': 'application/json' });
      expect(published.status).to.equal(202);
      expect(published.body).to.include({ published: 'PagarReserva', topic: 'comando-pagar-reserva' });
    });

    it("should still answer the seed's GET /prueba-* names, marked deprecated, but not for another site's page", async function () {
      const query = new URLSearchParams({ id_correlacion: 'sin-saga-get', id_reserva: 'R-G' });
      const published = await client.request('GET', `/prueba-confirmacion-revertida?${query}`);
      expect(published.status).to.equal(202);
      expect(published.body).to.include({ published: 'ConfirmacionGDSRevertida' });
      expect(published.headers.get('deprecation')).to.equal('true');
      expect(published.headers.get('warning')).to.include('POST /prueba-confirmacion-revertida');
      // An <img src> on another site's page would send this GET with the user's browser.
      const forged = await client.request('GET', `/prueba-confirmacion-revertida?${query}`, undefined, { 'sec-fetch-site': 'cross-site' });
      expect(forged.status).to.equal(403);
      expect(forged.body.error.code).to.equal('forbidden_origin');
    });

    it('should dead-letter an event published for an unknown saga and list it in /dead-letters', async function () {
      const published = await client.request('POST', '/prueba-confirmacion-revertida', { id_correlacion: 'sin-saga', id_reserva: 'R-0' });
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
      const fields = { id_correlacion: 'c', id_reserva: 'R-1', monto: '1', monto_vat: '0' };
      for (const path of ['/prueba-reserva-pagada', '/prueba-pagar-reserva', '/prueba-revertir-confirmacion']) {
        for (const answer of [await client.request('POST', path, fields), await client.request('GET', `${path}?${new URLSearchParams(fields)}`)]) {
          expect(answer.status, path).to.equal(404);
          expect(answer.body.error.code).to.equal('not_found');
        }
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

  describe('with SAGA_ALLOWED_ORIGINS', function () {
    const allowed = 'https://app.example.com';
    let system: System;
    let client: Client;
    before(async function () {
      system = await startSystem(freshDatabase());
      client = await serve(system, () => {}, { allowedOrigins: loadConfig({ SAGA_ALLOWED_ORIGINS: `${allowed}, http://localhost:8000` }).allowedOrigins });
    });
    after(async function () {
      await client?.close();
      await system?.close();
    });

    it('should read the listed origins as browsers send them, none by default, and refuse what is not an origin', function () {
      expect(loadConfig({}).allowedOrigins).to.deep.equal([]);
      expect(loadConfig({ SAGA_ALLOWED_ORIGINS: 'https://App.Example.com:443, http://localhost:8000/,,' }).allowedOrigins).to.deep.equal(['https://app.example.com', 'http://localhost:8000']);
      expect(() => loadConfig({ SAGA_ALLOWED_ORIGINS: 'app.example.com' })).to.throw('SAGA_ALLOWED_ORIGINS');
      expect(() => loadConfig({ SAGA_ALLOWED_ORIGINS: 'https://app.example.com/path' })).to.throw('SAGA_ALLOWED_ORIGINS');
      expect(() => loadConfig({ SAGA_ALLOWED_ORIGINS: 'ftp://app.example.com' })).to.throw('SAGA_ALLOWED_ORIGINS');
    });

    it("should let an allowed origin's page post, with CORS answers, and still refuse any other origin", async function () {
      const preflight = await client.request('OPTIONS', '/reservas', undefined, {
        origin: allowed,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, idempotency-key',
      });
      expect(preflight.status).to.equal(204);
      expect(preflight.headers.get('access-control-allow-origin')).to.equal(allowed);
      expect(preflight.headers.get('access-control-allow-methods')).to.include('POST');
      expect(preflight.headers.get('access-control-allow-headers')).to.include('Idempotency-Key');
      const posted = await client.request('POST', '/reservas', reserva, { origin: allowed, 'sec-fetch-site': 'cross-site' });
      expect(posted.status).to.equal(202);
      expect(posted.headers.get('access-control-allow-origin')).to.equal(allowed);
      expect(posted.headers.get('access-control-expose-headers')).to.include('Location');
      expect(posted.headers.get('vary')).to.include('Origin');

      const other = await client.request('POST', '/reservas', reserva, { origin: 'https://evil.example' });
      expect(other.status).to.equal(403);
      const otherPreflight = await client.request('OPTIONS', '/reservas', undefined, { origin: 'https://evil.example', 'access-control-request-method': 'POST' });
      expect(otherPreflight.headers.get('access-control-allow-origin')).to.equal(null);
    });
  });

  describe('with the database gone', function () {
    it('should answer /ready with 503, other routes with a logged 500 "internal error", and /health with 200', async function () {
      const system = await startSystem(freshDatabase());
      const logged: LogFields[] = [];
      const requests: LogFields[] = [];
      const client = await serve(system, (message, fields = {}) => (message === 'request' ? requests : logged).push(fields));
      try {
        await system.close();
        const ready = await client.request('GET', '/ready');
        expect(ready.status).to.equal(503);
        expect(ready.body.error.code).to.equal('unavailable');
        const list = await client.request('GET', '/sagas');
        expect(list.status).to.equal(500);
        expect(list.body.error).to.deep.equal({ code: 'internal', message: 'internal error' });
        expect(logged).to.have.length(1);
        expect(logged[0]).to.include({ level: 'error', method: 'GET', path: '/sagas' });
        expect((logged[0].err as Error).stack).to.be.a('string').and.match(/\n\s+at /);
        expect((await client.request('GET', '/health')).status).to.equal(200);
        // The access log: a debug line per request, with its answer.
        expect(requests.map(({ method, path, status, level }) => ({ method, path, status, level }))).to.deep.equal([
          { method: 'GET', path: '/ready', status: 503, level: 'debug' },
          { method: 'GET', path: '/sagas', status: 500, level: 'debug' },
          { method: 'GET', path: '/health', status: 200, level: 'debug' },
        ]);
        expect(requests[0].ms).to.be.a('number');
      } finally {
        await client.close();
      }
    });
  });
});

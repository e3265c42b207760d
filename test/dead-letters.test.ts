import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeEnvelope } from '../runtime/envelope.ts';
import { createApp } from '../services/http/app.ts';
import type { System } from '../services/system.ts';
import { eachDatabase } from './support/databases.ts';
import { ADMIN, reservaInput, startSystem } from './support/system.ts';
import { waitFor } from './support/wait.ts';

/**
 * Working the dead letters over HTTP and on /ui: an event that came before its saga existed
 * is dead-lettered, the saga is started (the fix), and the replay brings the event back
 * through the broker to the saga; another is discarded with a reason. Both are recorded.
 */
describe('dead letters over HTTP and on /ui', function () {
  this.timeout(30_000);

  eachDatabase((db) => {
    let system: System;
    let server: http.Server;
    let base: string;

    beforeEach(async () => {
      system = await startSystem(await db.fresh(), { listen: false });
      await system.runtime.listen(); // the saga consumes; the participants do not answer
      system.relay.start();
      server = http.createServer(createApp(system, { log: () => {} }).callback());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterEach(async () => {
      server.close();
      await system.close();
    });

    /** An admin's request (`headers` may take the token away with `authorization: ''`). */
    const post = (path: string, body: unknown = {}, headers: Record<string, string> = {}) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...ADMIN, ...headers }, body: JSON.stringify(body) });

    it('should replay an event that came before its saga existed, once the saga runs, and discard another with its reason', async () => {
      const input = reservaInput();
      const id = input.id_correlacion;
      const early = makeEnvelope('ReservaCreada', { id_correlacion: id, id_reserva: input.id_reserva, id_cliente: 'c', estado: 'pendiente', fecha_creacion: 1, monto: 250, monto_vat: 0 }, 'vuelos.aeroalpes');
      const stray = makeEnvelope('PagoFallido', { id_correlacion: 'nobody', id_reserva: 'r', motivo: 'x' }, 'pagos.aeroalpes');
      await system.transport.publish('evento-reserva', { key: id, payload: JSON.stringify(early) });
      await system.transport.publish('evento-pago', { key: 'nobody', payload: JSON.stringify(stray) });
      const open = await waitFor(async () => {
        const body = (await (await fetch(`${base}/dead-letters?status=open`)).json()) as { deadLetters: { id: number; sagaId: string; code: string }[] };
        return body.deadLetters.length === 2 && body.deadLetters;
      }, 'both events to be dead-lettered');
      expect(open.map((l) => l.code)).to.deep.equal(['unknown_saga', 'unknown_saga']);
      const earlyId = open.find((l) => l.sagaId === id)!.id;
      const strayId = open.find((l) => l.sagaId === 'nobody')!.id;

      const one = await fetch(`${base}/dead-letters/${earlyId}`);
      expect(one.status).to.equal(200);
      expect(((await one.json()) as { deadLetter: { payload: string } }).deadLetter.payload).to.equal(JSON.stringify(early));
      expect((await fetch(`${base}/dead-letters/999999`)).status).to.equal(404);
      expect((await fetch(`${base}/dead-letters/${earlyId}/replay`, { method: 'POST' })).status, 'state changes need JSON').to.equal(415);

      await system.runtime.startSaga('reserva', input, { id }); // the fix: the saga exists now
      expect((await post(`/dead-letters/${earlyId}/replay`, {}, { authorization: '' })).status, 'an admin action without the token').to.equal(403);
      expect((await post(`/dead-letters/${earlyId}/replay`, {}, { authorization: 'Bearer wrong' })).status, 'with a wrong token').to.equal(403);
      const replay = await post(`/dead-letters/${earlyId}/replay`);
      expect(replay.status).to.equal(200);
      expect(await replay.json()).to.deep.include({ action: 'republished to evento-reserva' });
      await waitFor(async () => (await system.store.getInstance('reserva', id))?.stateValue === 'pagando', 'the replayed event to reach the saga');
      const events = (await system.store.readLog('reserva', id)).filter((e) => e.kind === 'event').map((e) => e.messageId);
      expect(events.filter((m) => m === early.id), 'the same message, once').to.have.length(1);
      const again = await post(`/dead-letters/${earlyId}/replay`);
      expect(again.status).to.equal(409);
      expect(((await again.json()) as { error: { code: string } }).error.code).to.equal('dead_letter_resolved');

      const discard = await post(`/dead-letters/${strayId}/discard`, { reason: 'a test message' });
      expect(discard.status).to.equal(200);
      const letters = await system.store.listDeadLetters();
      expect(letters.find((l) => l.id === strayId)).to.include({ status: 'discarded' });
      expect(letters.find((l) => l.id === strayId)!.resolution).to.match(/^discarded by http .+: a test message$/);
      expect(letters.find((l) => l.id === earlyId)!.resolution).to.match(/^replayed by http .+: republished to evento-reserva$/);
    });

    it('should list the open dead letters on /ui with Replay and Discard, and discard from there', async () => {
      const stray = makeEnvelope('PagoFallido', { id_correlacion: 'nobody', id_reserva: 'r', motivo: 'x' }, 'pagos.aeroalpes');
      await system.transport.publish('evento-pago', { key: 'nobody', payload: JSON.stringify(stray) });
      const [letter] = await waitFor(async () => {
        const found = await system.store.listDeadLetters();
        return found.length === 1 && found;
      }, 'the event to be dead-lettered');

      const page = await (await fetch(`${base}/ui/dead-letters`)).text();
      expect(page).to.contain(`data-id="${letter.id}" data-status="open"`).and.contain('data-action="replay"').and.contain('data-action="discard"');
      expect(page).to.contain('unknown_saga').and.contain('no saga instance &quot;nobody&quot;');
      expect((await post(`/ui/dead-letters/${letter.id}/discard`, { reason: 'x' }, { origin: 'https://evil.example' })).status, 'not from another site').to.equal(403);

      expect((await post(`/ui/dead-letters/${letter.id}/discard`, { reason: 'x' }, { authorization: '' })).status, 'not without the admin token').to.equal(403);
      expect((await post(`/ui/dead-letters/${letter.id}/discard`, { reason: 'seen on the page' })).status).to.equal(200);
      const after = await (await fetch(`${base}/ui/dead-letters`)).text();
      expect(after).to.contain('No dead letters.');
      const all = await (await fetch(`${base}/ui/dead-letters?status=discarded`)).text();
      expect(all).to.contain(`data-id="${letter.id}" data-status="discarded"`).and.contain('seen on the page');
    });
  });
});

import { expect } from 'chai';
import { createApp } from '../services/http/app.ts';
import type { System } from '../services/system.ts';
import { eachDatabase } from './support/databases.ts';
import { serveApp, type HttpClient } from './support/http.ts';
import { reservaInput, startSystem, waitForStatus } from './support/system.ts';

/** Finding one saga among many (issue 13): `GET /sagas` by customer, state, status and time, a page at a time. */
describe('searching sagas (GET /sagas)', function () {
  this.timeout(60_000);

  eachDatabase((db) => {
    let system: System;
    let client: HttpClient;
    const started: { id: string; customer: string; at: number }[] = [];
    before(async () => {
      system = await startSystem(await db.fresh());
      client = await serveApp(createApp(system, { log: () => {} }));
      for (let i = 0; i < 7; i++) {
        const customer = i % 2 === 0 ? 'ana' : 'beto';
        // beto's payments never answer: his sagas wait in `pagando`.
        const input = reservaInput({ id_cliente: customer, ...(customer === 'beto' ? { simular_fallo: 'timeout-pago' as const, plazos: { paso: 600_000 } } : {}) });
        await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
        started.push({ id: input.id_correlacion, customer, at: (await system.store.getInstance('reserva', input.id_correlacion))!.createdAt });
        await new Promise((resolve) => setTimeout(resolve, 5)); // distinct creation times
      }
      for (const s of started) await waitForStatus(system, s.id, s.customer === 'ana' ? 'completed' : 'running');
      for (const s of started.filter((x) => x.customer === 'beto')) {
        for (let until = Date.now() + 10_000; (await system.store.getInstance('reserva', s.id))?.stateValue !== 'pagando'; ) {
          if (Date.now() > until) throw new Error(`${s.id} never reached pagando`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    });
    after(async () => {
      await client?.close();
      await system?.close();
    });
    const ids = (body: { sagas: { id: string }[] }) => body.sagas.map((s) => s.id);
    const newestFirst = (list: typeof started) => [...list].sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1)).map((s) => s.id);

    it('should find a customer’s sagas, newest first, with the customer on each', async () => {
      const answer = await client.request('GET', '/sagas?customer=ana&type=reserva');
      expect(answer.status).to.equal(200);
      expect(ids(answer.body)).to.deep.equal(newestFirst(started.filter((s) => s.customer === 'ana')));
      expect(answer.body.sagas.every((s: { customer: string }) => s.customer === 'ana')).to.equal(true);
    });

    it('should find the sagas in a state, with a status, in a time range', async () => {
      const waiting = await client.request('GET', '/sagas?state=pagando&status=running');
      expect(ids(waiting.body)).to.deep.equal(newestFirst(started.filter((s) => s.customer === 'beto')));
      const [, second, third] = started;
      const range = await client.request('GET', `/sagas?from=${second.at}&to=${new Date(third.at + 1).toISOString()}`);
      expect(ids(range.body).filter((id) => started.some((s) => s.id === id))).to.deep.equal(newestFirst([second, third]));
    });

    it('should page with the cursor: every saga once, in order, and no cursor after the last page', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const answer = await client.request('GET', `/sagas?type=reserva&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        expect(answer.status).to.equal(200);
        seen.push(...ids(answer.body));
        cursor = answer.body.nextCursor;
        if (!cursor) break;
      }
      expect(seen).to.deep.equal(newestFirst(started));
      expect((await client.request('GET', '/sagas?cursor=not-a-cursor')).status).to.equal(400);
      expect((await client.request('GET', '/sagas?from=yesterday')).status).to.equal(400);
    });

    it('should search and page on /ui as well: customer, state and a next-page link', async () => {
      const rowIds = (page: string) => [...page.matchAll(/<tr data-id="([^"]+)"/g)].map((m) => m[1]);
      const ana = await (await fetch(`${client.base}/ui?customer=ana`)).text();
      expect(rowIds(ana)).to.deep.equal(newestFirst(started.filter((s) => s.customer === 'ana')));
      const waiting = await (await fetch(`${client.base}/ui?state=pagando`)).text();
      expect(rowIds(waiting)).to.deep.equal(newestFirst(started.filter((s) => s.customer === 'beto')));
      const first = await (await fetch(`${client.base}/ui?type=reserva&limit=4`)).text();
      const next = /<a id="next-page" href="([^"]+)"/.exec(first)?.[1];
      expect(next, 'a next-page link').to.be.a('string');
      const second = await (await fetch(`${client.base}${next!.replaceAll('&amp;', '&')}`)).text();
      expect([...rowIds(first), ...rowIds(second)]).to.deep.equal(newestFirst(started));
      expect(second).to.not.contain('id="next-page"');
      expect((await fetch(`${client.base}/ui?from=yesterday`)).status).to.equal(400);
    });
  });
});

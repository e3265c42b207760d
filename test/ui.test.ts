import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { gdsReservaMachine, pagosReservaMachine, seguimientoMachine, vuelosReservaMachine } from '../machines/coreografia/index.ts';
import { reservaMachine } from '../machines/reserva.ts';
import { replayLog } from '../runtime/replay.ts';
import { loadConfig } from '../services/config.ts';
import { createApp } from '../services/http/app.ts';
import { createSystem, type System } from '../services/system.ts';
import { chartModel, statechartSvg } from '../services/ui/statechart.ts';
import * as scripts from '../services/ui/scripts.ts';
import { reservaInput, startSystem, waitForStatus } from './support/system.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Page {
  status: number;
  type: string;
  text: string;
}

/** The app of `system` on a random local port. */
async function serve(system: System) {
  const server: Server = await new Promise((resolve) => {
    const s = createApp(system, { log: () => {} }).listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    async get(url: string): Promise<Page> {
      const response = await fetch(base + url);
      return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Ids of the chart's state nodes with class `active`. */
function activeStates(page: string): string[] {
  return [...page.matchAll(/<g class="([^"]*)" id="state-([^"]+)"/g)].filter((m) => m[1].split(' ').includes('active')).map((m) => m[2]);
}

/** The timeline rows of a detail page, by seq. */
function timelineRows(page: string): Map<number, string> {
  const body = page.slice(page.indexOf('<table class="timeline"'));
  const rows = new Map<number, string>();
  for (const m of body.matchAll(/<tr class="kind-[a-z]+" data-seq="(\d+)">([\s\S]*?)<\/tr>/g)) rows.set(Number(m[1]), m[2]);
  return rows;
}

/** The `<section id="…">` of a page. */
function section(page: string, id: string): string {
  const start = page.indexOf(`<section class="card" id="${id}">`);
  expect(start, `section #${id}`).to.be.greaterThan(-1);
  return page.slice(start, page.indexOf('</section>', start));
}

async function waitForState(system: System, type: string, id: string, state: string, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const record = await system.store.getInstance(type, id);
    if (record?.stateValue === state) return record;
    if (Date.now() > until) throw new Error(`saga ${type}/${id} never reached ${state}; it is in ${record?.stateValue}`);
    await sleep(20);
  }
}

describe('saga UI (/ui)', function () {
  this.timeout(30_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-ui-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('orchestration', function () {
    let system: System;
    let app: Awaited<ReturnType<typeof serve>>;
    let completed: string;
    let paused: string;
    before(async function () {
      system = await startSystem(`sqlite:${path.join(dir, 'ui.db')}`);
      app = await serve(system);
      const done = reservaInput({ id_cliente: '<img src=x onerror=alert(1)>' });
      await system.requestReserva(done);
      await waitForStatus(system, done.id_correlacion, 'completed');
      completed = done.id_correlacion;
      await sleep(5); // a later created_at
      // Pagos never answers and the deadline is far away: the saga waits in `pagando`.
      const waiting = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 600_000 } });
      await system.requestReserva(waiting);
      await waitForState(system, 'reserva', waiting.id_correlacion, 'pagando');
      paused = waiting.id_correlacion;
    });
    after(async function () {
      await app?.close();
      await system?.close();
    });

    it('should list the sagas newest first, with status, state and links, and filter them by status', async function () {
      const all = await app.get('/ui');
      expect(all.status).to.equal(200);
      expect(all.type).to.match(/^text\/html/);
      expect(all.text).to.include('<h1>Sagas</h1>');
      const rowOf = (id: string) => all.text.indexOf(`<tr data-id="${id}"`);
      expect(rowOf(paused)).to.be.within(0, rowOf(completed) - 1); // newest first
      expect(all.text).to.include(`href="/ui/sagas/${completed}?type=reserva"`);
      const pausedRow = all.text.slice(rowOf(paused), all.text.indexOf('</tr>', rowOf(paused)));
      expect(pausedRow).to.include('data-status="running"').and.include('<code class="state">pagando</code>');

      const running = await app.get('/ui?status=running');
      expect(running.text).to.include(`data-id="${paused}"`).and.not.include(`data-id="${completed}"`);
      expect(running.text).to.match(/<option value="running" selected>/);
      const done = await app.get('/ui?status=completed');
      expect(done.text).to.include(`data-id="${completed}"`).and.not.include(`data-id="${paused}"`);
      const byId = await app.get(`/ui?id=${completed}`);
      expect(byId.text).to.include(`data-id="${completed}"`).and.not.include(`data-id="${paused}"`);

      const rows = await fetch(`${app.base}/ui/list?status=running`).then((r) => r.json());
      expect(rows.html).to.include(`data-id="${paused}"`).and.not.include(`data-id="${completed}"`);

      const invalid = await app.get('/ui?status=done');
      expect(invalid.status).to.equal(400);
      expect(invalid.type).to.match(/^text\/html/);
      expect(invalid.text).to.include('&quot;status&quot; must be one of');
    });

    it('should draw the statechart with the active state highlighted and the visited states marked', async function () {
      const page = await app.get(`/ui/sagas/${paused}`);
      expect(page.status).to.equal(200);
      expect(page.text).to.include('<svg xmlns="http://www.w3.org/2000/svg" class="statechart sc-status-running"');
      expect(activeStates(page.text)).to.deep.equal(['pagando']);
      expect(page.text).to.match(/<g class="sc-state visited" id="state-creandoReserva"/);
      expect(page.text).to.match(/<g class="sc-state final" id="state-compensada"/);
      expect(page.text).to.include('data-from="creandoReserva" data-to="pagando"');
      expect(page.text).to.match(/<path class="sc-edge taken" data-from="creandoReserva" data-to="pagando"/);
      for (const state of Object.keys(reservaMachine.root.states)) expect(page.text).to.include(`id="state-${state}"`);
      expect(page.text).to.include('<code class="state big" data-field="state">pagando</code>');

      const finished = await app.get(`/ui/sagas/${completed}`);
      expect(activeStates(finished.text)).to.deep.equal(['completada']);
      expect(finished.text).to.include('class="statechart sc-status-completed"');

      const svg = await fetch(`${app.base}/ui/sagas/${paused}/chart.svg`);
      expect(svg.headers.get('content-type')).to.match(/^image\/svg\+xml/);
      expect(activeStates(await svg.text())).to.deep.equal(['pagando']);
    });

    it('should show the log as a timeline with the context change of each event', async function () {
      const page = await app.get(`/ui/sagas/${completed}`);
      const log = await system.store.readLog('reserva', completed);
      const rows = timelineRows(page.text);
      expect([...rows.keys()]).to.deep.equal(log.map((e) => e.seq));
      const pagada = log.find((e) => e.type === 'ReservaPagada')!;
      const row = rows.get(pagada.seq)!;
      expect(row).to.include('<span class="pill event">event</span>').and.include('<code>ReservaPagada</code>');
      expect(row).to.include(`title="${pagada.messageId}"`);
      const { id_pago } = ((await system.store.getInstance('reserva', completed))!.snapshot as { context: { id_pago: string } }).context;
      expect(row).to.include(`<li data-key="id_pago"><code class="key">id_pago</code>: <span class="old">—</span> → <span class="new">&quot;${id_pago}&quot;</span></li>`);
      // Each event's changes, from replaying the log: ReservaPagada changed only id_pago.
      expect([...row.matchAll(/data-key="([^"]+)"/g)].map((m) => m[1])).to.deep.equal(['id_pago']);
      const creada = rows.get(log.find((e) => e.type === 'ReservaCreada')!.seq)!;
      expect(creada).to.include('no context change'); // the same id_reserva as the request
      const command = rows.get(log.find((e) => e.type === 'PagarReserva')!.seq)!;
      expect(command).to.include('<span class="pill command">command</span>').and.include('to</span> <code>');
      const state = rows.get(log.filter((e) => e.kind === 'state').at(-1)!.seq)!;
      expect(state).to.include('→ <code class="state">completada</code>');
      // The client's text is escaped wherever it shows.
      expect(page.text).not.to.include('<img src=x');
      expect(page.text).to.include('&lt;img src=x onerror=alert(1)&gt;');
    });

    it('should show the pending deadline and the events the saga accepts now', async function () {
      const page = await app.get(`/ui/sagas/${paused}`);
      const [deadline] = await system.store.deadlinesOf('reserva', paused);
      const deadlines = section(page.text, 'deadlines');
      expect(deadlines).to.include(`data-timer="${deadline.timerId}" data-due-at="${deadline.dueAt}"`);
      expect(deadlines).to.include('<code>after plazoPaso</code>').and.include('→ revirtiendoPago');
      expect(deadlines).to.include(`<time datetime="${new Date(deadline.dueAt).toISOString()}">`);
      expect(deadlines).to.match(new RegExp(`<strong class="countdown" data-due="${deadline.dueAt}">in (9|10) min`));

      const accepts = section(page.text, 'accepts');
      const events = [...accepts.matchAll(/data-event="([^"]+)"/g)].map((m) => m[1]);
      expect(events).to.deep.equal(['ReservaPagada', 'PagoFallido']);
      expect(accepts).to.include('→ confirmandoGds').and.include('→ cancelandoReserva');

      const finished = await app.get(`/ui/sagas/${completed}`);
      expect(section(finished.text, 'deadlines')).to.include('None.');
      expect(section(finished.text, 'accepts')).to.include('final state').and.not.include('data-event=');
    });

    it('should push the saga over server-sent events until it is final', async function () {
      const input = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 800 } });
      await system.requestReserva(input);
      const id = input.id_correlacion;
      await waitForState(system, 'reserva', id, 'pagando');
      const response = await fetch(`${app.base}/ui/sagas/${id}/stream?type=reserva`);
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.match(/^text\/event-stream/);
      const decoder = new TextDecoder();
      let text = '';
      for await (const chunk of response.body!) text += decoder.decode(chunk as Uint8Array, { stream: true });
      // The stream ends itself once the saga is final.
      const events = text
        .split('\n\n')
        .filter((block) => block.includes('event: '))
        .map((block) => ({ event: /event: (.*)/.exec(block)![1], data: JSON.parse(/data: (.*)/.exec(block)![1]) }));
      const updates = events.filter((e) => e.event === 'update').map((e) => e.data);
      expect(updates[0].state).to.equal('pagando');
      expect(updates.at(-1)).to.include({ state: 'compensada', status: 'compensated', final: true });
      expect(activeStates(updates.at(-1).html)).to.deep.equal(['compensada']);
      expect(events.at(-1)!.event).to.equal('end');
      expect(new Set(updates.map((u) => u.version)).size).to.equal(updates.length); // one push per change

      // Already up to date: nothing but the end.
      const again = await fetch(`${app.base}/ui/sagas/${id}/stream?since=${encodeURIComponent(updates.at(-1).version)}`).then((r) => r.text());
      expect(again).not.to.include('event: update');
      expect(again).to.include('event: end');
      const fragment = await fetch(`${app.base}/ui/sagas/${id}/fragment`).then((r) => r.json());
      expect(fragment).to.include({ state: 'compensada', final: true, version: updates.at(-1).version });
    });

    it('should answer an unknown saga with a 404 page, its id escaped', async function () {
      const page = await app.get(`/ui/sagas/${encodeURIComponent('<b>nope</b>')}`);
      expect(page.status).to.equal(404);
      expect(page.type).to.match(/^text\/html/);
      expect(page.text).to.include('Saga not found').and.include('&lt;b&gt;nope&lt;/b&gt;').and.not.include('<b>nope');
      expect((await app.get('/ui/sagas/nope/stream')).status).to.equal(404);
      expect((await app.get(`/ui/sagas/${paused}?type=pagos-reserva`)).status).to.equal(404);
    });
  });

  describe('choreography', function () {
    let system: System;
    let app: Awaited<ReturnType<typeof serve>>;
    before(async function () {
      const config = { ...loadConfig({ SAGA_STYLE: 'choreography' }), databaseUrl: `sqlite:${path.join(dir, 'coreografia.db')}` };
      system = await createSystem(config, { relayPollMs: 50, deadlinePollMs: 100 });
      app = await serve(system);
    });
    after(async function () {
      await app?.close();
      await system?.close();
    });

    it("should show the tracker's view of the saga, linking to every participant's part", async function () {
      const input = reservaInput();
      await system.requestReserva(input);
      const id = input.id_correlacion;
      await waitForState(system, 'reserva-coreografia', id, 'completada');
      await waitForState(system, 'vuelos-reserva', id, 'aprobada');
      const page = await app.get(`/ui/sagas/${id}`);
      expect(page.status).to.equal(200);
      expect(page.text).to.include('<h1>reserva-coreografia');
      expect(activeStates(page.text)).to.deep.equal(['completada']);
      expect(page.text).to.include('In every state: * (internal)');
      for (const part of ['gds-reserva', 'pagos-reserva', 'vuelos-reserva']) expect(page.text).to.include(`href="/ui/sagas/${id}?type=${part}"`);
      const vuelos = await app.get(`/ui/sagas/${id}?type=vuelos-reserva`);
      expect(activeStates(vuelos.text)).to.deep.equal(['aprobada']);
      expect(vuelos.text).to.match(/<g class="sc-state visited" id="state-esperandoPago"/);
      const list = await app.get(`/ui?type=pagos-reserva`);
      expect(list.text).to.include(`<tr data-id="${id}" data-type="pagos-reserva"`).and.not.include('data-type="vuelos-reserva"');
    });

    it('should draw every choreography machine and the tracker', function () {
      for (const machine of [vuelosReservaMachine, pagosReservaMachine, gdsReservaMachine, seguimientoMachine]) {
        const model = chartModel(machine);
        const svg = statechartSvg(machine, { active: [model.initial!] }).value;
        for (const node of model.nodes) expect(svg).to.include(`id="state-${node.key}"`);
        expect(activeStates(svg)).to.deep.equal([model.initial]);
        expect((svg.match(/<path class="sc-edge"/g) ?? []).length).to.equal(model.edges.length + 1); // + the initial arrow
      }
      const tracker = chartModel(seguimientoMachine);
      expect(tracker.edges.find((e) => e.from === 'enCurso' && e.to === 'compensando')!.labels).to.include.members(['PagoFallido', 'ConfirmacionGDSRevertida']);
    });
  });

  it('should serve page scripts that parse as JavaScript', function () {
    const found = Object.entries(scripts).filter(([, value]) => typeof value === 'string');
    expect(found.map(([name]) => name)).to.include.members(['DETAIL_SCRIPT', 'LIST_SCRIPT', 'DEAD_LETTERS_SCRIPT']);
    for (const [name, source] of found) expect(() => new Function(source as string), name).to.not.throw();
  });

  it('should replay a log entry by entry with the context keys each input changed', function () {
    const input = reservaInput();
    const at = 0;
    const entry = (seq: number, kind: 'event' | 'timer' | 'command', type: string, payload: unknown) => ({ sagaType: 'reserva', sagaId: input.id_correlacion, seq, kind, type, payload, messageId: null, at });
    const steps = replayLog(reservaMachine, [
      entry(1, 'event', 'xstate.init', { input, version: 1 }),
      entry(2, 'command', 'CrearReserva', {}),
      entry(3, 'event', 'ReservaCreada', { ...input, id_reserva: 'R-nueva' }),
      entry(4, 'event', 'ReservaPagada', { id_correlacion: input.id_correlacion, id_reserva: 'R-nueva', id_pago: 'P-1' }),
    ]);
    expect(steps.map((s) => s.snapshot?.value)).to.deep.equal(['creandoReserva', 'creandoReserva', 'pagando', 'confirmandoGds']);
    expect(steps[1].input).to.equal(false);
    expect(steps[2].changes).to.deep.equal([{ key: 'id_reserva', change: 'changed', before: input.id_reserva, after: 'R-nueva' }]);
    expect(steps[3].changes).to.deep.equal([{ key: 'id_pago', change: 'added', before: undefined, after: 'P-1' }]);
    const broken = replayLog(reservaMachine, [entry(1, 'event', 'ReservaCreada', {}), entry(2, 'event', 'ReservaPagada', {})]);
    expect(broken[0].error).to.include('before the saga started');
    expect(broken[1].snapshot).to.equal(null);
  });
});

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createWebSocketInspector } from '@statelyai/inspect';
import { WebSocket, WebSocketServer } from 'ws';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import { reservaMachine, reservaSaga } from '../machines/reserva.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import {
  DEFAULT_INSPECT_PORT,
  openInspection,
  parseInspectSetting,
  SagaInspection,
  type InspectedActor,
  type InspectorLike,
} from '../runtime/inspection.ts';
import type { CommittedTransition } from '../runtime/committed-transition.ts';
import { statelyDefinition } from '../runtime/stately-definition.ts';
import { SagaRuntime, type SagaRuntimeOptions } from '../runtime/saga-runtime.ts';
import { loadConfig } from '../services/config.ts';
import { createSystem } from '../services/system.ts';
import { reservaInput, startSystem } from './support/system.ts';

type Call = { method: 'actor' | 'event' | 'snapshot'; args: unknown[] };

/** An inspector that records what it is told. */
class Recorder implements InspectorLike {
  readonly calls: Call[] = [];
  stopped = false;
  actor(...args: unknown[]) {
    this.calls.push({ method: 'actor', args });
  }
  event(...args: unknown[]) {
    this.calls.push({ method: 'event', args });
  }
  snapshot(...args: unknown[]) {
    this.calls.push({ method: 'snapshot', args });
  }
  stop() {
    this.stopped = true;
  }
}

const ID = 'saga-1';
const ACTOR = `reserva/${ID}`;
const input = reservaInput({ id_correlacion: ID, id_reserva: 'R-1' });
const data = { id_correlacion: ID, id_reserva: 'R-1' };

/**
 * A saga's transitions as the runtime reports them: created, ReservaCreada from vuelos, its
 * payment deadline, then PagoRevertido from pagos and ReservaCancelada from vuelos (done).
 */
function sagaTransitions(): CommittedTransition[] {
  const out: CommittedTransition[] = [];
  const definition = reservaSaga;
  const commandsOf = (actions: readonly { type: string; params?: unknown }[]) =>
    actions.filter((a) => a.type in reservaSaga.commands).map((a) => ({ type: a.type, topic: (reservaSaga.commands as Record<string, string>)[a.type], data: a.params }));
  let [snapshot, actions] = initialTransition(reservaMachine, input);
  out.push({ definition, sagaId: ID, event: { type: 'xstate.init', input }, snapshot, commands: commandsOf(actions) });
  const step = (event: { type: string; data?: unknown }, source?: string) => {
    [snapshot, actions] = transition(reservaMachine, snapshot as never, event as never) as [AnyMachineSnapshot, typeof actions];
    out.push({ definition, sagaId: ID, event, snapshot, ...(source ? { source } : {}), commands: commandsOf(actions) });
  };
  step({ type: 'ReservaCreada', data: { ...data, id_cliente: 'cliente-1', estado: 'PENDIENTE', fecha_creacion: 1, monto: 250, monto_vat: 47.5 } }, 'vuelos.aeroalpes');
  step({ type: 'xstate.after.plazoPaso.reserva.pagando' });
  step({ type: 'PagoRevertido', data: { ...data, id_pago: 'P-1', fecha_actualizacion: 5 } }, 'pagos.aeroalpes');
  step({ type: 'ReservaCancelada', data: { ...data, estado: 'CANCELADA', fecha_actualizacion: 3 } }, 'vuelos.aeroalpes');
  return out;
}

/** A port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a TCP connection to host:port is accepted. */
function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function until<T>(read: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('live inspection (Stately inspector)', function () {
  this.timeout(20_000);

  describe('SagaInspection', function () {
    it('should announce the saga actor once with its definition, then report each event with its source and the new snapshot', function () {
      const recorder = new Recorder();
      const inspection = new SagaInspection(recorder);
      const transitions = sagaTransitions();
      transitions.forEach(inspection.onTransition);
      const { calls } = recorder;

      // The saga actor, first and once, with the definition Stately draws.
      const sagaActors = calls.filter((c) => c.method === 'actor' && typeof c.args[0] === 'object');
      expect(sagaActors).to.have.length(1);
      expect(calls[0]).to.equal(sagaActors[0]);
      const actor = calls[0].args[0] as InspectedActor;
      expect(actor.sessionId).to.equal(ACTOR);
      expect(actor.logic.config).to.deep.equal(statelyDefinition(reservaMachine).config);
      expect(actor.logic.config.id).to.equal('reserva');
      expect(calls[0].args[1]).to.include({ status: 'active', value: 'creandoReserva' });

      // What the saga received, in order, each from its sender, each followed by its snapshot.
      const received = calls.filter((c) => c.method === 'event' && c.args[0] === ACTOR);
      expect(received.map((c) => [(c.args[1] as { type: string }).type, (c.args[2] as { source?: string }).source])).to.deep.equal([
        ['xstate.init', undefined],
        ['ReservaCreada', 'vuelos.aeroalpes'],
        ['xstate.after.plazoPaso.reserva.pagando', ACTOR],
        ['PagoRevertido', 'pagos.aeroalpes'],
        ['ReservaCancelada', 'vuelos.aeroalpes'],
      ]);
      expect((received[1].args[1] as { data: { monto: number } }).data.monto).to.equal(250);
      const snapshots = calls.filter((c) => c.method === 'snapshot');
      expect(snapshots.map((c) => [c.args[0], (c.args[1] as { value: string }).value, (c.args[2] as { event: { type: string } }).event.type])).to.deep.equal([
        [ACTOR, 'creandoReserva', 'xstate.init'],
        [ACTOR, 'pagando', 'ReservaCreada'],
        [ACTOR, 'revirtiendoPago', 'xstate.after.plazoPaso.reserva.pagando'],
        [ACTOR, 'cancelandoReserva', 'PagoRevertido'],
        [ACTOR, 'compensada', 'ReservaCancelada'],
      ]);
      expect(snapshots.at(-1)!.args[1]).to.include({ status: 'done' });
      expect((snapshots[1].args[1] as { context: { id_reserva: string } }).context.id_reserva).to.equal('R-1');
      for (let i = 0; i < received.length; i++) expect(calls.indexOf(received[i])).to.be.lessThan(calls.indexOf(snapshots[i]));

      // The senders and the command topics are announced once each, by name, without a definition.
      const named = calls.filter((c) => c.method === 'actor' && typeof c.args[0] === 'string').map((c) => c.args[0]);
      expect(named).to.deep.equal(['comando-crear-reserva', 'vuelos.aeroalpes', 'comando-pagar-reserva', 'comando-revertir-pago', 'pagos.aeroalpes', 'comando-cancelar-reserva']);

      // The commands the saga sent, from the saga to their topics.
      const sent = calls.filter((c) => c.method === 'event' && c.args[0] !== ACTOR);
      expect(sent.map((c) => [c.args[0], (c.args[1] as { type: string }).type, (c.args[2] as { source: string }).source])).to.deep.equal([
        ['comando-crear-reserva', 'CrearReserva', ACTOR],
        ['comando-pagar-reserva', 'PagarReserva', ACTOR],
        ['comando-revertir-pago', 'RevertirPago', ACTOR],
        ['comando-cancelar-reserva', 'CancelarReserva', ACTOR],
      ]);
      expect((sent[1].args[1] as { data: { monto: number } }).data).to.include({ id_reserva: 'R-1', monto: 250 });

      inspection.close();
      expect(recorder.stopped).to.equal(true);
    });

    it('should give each saga instance its own actor, and forget a finished one', function () {
      const recorder = new Recorder();
      const inspection = new SagaInspection(recorder);
      const [init] = sagaTransitions();
      inspection.onTransition(init);
      inspection.onTransition({ ...init, sagaId: 'saga-2' });
      inspection.onTransition(init);
      const sagaActors = () => recorder.calls.filter((c) => c.method === 'actor' && typeof c.args[0] === 'object').map((c) => (c.args[0] as InspectedActor).sessionId);
      expect(sagaActors()).to.deep.equal([ACTOR, 'reserva/saga-2']);
      const done = sagaTransitions().at(-1)!;
      inspection.onTransition(done);
      inspection.onTransition(done); // a finished saga seen again is announced again
      expect(sagaActors()).to.deep.equal([ACTOR, 'reserva/saga-2', ACTOR]);
    });

    it('should never throw into the runtime: a failing inspector is logged', function () {
      const logged: string[] = [];
      const broken: InspectorLike = {
        actor: () => {
          throw new Error('socket gone');
        },
        event: () => {},
        snapshot: () => {},
      };
      const inspection = new SagaInspection(broken, { log: (message, fields) => logged.push(`${message}: ${String(fields?.error)}`) });
      expect(() => sagaTransitions().forEach(inspection.onTransition)).not.to.throw();
      expect(logged[0]).to.equal('inspection failed: socket gone');
    });
  });

  describe('SAGA_INSPECT', function () {
    it('should be off unless set, serve the relay on 8090 for 1, on a given port, or only connect to a ws:// URL', function () {
      expect(parseInspectSetting(undefined)).to.equal(null);
      expect(parseInspectSetting('')).to.equal(null);
      expect(parseInspectSetting('0')).to.equal(null);
      expect(DEFAULT_INSPECT_PORT).to.equal(8090);
      expect(parseInspectSetting('1')).to.deep.equal({ url: 'ws://127.0.0.1:8090', port: 8090 });
      expect(parseInspectSetting('9123')).to.deep.equal({ url: 'ws://127.0.0.1:9123', port: 9123 });
      expect(parseInspectSetting('ws://inspector.local:8090')).to.deep.equal({ url: 'ws://inspector.local:8090' });
      expect(() => parseInspectSetting('yes please')).to.throw('SAGA_INSPECT must be 1, a port or a ws:// URL, got "yes please"');
    });

    it('should connect where the relay listens: HOST, or 127.0.0.1 when HOST is every interface', function () {
      expect(parseInspectSetting('9123', '10.1.2.3')).to.deep.equal({ url: 'ws://10.1.2.3:9123', port: 9123 });
      expect(parseInspectSetting('1', '0.0.0.0')).to.deep.equal({ url: 'ws://127.0.0.1:8090', port: 8090 });
      expect(parseInspectSetting('9123', '::1')).to.deep.equal({ url: 'ws://[::1]:9123', port: 9123 });
      expect(loadConfig({ HOST: '127.0.0.2', SAGA_INSPECT: '9123' }).inspect).to.deep.equal({ url: 'ws://127.0.0.2:9123', port: 9123 });
    });
  });

  describe('through @statelyai/inspect', function () {
    const closers: (() => unknown)[] = [];
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
    });

    it('should send the actor with its definition, the events and the snapshots over createWebSocketInspector', async function () {
      const received: Record<string, unknown>[] = [];
      const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      await new Promise((resolve) => server.once('listening', resolve));
      closers.push(() => new Promise((resolve) => server.close(resolve)));
      server.on('connection', (socket) => socket.on('message', (raw) => received.push(JSON.parse(raw.toString()))));
      const { port } = server.address() as net.AddressInfo;

      const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${port}` });
      const inspection = new SagaInspection(inspector);
      closers.push(() => inspection.close());
      sagaTransitions().slice(0, 2).forEach(inspection.onTransition);

      await until(() => (received.length >= 10 ? true : undefined), 'ten inspection events');
      const actor = received.find((e) => e.type === '@xstate.actor' && e.sessionId === ACTOR)!;
      expect(actor).to.include({ name: 'reserva', sessionId: ACTOR });
      expect(JSON.parse(actor.definition as string)).to.deep.equal(statelyDefinition(reservaMachine).config);
      expect(actor.snapshot).to.include({ status: 'active', value: 'creandoReserva' });
      const event = received.find((e) => e.type === '@xstate.event' && (e.event as { type: string }).type === 'ReservaCreada')!;
      expect(event).to.include({ sessionId: ACTOR, sourceId: 'vuelos.aeroalpes' });
      expect((event.event as { data: { id_reserva: string } }).data.id_reserva).to.equal('R-1');
      const snapshot = received.filter((e) => e.type === '@xstate.snapshot' && e.sessionId === ACTOR).at(-1)!;
      expect(snapshot.snapshot).to.include({ status: 'active', value: 'pagando' });
      expect((snapshot.event as { type: string }).type).to.equal('ReservaCreada');
      const command = received.find((e) => e.type === '@xstate.event' && (e.event as { type: string }).type === 'PagarReserva')!;
      expect(command).to.include({ sessionId: 'comando-pagar-reserva', sourceId: ACTOR });
    });

    it('should serve the relay and its inspector page, and forward the events to a page that connects', async function () {
      const port = await freePort();
      const logged: string[] = [];
      const log = (message: string) => logged.push(message);
      const inspection = (await openInspection({ url: `ws://127.0.0.1:${port}`, port }, { open: false, log }))!;
      closers.push(() => inspection.close());
      expect(inspection.page).to.equal(`http://localhost:${port}`);
      expect(logged).to.include('Stately inspector relay started');

      // The page a browser opens embeds Stately's inspector.
      const html = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      expect(html).to.include('https://stately.ai/inspect');

      sagaTransitions().slice(0, 2).forEach(inspection.onTransition);
      // What the page receives from the relay (events sent before it connected are replayed).
      const received: Record<string, unknown>[] = [];
      const browser = new WebSocket(`ws://127.0.0.1:${port}`);
      closers.push(() => browser.close());
      browser.on('message', (raw) => received.push(JSON.parse(raw.toString())));
      const actor = await until(() => received.find((e) => e.type === '@xstate.actor' && e.sessionId === ACTOR), 'the saga actor at the page');
      const repair = JSON.parse(actor.definition as string).states.reparacionManual;
      expect(repair.tags).to.deep.equal(['failed']);
      expect(repair, 'not final: a late confirmation resumes it').to.not.have.property('type');
      expect(Object.keys(repair.on), 'late confirmations and the operator repairs').to.have.members(['ConfirmacionGDSRevertida', 'PagoRevertido', 'ReservaCancelada', 'ReintentarCompensacion', 'MarcarResuelta']);
      await until(() => received.find((e) => e.type === '@xstate.snapshot' && (e.snapshot as { value: string }).value === 'pagando'), 'the pagando snapshot');

      // A second process with the same setting finds the relay running and only connects.
      const second = (await openInspection({ url: `ws://127.0.0.1:${port}`, port }, { open: false, log }))!;
      closers.push(() => second.close());
      expect(logged).to.include('Stately inspector relay already running');
      second.onTransition({ ...sagaTransitions()[0], sagaId: 'saga-2' });
      await until(() => received.find((e) => e.type === '@xstate.actor' && e.sessionId === 'reserva/saga-2'), 'the second process’s saga at the page');
    });

    it('should serve the relay on HOST only (127.0.0.1 by default), not on every interface', async function () {
      const port = await freePort();
      const inspection = (await openInspection({ url: `ws://127.0.0.1:${port}`, port }, { open: false }))!;
      closers.push(() => inspection.close());
      expect(await reachable('127.0.0.1', port)).to.equal(true);
      // Another loopback address stands for any other interface: nothing listens there.
      expect(await reachable('127.0.0.2', port)).to.equal(false);
    });

    it('should bind the relay a process serves to config.host (createSystem with HOST=127.0.0.2)', async function () {
      const port = await freePort();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-inspect-'));
      closers.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      const config = { ...loadConfig({ HOST: '127.0.0.2', SAGA_INSPECT: String(port) }), databaseUrl: `sqlite:${path.join(dir, 'sagas.db')}` };
      const system = await createSystem(config, { listen: false, openInspector: false });
      closers.push(() => system.close());
      expect(await reachable('127.0.0.2', port)).to.equal(true);
      expect(await reachable('127.0.0.1', port)).to.equal(false);
    });

    it('should refuse a WebSocket from a page of another site, and accept its own page and Node clients', async function () {
      const port = await freePort();
      const inspection = (await openInspection({ url: `ws://127.0.0.1:${port}`, port }, { open: false }))!;
      closers.push(() => inspection.close());
      const connect = (headers: Record<string, string>) =>
        new Promise<string>((resolve) => {
          const socket = new WebSocket(`ws://127.0.0.1:${port}`, { headers });
          socket.once('open', () => {
            socket.close();
            resolve('open');
          });
          socket.once('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
          socket.once('error', (error) => resolve(`error ${error.message}`));
        });
      expect(await connect({ origin: 'https://evil.example' })).to.match(/^refused 4\d\d$/);
      expect(await connect({ origin: 'http://localhost:1' })).to.match(/^refused 4\d\d$/);
      expect(await connect({ origin: `http://127.0.0.1:${port}` })).to.equal('open');
      expect(await connect({})).to.equal('open');
    });

    it('should open nothing when SAGA_INSPECT is off', async function () {
      expect(await openInspection(parseInspectSetting(undefined))).to.equal(null);
    });
  });

  describe('SagaRuntime', function () {
    it('should report every committed transition with the sender of its message (SagaRuntimeOptions.onTransition)', async function () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-inspect-'));
      const system = await startSystem(`sqlite:${path.join(dir, 'sagas.db')}`, { listen: false });
      try {
        const reported: CommittedTransition[] = [];
        const recorder = new Recorder();
        const inspection = new SagaInspection(recorder);
        // Not an object literal, so this compiles before the runtime has the option.
        const options = {
          store: system.store,
          transport: system.transport,
          relay: system.relay,
          sagas: [reservaSaga],
          onTransition: (t: CommittedTransition) => {
            reported.push(t);
            inspection.onTransition(t);
          },
        };
        const runtime = new SagaRuntime(options as SagaRuntimeOptions);
        const saga = reservaInput();
        await runtime.startSaga('reserva', saga, { id: saga.id_correlacion });
        if (reported.length === 0) this.skip(); // runtime/saga-runtime.ts has no onTransition hook yet
        const created = { id_correlacion: saga.id_correlacion, id_reserva: saga.id_reserva, id_cliente: 'cliente-1', estado: 'PENDIENTE', fecha_creacion: 1, monto: 250, monto_vat: 47.5 };
        await runtime.handle(makeEnvelope('ReservaCreada', created, 'vuelos.aeroalpes'));
        await runtime.handle(makeEnvelope('PagoFallido', { id_correlacion: saga.id_correlacion, id_reserva: saga.id_reserva, motivo: 'fondos insuficientes' }, 'pagos.aeroalpes'));
        await runtime.close();

        expect(reported.map((t) => [t.sagaId, t.event.type, t.source, t.snapshot.value, t.commands?.map((c) => c.type)])).to.deep.equal([
          [saga.id_correlacion, 'xstate.init', undefined, 'creandoReserva', ['CrearReserva']],
          [saga.id_correlacion, 'ReservaCreada', 'vuelos.aeroalpes', 'pagando', ['PagarReserva']],
          [saga.id_correlacion, 'PagoFallido', 'pagos.aeroalpes', 'cancelandoReserva', ['CancelarReserva']],
        ]);
        expect(reported[0].definition).to.equal(reservaSaga);
        expect(reported[1].commands![0]).to.deep.include({ topic: 'comando-pagar-reserva' });
        const actor = recorder.calls.find((c) => c.method === 'actor' && typeof c.args[0] === 'object')!;
        expect((actor.args[0] as InspectedActor).sessionId).to.equal(`reserva/${saga.id_correlacion}`);
      } finally {
        await system.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

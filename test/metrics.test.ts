import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { reservaSaga } from '../machines/reserva.ts';
import { withRetries } from '../runtime/batch-transaction.ts';
import type { CommittedTransition } from '../runtime/committed-transition.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import { ConcurrencyError, UnavailableError } from '../runtime/errors.ts';
import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import { SagaMetrics } from '../runtime/metrics.ts';
import type { SagaStore, UnitOfWork } from '../runtime/ports.ts';
import { SagaRuntime } from '../runtime/saga-runtime.ts';
import { createApp } from '../services/http/app.ts';
import type { System } from '../services/system.ts';
import { serveApp, type HttpClient } from './support/http.ts';
import { reservaInput, startSystem, waitForStatus } from './support/system.ts';

/** One sample of Prometheus' text format: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Reads Prometheus' text exposition format (what a scraper reads), comments left out. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

describe('GET /metrics', function () {
  this.timeout(60_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-metrics-'));
  let system: System;
  let client: HttpClient;
  let samples: Sample[];
  let text: string;

  before(async function () {
    system = await startSystem(`sqlite:${path.join(dir, 'm.db')}`, { processMetrics: true });
    client = await serveApp(createApp(system, { log: () => {} }));
    // Three reservations through the API, one whose payment fails, one whose payment never answers (its deadline fires).
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await client.request('POST', '/reservas', { id_cliente: `c-${i}`, monto: 100, monto_vat: 19, itinerarios: [] })).body.id_correlacion);
    const failed = reservaInput({ simular_fallo: 'pago' });
    const timedOut = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 200 } });
    await system.requestReserva(failed);
    await system.requestReserva(timedOut);
    for (const id of ids) await waitForStatus(system, id, 'completed');
    await waitForStatus(system, failed.id_correlacion, 'compensated');
    await waitForStatus(system, timedOut.id_correlacion, 'compensated');
    // Messages nobody can read, one for the runtime and one for a participant: dead letters with their reason.
    await system.transport.publish('evento-pago', { key: 'k', payload: '{"not": "an envelope"' });
    await system.transport.publish('comando-pagar-reserva', { key: 'k', payload: '[]' });
    await waitFor(async () => (await system.store.listDeadLetters()).length === 2);
    // The outbox relay counts a publication once it is marked: wait until nothing is pending.
    await waitFor(async () => (await system.store.unpublishedByOwner()).size === 0);
    const answer = await fetch(`${client.base}/metrics`);
    expect(answer.status).to.equal(200);
    expect(answer.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    text = await answer.text();
    samples = parseExposition(text);
  });
  after(async function () {
    await client?.close();
    await system?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('should count the sagas started and ended, by type and status', function () {
    expect(total(samples, 'saga_started_total', { saga_type: 'reserva' })).to.equal(5);
    expect(total(samples, 'saga_ended_total', { saga_type: 'reserva', status: 'completed' })).to.equal(3);
    expect(total(samples, 'saga_ended_total', { saga_type: 'reserva', status: 'compensated' })).to.equal(2);
    expect(total(samples, 'saga_ended_total', { status: 'failed' })).to.equal(0);
  });

  it('should count transitions by the state they led to', function () {
    // Every saga passed through `pagando`; the three completed ones ended in `completada`.
    expect(total(samples, 'saga_transitions_total', { saga_type: 'reserva', state: 'pagando' })).to.be.at.least(5);
    expect(total(samples, 'saga_transitions_total', { saga_type: 'reserva', state: 'completada' })).to.equal(3);
  });

  it('should time transactions and their batch sizes, for the runtime and each participant', function () {
    for (const consumer of ['sagas', 'vuelos', 'pagos', 'gds']) {
      const count = total(samples, 'saga_transaction_duration_seconds_count', { consumer });
      expect(count, consumer).to.be.greaterThan(0);
      expect(total(samples, 'saga_transaction_batch_size_count', { consumer }), consumer).to.equal(count);
      // Each transaction applied at least one input.
      expect(total(samples, 'saga_transaction_batch_size_sum', { consumer }), consumer).to.be.at.least(count);
    }
    expect(samples.some((s) => s.name === 'saga_transaction_retries_total' || text.includes('# TYPE saga_transaction_retries_total counter'))).to.equal(true);
  });

  it('should count deliveries per topic and subscription, and publications with their lag', function () {
    // Five sagas each sent a CrearReserva: vuelos received five deliveries of it.
    expect(total(samples, 'saga_deliveries_total', { topic: 'comando-crear-reserva', subscription: 'vuelos' })).to.equal(5);
    expect(total(samples, 'saga_deliveries_total', { topic: 'evento-pago', subscription: 'sagas' })).to.be.at.least(4);
    expect(total(samples, 'saga_negative_acknowledgements_total')).to.equal(0);
    const published = total(samples, 'saga_outbox_published_total');
    expect(published).to.be.greaterThan(15);
    expect(total(samples, 'saga_outbox_publish_lag_seconds_count')).to.equal(published);
    expect(total(samples, 'saga_outbox_pending_messages')).to.equal(0);
  });

  it('should measure how late deadlines fired, and count dead letters by where and why', function () {
    expect(total(samples, 'saga_deadline_lag_seconds_count', { saga_type: 'reserva' })).to.be.at.least(1);
    expect(total(samples, 'saga_deadline_lag_seconds_sum', { saga_type: 'reserva' })).to.be.at.least(0);
    // One each: the runtime's (on evento-pago) and pagos' (on its command topic).
    expect(total(samples, 'saga_dead_letters_total', { source: 'message', code: 'invalid' })).to.equal(2);
    expect(total(samples, 'saga_dead_letters_total')).to.equal(2);
  });

  it('should report the database and broker up, and Node\'s own metrics', function () {
    expect(total(samples, 'saga_dependency_up', { dependency: 'database' })).to.equal(1);
    expect(total(samples, 'saga_dependency_up', { dependency: 'broker' })).to.equal(1);
    expect(total(samples, 'process_resident_memory_bytes')).to.be.greaterThan(0);
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).to.equal(true);
  });

  it('should follow Prometheus conventions: units in names, every sample labelled by service, no id as a label value', function () {
    const ours = samples.filter((s) => s.name.startsWith('saga_'));
    expect(ours.every((s) => s.labels.service === 'aeroalpes')).to.equal(true);
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
    expect(samples.filter((s) => Object.values(s.labels).some((v) => uuid.test(v)))).to.deep.equal([]);
    for (const name of new Set(ours.map((s) => s.name))) {
      expect(name, name).to.match(/(_total|_seconds(_bucket|_sum|_count)?|_size(_bucket|_sum|_count)|_messages|_up)$/);
    }
  });
});

describe('SagaMetrics of transactions', function () {
  it('should count each attempt tried again by its reason, under its consumer', async function () {
    const metrics = new SagaMetrics();
    const failures = [new ConcurrencyError('row version changed'), new UnavailableError('connect ECONNREFUSED'), new ConcurrencyError('deadlock')];
    let attempts = 0;
    const value = await withRetries(
      async () => {
        const failure = failures[attempts++];
        if (failure) throw failure;
        return 'committed';
      },
      { observer: metrics.transactions('pagos'), backoff: { minMs: 1, maxMs: 1 } },
    );
    expect(value).to.equal('committed');
    const samples = parseExposition(await metrics.registry.metrics());
    expect(total(samples, 'saga_transaction_retries_total', { consumer: 'pagos', reason: 'conflict' })).to.equal(2);
    expect(total(samples, 'saga_transaction_retries_total', { consumer: 'pagos', reason: 'unavailable' })).to.equal(1);
    expect(total(samples, 'saga_transaction_retries_total')).to.equal(3);
  });
});

describe('counting what a transaction tried again did', function () {
  this.timeout(30_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-metrics-retry-'));
  let system: System;
  after(async function () {
    await system?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // The first attempt applies the event, then loses its commit to a conflict and is rolled
  // back; the second commits. Only what was committed may be counted or reported.
  it('should count and report a transition once when its first attempt lost to a conflict', async function () {
    system = await startSystem(`sqlite:${path.join(dir, 'r.db')}`, { listen: false });
    const input = reservaInput();
    await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
    let attempts = 0;
    const conflicting: SagaStore = Object.assign(Object.create(system.store) as SagaStore, {
      transaction: <T>(work: (uow: UnitOfWork) => Promise<T>) =>
        system.store.transaction(async (uow) => {
          const result = await work(uow);
          if (++attempts === 1) throw new ConcurrencyError('saga row changed since it was read');
          return result;
        }),
    });
    const reported: CommittedTransition[] = [];
    const runtime = new SagaRuntime({ store: conflicting, transport: new InMemoryTransport(), sagas: [reservaSaga], backoff: { minMs: 1, maxMs: 1 }, onTransition: (t) => reported.push(t) });
    const creada = makeEnvelope('ReservaCreada', { id_correlacion: input.id_correlacion, id_reserva: input.id_reserva, id_cliente: 'c', estado: 'pendiente', fecha_creacion: 1, monto: 250, monto_vat: 0 }, 'vuelos.aeroalpes');

    const outcome = await runtime.handle(creada);

    expect(outcome.status).to.equal('applied');
    expect(attempts, 'the work ran twice').to.equal(2);
    const samples = parseExposition(await runtime.metrics.registry.metrics());
    expect(total(samples, 'saga_transaction_retries_total', { reason: 'conflict' })).to.equal(1);
    expect(total(samples, 'saga_transitions_total'), 'transitions counted').to.equal(1);
    expect(total(samples, 'saga_transitions_total', { saga_type: 'reserva', state: 'pagando' })).to.equal(1);
    expect(reported.map((t) => `${t.sagaId} ${t.event.type} ${JSON.stringify(t.snapshot.value)}`), 'transitions reported').to.deep.equal([`${input.id_correlacion} ReservaCreada "pagando"`]);
    const log = await system.store.readLog('reserva', input.id_correlacion);
    expect(log.filter((e) => e.kind === 'event' && e.type === 'ReservaCreada'), 'in the saga log').to.have.length(1);
  });

  it('should count the dead letters of a runtime built alone, in the registry it made for itself', async function () {
    system ??= await startSystem(`sqlite:${path.join(dir, 'r.db')}`, { listen: false });
    const transport = new InMemoryTransport();
    const runtime = new SagaRuntime({ store: system.store, transport, sagas: [reservaSaga] });
    await runtime.listen();
    try {
      const before = (await system.store.listDeadLetters()).length;
      await transport.publish('evento-pago', { key: 'k', payload: '{"not": "an envelope"' });
      await waitFor(async () => (await system.store.listDeadLetters()).length === before + 1);
      const samples = parseExposition(await runtime.metrics.registry.metrics());
      expect(total(samples, 'saga_dead_letters_total', { source: 'message', code: 'invalid' })).to.equal(1);
    } finally {
      await runtime.close();
    }
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

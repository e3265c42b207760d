import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { context, propagation, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { expect } from 'chai';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { traceContextOf, traceFieldsOf, tracerRegistered } from '../runtime/tracing.ts';
import { loadConfig } from '../services/config.ts';
import { createApp } from '../services/http/app.ts';
import { createSystem, type System } from '../services/system.ts';
import { freshNamespace, ServiceCluster } from '../tools/cluster/service-cluster.ts';
import { freshMysqlDatabase } from './support/databases.ts';
import { serveApp, type HttpClient } from './support/http.ts';
import { requirePulsar } from './support/pulsar.ts';
import { postReserva, waitForFinal } from './support/services.ts';
import { messagePathTo, OtlpReceiver, SPAN_KIND, type SeenSpan } from './support/spans.ts';
import { reservaInput, TEST_ADMIN_TOKEN, waitForStatus } from './support/system.ts';

type Style = 'orchestration' | 'choreography';
let debugSpans: (() => void) | undefined;

/**
 * The happy path's messages in the order the domain sends them (domain.md): the request,
 * then each step's command and the event that answers it.
 */
const HAPPY_PATH = ['CrearReserva', 'ReservaCreada', 'PagarReserva', 'ReservaPagada', 'ConfirmarReserva', 'ReservaGDSConfirmada', 'AprobarReserva', 'ReservaAprobada'];

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (process.env.DEBUG_SPANS && Date.now() > deadline - 1000) debugSpans?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The spans of one saga's trace, once the one that processed its last event is there and every parent link resolves. */
function sagaTrace(spans: readonly SeenSpan[], sagaId: string, isLast: (span: SeenSpan) => boolean, callerSpanId?: string) {
  const last = spans.find((s) => s.attributes['saga.id'] === sagaId && isLast(s));
  if (!last) return undefined;
  const ofTrace = spans.filter((s) => s.traceId === last.traceId);
  try {
    return { last, spans: ofTrace, path: messagePathTo(ofTrace, last, callerSpanId) };
  } catch {
    return undefined; // a parent not exported yet
  }
}

describe('trace context in messages', function () {
  it('should read a W3C traceparent from an envelope, and write the context of a span back', function () {
    const context = traceContextOf({ traceparent: TRACEPARENT });
    expect(trace.getSpanContext(context)).to.include({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' });
    expect(traceFieldsOf(context)).to.deep.equal({ traceparent: TRACEPARENT });
  });

  it('should take the first carrier with a valid context, and ignore malformed ones', function () {
    expect(traceContextOf({ traceparent: 'nonsense' })).to.equal(ROOT_CONTEXT);
    expect(traceContextOf(undefined, { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' })).to.equal(ROOT_CONTEXT);
    expect(trace.getSpanContext(traceContextOf({ traceparent: 'bad' }, { traceparent: TRACEPARENT }))?.traceId).to.equal('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(traceFieldsOf(ROOT_CONTEXT)).to.deep.equal({});
  });

  it('should tell whether a tracer provider is registered, so the outbox relay reads no context nothing would record', function () {
    expect(tracerRegistered(), 'none yet').to.equal(false);
    new NodeTracerProvider().register();
    try {
      expect(tracerRegistered(), 'registered').to.equal(true);
    } finally {
      trace.disable();
      context.disable();
      propagation.disable();
    }
    expect(tracerRegistered(), 'after it was taken down').to.equal(false);
  });
});

describe('SAGA_TRACE_URL', function () {
  it('should take an http(s) address with {traceId}, and refuse anything else with the reason', function () {
    expect(loadConfig({ SAGA_TRACE_URL: 'http://127.0.0.1:16686/trace/{traceId}' }).traceUrl).to.equal('http://127.0.0.1:16686/trace/{traceId}');
    expect(loadConfig({}).traceUrl).to.equal(undefined);
    for (const bad of ['http://127.0.0.1:16686/search', 'jaeger/{traceId}', 'javascript:alert({traceId})']) {
      expect(() => loadConfig({ SAGA_TRACE_URL: bad }), bad).to.throw(/SAGA_TRACE_URL must be an http\(s\) URL with \{traceId\}/);
    }
  });
});

describe('traces in one process', function () {
  this.timeout(60_000);
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'aeroalpes' }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-tracing-'));
  const seen = (): SeenSpan[] => exporter.getFinishedSpans().map(toSeen);

  before(() => provider.register());
  debugSpans = () => console.log(seen().map((s) => `${s.service} ${s.name} ${s.kind} ${s.traceId.slice(0, 6)} ${s.spanId.slice(0, 6)} <- ${s.parentSpanId?.slice(0, 6)} ${s.attributes['saga.id']}`).join('\n'));
  after(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const style of ['orchestration', 'choreography'] as Style[]) {
    describe(`by ${style}`, function () {
      let system: System;
      let client: HttpClient;
      before(async function () {
        const config = { ...loadConfig({ SAGA_TRACE_URL: 'http://traces.example/trace/{traceId}?from=saga' }), style, databaseUrl: `sqlite:${path.join(dir, `${style}.db`)}`, outageGraceMs: 0, adminToken: TEST_ADMIN_TOKEN };
        system = await createSystem(config, { relayPollMs: 50, deadlinePollMs: 100 });
        client = await serveApp(createApp(system, { log: () => {} }));
      });
      after(async () => {
        await client?.close();
        await system?.close();
      });

      it('should make one reservation one trace, from POST /reservas along every message of the saga', async function () {
        const { id_correlacion: id } = (await client.request('POST', '/reservas', { id_cliente: 'c-1', monto: 10, monto_vat: 1.9, itinerarios: [] }, { traceparent: TRACEPARENT })).body;
        await waitForStatus(system, id, 'completed', 10_000, style === 'orchestration' ? 'reserva' : 'reserva-coreografia');
        const found = await until('the trace of the saga', () =>
          sagaTrace(seen(), id, (s) => s.kind === SPAN_KIND.consumer && s.name === 'process ReservaAprobada', '00f067aa0ba902b7'),
        );
        // The caller's trace goes on: the request's span is the child of the caller's.
        expect(found.last.traceId).to.equal('4bf92f3577b34da6a3ce929d0e0e4736');
        expect(found.path.root).to.include({ name: 'POST /reservas', parentSpanId: '00f067aa0ba902b7' });
        expect(found.path.types).to.deep.equal(HAPPY_PATH);
        // Every span about this saga is of that one trace.
        const about = seen().filter((s) => s.attributes['saga.id'] === id);
        expect(about.length).to.be.greaterThan(HAPPY_PATH.length * 2);
        expect(new Set(about.map((s) => s.traceId))).to.deep.equal(new Set([found.last.traceId]));
        // Each delivery's span is the child of the publication of that very message (the request handed to the runtime directly, by choreography, was never published).
        const byId = new Map(found.spans.map((s) => [s.spanId, s]));
        for (const consumer of found.spans.filter((s) => s.kind === SPAN_KIND.consumer && s.attributes['messaging.destination.name'])) {
          const parent = byId.get(consumer.parentSpanId!);
          expect(parent?.kind, consumer.name).to.equal(SPAN_KIND.producer);
          expect(parent?.attributes['messaging.message.id'], consumer.name).to.equal(consumer.attributes['messaging.message.id']);
        }
        // The saga log keeps the trace id of each transition.
        const view = (await client.request("GET", `/sagas/${id}`)).body as { log: { traceId: string | null }[] };
        expect(new Set(view.log.map((e) => e.traceId))).to.deep.equal(new Set([found.last.traceId]));
        // /ui shows it on each entry, linked to the trace UI.
        const page = await (await fetch(`${client.base}/ui/sagas/${id}`)).text();
        const links = [...page.matchAll(/<a class="trace-link" href="([^"]+)"/g)].map((m) => m[1].replaceAll('&amp;', '&'));
        expect(links).to.have.length(view.log.length);
        expect(new Set(links)).to.deep.equal(new Set([`http://traces.example/trace/${found.last.traceId}?from=saga`]));
      });

      // By orchestration the saga takes its deadlines from the request (by choreography each part takes them from its process's settings).
      if (style === 'orchestration')
      it("should continue the trace when a deadline fires: the timer's transition is a child of the one that set it", async function () {
        // A short step deadline for this saga only: asked for directly, in a span of the test's own.
        const input = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 300 } });
        const id = input.id_correlacion;
        await trace.getTracer('test').startActiveSpan('test request', async (span) => {
          await system.requestReserva(input);
          span.end();
        });
        await waitForStatus(system, id, 'compensated', 10_000, style === 'orchestration' ? 'reserva' : 'reserva-coreografia');
        const found = await until('the trace of the timed-out saga', () =>
          sagaTrace(seen(), id, (s) => s.kind === SPAN_KIND.consumer && s.name === 'process ReservaCancelada'),
        );
        const timer = found.spans.find((s) => s.name.startsWith('deadline ') && s.attributes['saga.id'] === id);
        expect(timer, 'a span for the deadline').to.not.equal(undefined);
        const setBy = found.spans.find((s) => s.spanId === timer!.parentSpanId);
        // PagarReserva was sent, and its deadline set, by the transition that took ReservaCreada.
        expect(setBy?.name).to.equal('process ReservaCreada');
        expect(found.path.root.name).to.equal('test request');
        expect(found.path.types.at(-1)).to.equal('ReservaCancelada');
      });

      if (style === 'choreography')
      it("should continue the trace when a part's deadline fires: pagos' timer is a child of the transition that sent PagarReserva", async function () {
        // By choreography each part takes its step deadline from its process: a process of its own with a short one.
        const config = { ...loadConfig({}), style, databaseUrl: `sqlite:${path.join(dir, 'choreography-deadline.db')}`, outageGraceMs: 0, plazoPasoMs: 1_500 };
        const timed = await createSystem(config, { relayPollMs: 50, deadlinePollMs: 100 });
        try {
          const input = reservaInput({ simular_fallo: 'timeout-pago' });
          const id = input.id_correlacion;
          await trace.getTracer('test').startActiveSpan('test request', async (span) => {
            await timed.requestReserva(input);
            span.end();
          });
          await waitForStatus(timed, id, 'compensated', 15_000, 'reserva-coreografia');
          const found = await until('the trace of the timed-out saga', () =>
            sagaTrace(seen(), id, (s) => s.kind === SPAN_KIND.consumer && s.name === 'process ReservaCancelada'),
          );
          const timers = found.spans.filter((s) => s.name.startsWith('deadline ') && s.attributes['saga.id'] === id);
          expect(timers.map((s) => s.attributes['saga.type']), 'one deadline fired, in pagos\' part').to.deep.equal(['pagos-reserva']);
          const setBy = found.spans.find((s) => s.spanId === timers[0].parentSpanId);
          expect(setBy, 'the span of the transition that set it').to.include({ name: 'process ReservaCreada', traceId: timers[0].traceId });
          expect(found.path.root.name).to.equal('test request');
        } finally {
          await timed.close();
        }
      });
    });
  }
});

describe('traces across services', function () {
  this.timeout(240_000);
  let receiver: OtlpReceiver;
  const clusters: ServiceCluster[] = [];
  const databases: { drop: () => Promise<void> }[] = [];

  before(requirePulsar);
  before(async () => {
    receiver = await OtlpReceiver.start();
  });
  after(async () => {
    for (const cluster of clusters) await cluster.stop();
    for (const database of databases) await database.drop();
    await receiver?.stop();
  });

  for (const style of ['orchestration', 'choreography'] as Style[]) {
    it(`should make one reservation one trace across every process, by ${style}, exported over OTLP/HTTP`, async function () {
      const database = await freshMysqlDatabase(`trace_${style.slice(0, 5)}`);
      databases.push(database);
      const cluster = await ServiceCluster.start({
        databaseUrl: database.url,
        namespace: await freshNamespace(),
        env: { SAGA_STYLE: style, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '200' },
      });
      clusters.push(cluster);
      const { id_correlacion: id } = await postReserva(cluster);
      expect((await waitForFinal(cluster, id)).status).to.equal('completed');
      // The coordinator saw the last event: as the orchestrator, or as the choreography's tracker.
      const found = await until(
        'the spans of the saga from every process',
        () => {
          const candidate = sagaTrace(receiver.spans, id, (s) => s.service === 'coordinator' && s.kind === SPAN_KIND.consumer && s.name === 'process ReservaAprobada');
          const services = new Set(candidate?.spans.map((s) => s.service));
          return candidate && ['vuelos', 'coordinator', 'pagos', 'gds', 'notificaciones'].every((s) => services.has(s)) ? candidate : undefined;
        },
        60_000,
      );
      expect(receiver.refused).to.deep.equal([]);
      expect(found.path.root).to.include({ service: 'vuelos', name: 'POST /reservas', kind: SPAN_KIND.server });
      // vuelos asks for the saga with IniciarReserva; then the steps, each command and its answer.
      expect(found.path.types).to.deep.equal(['IniciarReserva', ...HAPPY_PATH]);
      // Each step's command is handled in its participant's process, and answered from there.
      const handled = (type: string) => found.spans.find((s) => s.kind === SPAN_KIND.consumer && s.attributes['cloudevents.event_type'] === type && !s.name.startsWith('process '));
      expect(handled('CrearReserva')?.service).to.equal('vuelos');
      expect(handled('PagarReserva')?.service).to.equal('pagos');
      expect(handled('ConfirmarReserva')?.service).to.equal('gds');
      expect(handled('ReservaAprobada')?.service).to.equal('notificaciones');
      // Every span about the saga, in any process, is of the one trace.
      const about = receiver.spans.filter((s) => s.attributes['saga.id'] === id);
      expect(new Set(about.map((s) => s.traceId))).to.deep.equal(new Set([found.last.traceId]));
      const byId = new Map(found.spans.map((s) => [s.spanId, s]));
      for (const consumer of found.spans.filter((s) => s.kind === SPAN_KIND.consumer && s.attributes['messaging.destination.name'])) {
        const parent = byId.get(consumer.parentSpanId!);
        expect(parent?.kind, `${consumer.service} ${consumer.name}`).to.equal(SPAN_KIND.producer);
        expect(parent?.attributes['messaging.message.id']).to.equal(consumer.attributes['messaging.message.id']);
      }
      await cluster.stop();
    });
  }
});

function toSeen(span: ReadableSpan): SeenSpan {
  return {
    service: String(span.resource.attributes['service.name']),
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? null,
    name: span.name,
    kind: span.kind + 1, // the API's numbering starts at 0 (internal), OTLP's at 1
    attributes: { ...span.attributes },
  };
}

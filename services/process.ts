import { context } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import type Koa from 'koa';
import type { SagaDefinition } from '../runtime/registry.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import { DeadLetters } from '../runtime/dead-letters.ts';
import { openInspection } from '../runtime/inspection.ts';
import { SagaRuntime } from '../runtime/saga-runtime.ts';
import { AEROALPES, participantOf, sagaOfService, type Application } from './catalog.ts';
import { plazosOf, type Config, type ServiceName } from './config.ts';
import { SagaStarter } from './coordinator/saga-starter.ts';
import { koaApp } from './http/app.ts';
import { deadLetterRoutes } from './http/routes-dead-letters.ts';
import { healthRoutes } from './http/routes-health.ts';
import { ReservaEntry } from './http/reserva-entry.ts';
import { reservaRoutes } from './http/routes-reservas.ts';
import { sagaRoutes } from './http/routes-sagas.ts';
import { TEST_ENDPOINTS, testRoutes } from './http/routes-test.ts';
import { uiRoutes } from './http/routes-ui.ts';
import { openInfrastructure, type InfrastructureOptions } from './infrastructure.ts';
import type { Participant } from './participants/participant.ts';

/** The coordinator's subscriptions: the orchestrated saga's, and the choreography tracker's. */
const SAGAS_SUBSCRIPTION = 'sagas';
const TRACKER_SUBSCRIPTION = 'seguimiento';
/** A participant's subscription for its part of the choreographed saga. */
const partSubscription = (service: string) => `${service}-saga`;

/**
 * Every durable subscription the processes of `application` open, in either style (the
 * chaos suite audits their broker dead-letter topics).
 *
 * @example
 * subscriptionsOf(AEROALPES); // ['sagas', 'coordinator', 'seguimiento', 'vuelos', …, 'vuelos-saga', …]
 */
export function subscriptionsOf(application: Application = AEROALPES): string[] {
  const participants = application.services.flatMap((s) => (s.participant ? [s.participant.name] : []));
  const parts = application.sagas.filter((e) => e.style === 'choreography' && e.runBy !== 'coordinator').map((e) => partSubscription(e.runBy));
  return [SAGAS_SUBSCRIPTION, SagaStarter.subscription, TRACKER_SUBSCRIPTION, ...participants, ...parts];
}

export interface ServiceProcess {
  name: ServiceName;
  app: Koa;
  close(): Promise<void>;
}

/**
 * The composition root of one service running as its own process: its database tables,
 * the transport, the outbox relay, its consumers and its Koa app.
 *
 * - coordinator: the saga runtime, the starter of sagas (`IniciarReserva`), `GET /sagas…`;
 *   in choreography (`SAGA_STYLE=choreography`) only the tracker behind `GET /sagas…`, and
 *   vuelos, pagos and gds each run their own part of the saga;
 * - vuelos: reservations; `POST /reservas` asks the coordinator for a saga (an
 *   `IniciarReserva` in its outbox, committed with the request's `Idempotency-Key`);
 * - pagos, gds: their commands and the tutorial's `/prueba-*` endpoints of their context;
 * - notificaciones: e-mails for reservation outcomes.
 *
 * @example
 * const service = await startService('pagos', loadConfig());
 * http.createServer(service.app.callback()).listen(config.ports.pagos);
 */
export async function startService(name: ServiceName, config: Config, options: InfrastructureOptions & { application?: Application } = {}): Promise<ServiceProcess> {
  const application = options.application ?? AEROALPES;
  const { messages } = application;
  /** The consumers and saga types of this process: whose dead letters it works, whose outbox rows it publishes. */
  const consumers: string[] = [];
  const infra = await openInfrastructure(config, { ...options, publishes: () => consumers, replica: { service: name } });
  const { store, relay, transport, health, metrics } = infra;
  const router = new Router();
  healthRoutes(router, infra);
  const stops: (() => Promise<void>)[] = [];
  const deps = { store, relay, health, messages, testMode: config.testEndpoints, clock: options.clock, log: options.log, metrics };
  const plazos = plazosOf(config);
  // Of the shutdown bound: most for the messages in flight, then the outbox.
  const drainMs = Math.round(config.shutdownTimeoutMs * 0.6);
  // The coordinator serves the relay to Stately's inspector; the other services connect to it.
  const inspection = await openInspection(config.inspect, { log: options.log, serve: name === 'coordinator', host: config.host });
  if (inspection) stops.push(async () => inspection.close());
  const startRuntime = async (sagas: SagaDefinition[], subscription: string) => {
    const runtime = new SagaRuntime({
      store,
      transport,
      relay,
      health,
      sagas,
      messages,
      subscription,
      startSettings: { plazos },
      outageGraceMs: config.outageGraceMs,
      clock: options.clock,
      log: options.log,
      onTransition: inspection?.onTransition,
      metrics,
    });
    await runtime.listen();
    consumers.push(subscription, ...runtime.registry.types());
    stops.push(() => runtime.close(drainMs));
    return runtime;
  };
  /** The saga this service runs in the configured style (the catalog, services/catalog.ts). */
  const ownSaga = () => sagaOfService(application, name, config.style) as unknown as SagaDefinition | undefined;
  const startParticipant = async (participant: Participant) => {
    await participant.listen(transport);
    consumers.push(participant.name);
    stops.push(() => participant.close(drainMs));
    participant.routes(router);
    // In choreography the service also runs its own part of each reservation's saga.
    const saga = config.style === 'choreography' ? ownSaga() : undefined;
    if (saga) await startRuntime([saga], partSubscription(name));
  };
  const participant = participantOf(application, name)?.create(deps);

  const operation = { adminToken: config.adminToken, stuck: { overdueMs: config.stuckOverdueMs, idleMs: config.stuckIdleMs } };
  if (name === 'coordinator') {
    const saga = ownSaga();
    if (!saga) throw new Error(`the coordinator runs no saga in ${config.style}`);
    if (config.style === 'choreography') {
      // No coordinator in choreography: this process only keeps the tracker's view of each saga.
      sagaRoutes(router, { store, runtime: await startRuntime([saga], TRACKER_SUBSCRIPTION), ...operation });
    } else {
      const runtime = await startRuntime([saga], SAGAS_SUBSCRIPTION);
      const starter = new SagaStarter(runtime, store, plazos, { health, log: options.log });
      await starter.listen(transport);
      consumers.push(SagaStarter.subscription);
      stops.push(() => starter.close(drainMs));
      sagaRoutes(router, { store, runtime, ...operation });
    }
  } else if (participant) {
    await startParticipant(participant);
    if (config.testEndpoints && TEST_ENDPOINTS.some((e) => e.context === name)) testRoutes(router, infra, [name as 'pagos' | 'gds']);
  } else {
    throw new Error(`${name} is not a service of this application (services/catalog.ts)`);
  }
  if (name === 'vuelos') {
    // The coordinator runs the saga: vuelos only asks for one, through the broker. The
    // request is committed with its IniciarReserva outbox row (and its Idempotency-Key):
    // once answered it is published, whether the broker is up now or later.
    const serviceName = participant!.serviceName;
    const entry = new ReservaEntry({
      store,
      config,
      clock: options.clock,
      record: async (uow, input) => {
        const now = (options.clock ?? Date.now)();
        const envelope = makeEnvelope('IniciarReserva', input, serviceName, { id: randomUUID(), now, trace: context.active() });
        await uow.enqueue([
          { messageId: envelope.id, sagaType: name, sagaId: input.id_correlacion, topic: messages.topicOf('IniciarReserva'), key: input.id_correlacion, payload: JSON.stringify(envelope), createdAt: now },
        ]);
      },
      start: async () => relay.kick(),
    });
    reservaRoutes(router, { config, entry });
  }
  if (name === 'coordinator') uiRoutes(router, { store, sagas: application.sagas.map((entry) => entry.saga as unknown as SagaDefinition), traceUrl: config.traceUrl }, operation);
  deadLetterRoutes(router, new DeadLetters(store, { consumers, clock: options.clock, log: options.log }), { adminToken: config.adminToken });
  relay.start();
  return {
    name,
    app: koaApp(router, { log: options.log, allowedOrigins: config.allowedOrigins, metrics, service: name }),
    async close() {
      // Consumers first, together (each stops pulling and lets what it has in flight commit and
      // be acknowledged), then what they wrote is published.
      await Promise.all(stops.map((stop) => stop()));
      const left = await relay.drain(Math.round(config.shutdownTimeoutMs * 0.25)).catch(() => -1);
      if (left !== 0) options.log?.('outbox not empty at shutdown; the next start publishes it', { level: 'warn', left });
      await infra.close();
    },
  };
}

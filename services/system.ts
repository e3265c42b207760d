import { context } from '@opentelemetry/api';
import type { SagaMetrics } from '../runtime/metrics.ts';
import { createHash } from 'node:crypto';
import type { Sequelize } from 'sequelize';
import type { Commands, Envelope } from '../machines/messages.ts';
import type { ReservaInput } from '../machines/reserva.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import { SagaAlreadyExistsError } from '../runtime/errors.ts';
import { openInspection } from '../runtime/inspection.ts';
import type { SagaDefinition } from '../runtime/registry.ts';
import type { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import type { Health } from '../runtime/health.ts';
import type { OutboxRelay } from '../runtime/outbox-relay.ts';
import type { Transport } from '../runtime/ports.ts';
import { SagaRuntime } from '../runtime/saga-runtime.ts';
import { plazosOf, type Config } from './config.ts';
import { openInfrastructure } from './infrastructure.ts';
import { AEROALPES, sagasIn, type Application, type ServiceEntry } from './catalog.ts';
import type { DeclaredParticipant } from './participants/declare.ts';
import type { CONFIRMACIONES_GDS } from './participants/gds.ts';
import type { NotificacionesService } from './participants/notificaciones.ts';
import type { PAGOS } from './participants/pagos.ts';
import type { Participant } from './participants/participant.ts';
import type { RESERVAS } from './participants/vuelos.ts';
import type { Log } from '../runtime/logger.ts';

export interface SystemOptions {
  /** Defaults to the transport `config.transport` names (in-process by default). */
  transport?: Transport;
  clock?: () => number;
  log?: Log;
  /** Start consuming at once (default true). */
  listen?: boolean;
  relayPollMs?: number;
  deadlinePollMs?: number;
  /** Most messages applied in one transaction, by the runtime and by each participant (default 64). */
  maxBatch?: number;
  /** Open Stately's inspector in the desktop's browser when this process starts the `SAGA_INSPECT` relay (default true). */
  openInspector?: boolean;
  /** Its services, sagas and messages (default AeroAlpes, services/catalog.ts). */
  application?: Application;
  /** Also export Node's own metrics (process, heap, event loop) at `/metrics`: once per process, from its composition root. */
  processMetrics?: boolean;
}


export interface System {
  config: Config;
  /** Its services, sagas and messages. */
  application: Application;
  sequelize: Sequelize;
  store: SequelizeSagaStore;
  transport: Transport;
  relay: OutboxRelay;
  health: Health;
  /** What its parts count (`GET /metrics`). */
  metrics: SagaMetrics;
  runtime: SagaRuntime;
  /** Every participant of the application, by name. */
  participants: Record<string, Participant>;
  /** The AeroAlpes participants (undefined in an application without them). */
  vuelos: DeclaredParticipant<typeof RESERVAS.definition>;
  pagos: DeclaredParticipant<typeof PAGOS.definition>;
  gds: DeclaredParticipant<typeof CONFIRMACIONES_GDS.definition>;
  notificaciones: NotificacionesService;
  /**
   * Runs a saga for this reservation request, in the configured style; resolves once it is
   * committed. Idempotent per `input.id_correlacion`: a saga that exists already under that
   * id counts as started, so a retried request starts one saga.
   */
  requestReserva(input: ReservaInput): Promise<void>;
  listen(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The composition root of one process running the whole orchestrated system: database,
 * migrations, transport, outbox relay, saga runtime and the four participants.
 *
 * @example
 * const system = await createSystem(loadConfig());
 * await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
 */
/**
 * The saga definitions a process runs: the orchestrated saga, or every participant's part
 * of the choreography plus the tracker that gives it one view.
 */
export function sagasFor(style: Config['style'], application: Application = AEROALPES): SagaDefinition[] {
  return sagasIn(application, style) as unknown as SagaDefinition[];
}

/** The id of the `IniciarReserva` message of saga `id`: the same for every attempt to start it. */
function requestMessageId(id: string): string {
  const hex = createHash('sha256').update(`IniciarReserva\u0000${id}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export async function createSystem(config: Config, options: SystemOptions = {}): Promise<System> {
  const application = options.application ?? AEROALPES;
  const { messages } = application;
  const infra = await openInfrastructure(config, options);
  const { sequelize, store, transport, relay, health, metrics } = infra;
  const log = options.log;
  const inspection = await openInspection(config.inspect, { log, host: config.host, open: options.openInspector });
  const runtime = new SagaRuntime({
    store,
    transport,
    relay,
    health,
    sagas: sagasFor(config.style, application),
    messages,
    startSettings: { plazos: plazosOf(config) },
    clock: options.clock,
    log,
    deadlinePollMs: options.deadlinePollMs,
    outageGraceMs: config.outageGraceMs,
    maxBatch: options.maxBatch,
    onTransition: inspection?.onTransition,
    metrics,
  });
  const deps = { store, relay, health, messages, testMode: config.testEndpoints, clock: options.clock, log, maxBatch: options.maxBatch, metrics };
  const participants = Object.fromEntries(application.services.flatMap((s: ServiceEntry) => (s.participant ? [[s.name, s.participant.create(deps)]] : []))) as Record<string, Participant>;
  const all = Object.values(participants);
  let listening = false;
  const system: System = {
    config,
    application,
    sequelize,
    store,
    transport,
    relay,
    health,
    metrics,
    runtime,
    participants,
    ...(participants as unknown as Pick<System, 'vuelos' | 'pagos' | 'gds' | 'notificaciones'>),
    async requestReserva(input) {
      if (config.style === 'orchestration') {
        try {
          await runtime.startSaga('reserva', input, { id: input.id_correlacion });
        } catch (error) {
          if (!(error instanceof SagaAlreadyExistsError)) throw error;
        }
        return;
      }
      // Choreography: the request starts vuelos' part; the others follow its events. The
      // message id comes from the saga id, so a repeated request is a duplicate message.
      const request: Commands['IniciarReserva'] = { ...input };
      const envelope = makeEnvelope('IniciarReserva', request, participants.vuelos?.serviceName ?? 'vuelos', { id: requestMessageId(input.id_correlacion), trace: context.active() });
      const outcome = await runtime.handle(envelope as unknown as Envelope);
      if (outcome.status === 'dead-lettered') throw new Error(`reservation request refused: ${outcome.reason}`);
    },
    async listen() {
      if (listening) return;
      listening = true;
      // Subscriptions first, so nothing published by the relay finds a topic with no subscriber.
      for (const participant of all) await participant.listen(transport);
      await runtime.listen();
      relay.start();
    },
    async close() {
      // Consumers first, together: each lets what it has in flight commit and be acknowledged.
      const drainMs = Math.round(config.shutdownTimeoutMs * 0.6);
      await Promise.all([runtime.close(drainMs), ...all.map((participant) => participant.close(drainMs))]);
      if (listening) await relay.drain(Math.round(config.shutdownTimeoutMs * 0.25)).catch(() => undefined);
      await infra.close();
      inspection?.close();
    },
  };
  if (options.listen !== false) await system.listen();
  return system;
}

import type { Sequelize } from 'sequelize';
import { reservaSaga } from '../machines/reserva.ts';
import type { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import type { OutboxRelay } from '../runtime/outbox-relay.ts';
import type { Transport } from '../runtime/ports.ts';
import { SagaRuntime } from '../runtime/saga-runtime.ts';
import type { Config } from './config.ts';
import { openInfrastructure } from './infrastructure.ts';
import { GdsService } from './participants/gds.ts';
import { NotificacionesService } from './participants/notificaciones.ts';
import { PagosService } from './participants/pagos.ts';
import { VuelosService } from './participants/vuelos.ts';

export interface SystemOptions {
  /** Defaults to the transport `config.transport` names (in-process by default). */
  transport?: Transport;
  clock?: () => number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Start consuming at once (default true). */
  listen?: boolean;
  relayPollMs?: number;
  deadlinePollMs?: number;
  /** Most messages applied in one transaction, by the runtime and by each participant (default 64). */
  maxBatch?: number;
}

export interface System {
  config: Config;
  sequelize: Sequelize;
  store: SequelizeSagaStore;
  transport: Transport;
  relay: OutboxRelay;
  runtime: SagaRuntime;
  vuelos: VuelosService;
  pagos: PagosService;
  gds: GdsService;
  notificaciones: NotificacionesService;
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
export async function createSystem(config: Config, options: SystemOptions = {}): Promise<System> {
  const infra = await openInfrastructure(config, options);
  const { sequelize, store, transport, relay } = infra;
  const log = options.log;
  const runtime = new SagaRuntime({ store, transport, relay, sagas: [reservaSaga], clock: options.clock, log, deadlinePollMs: options.deadlinePollMs, maxBatch: options.maxBatch });
  const deps = { store, relay, clock: options.clock, log, maxBatch: options.maxBatch };
  const participants = {
    vuelos: new VuelosService(deps),
    pagos: new PagosService(deps),
    gds: new GdsService(deps),
    notificaciones: new NotificacionesService(deps),
  };
  const all = Object.values(participants);
  let listening = false;
  const system: System = {
    config,
    sequelize,
    store,
    transport,
    relay,
    runtime,
    ...participants,
    async listen() {
      if (listening) return;
      listening = true;
      // Subscriptions first, so nothing published by the relay finds a topic with no subscriber.
      for (const participant of all) await participant.listen(transport);
      await runtime.listen();
      relay.start();
    },
    async close() {
      await runtime.close();
      for (const participant of all) await participant.close();
      await infra.close();
    },
  };
  if (options.listen !== false) await system.listen();
  return system;
}

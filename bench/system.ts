import type { Sequelize } from 'sequelize';
import { connect } from '../db/connect.ts';
import { migrate } from '../db/migrator.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { reservaSaga } from '../machines/reserva.ts';
import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import { OutboxRelay } from '../runtime/outbox-relay.ts';
import { SagaRuntime } from '../runtime/saga-runtime.ts';
import { GdsService } from '../services/participants/gds.ts';
import { NotificacionesService } from '../services/participants/notificaciones.ts';
import { PagosService } from '../services/participants/pagos.ts';
import { VuelosService } from '../services/participants/vuelos.ts';
import { CountingTransport, Probe } from './probe.ts';

export interface BenchSystem {
  sequelize: Sequelize;
  store: SequelizeSagaStore;
  transport: CountingTransport;
  inner: InMemoryTransport;
  relay: OutboxRelay;
  runtime: SagaRuntime;
  /** Subscription names, for checking that the transport drained. */
  subscriptions: string[];
  close(): Promise<void>;
}

/**
 * The same composition as `createSystem` in services/system.ts (store, in-process transport,
 * relay, runtime, four participants, default poll intervals), plus what `createSystem` does
 * not expose: the runtime's `maxBatch`, and a probe wrapped around the transport, the
 * Sequelize instance, the relay and `runtime.process`.
 */
export async function openBenchSystem(databaseUrl: string, options: { maxBatch?: number; probe: Probe }): Promise<BenchSystem> {
  const { probe } = options;
  const sequelize = await connect(databaseUrl);
  await migrate(sequelize);
  probe.instrument(sequelize);
  const store = new SequelizeSagaStore(sequelize);
  const inner = new InMemoryTransport();
  const transport = new CountingTransport(inner, probe);
  const log = probe.log;
  const relay = new OutboxRelay(store, transport, { log });
  const flush = relay.flush.bind(relay);
  relay.flush = () => probe.label('relay', flush);
  const runtime = new SagaRuntime({ store, transport, relay, sagas: [reservaSaga], log, maxBatch: options.maxBatch });
  probe.observeBatches(runtime as unknown as { process: (inputs: never[]) => Promise<unknown[]> });
  const deps = { store, relay, log };
  const participants = [new VuelosService(deps), new PagosService(deps), new GdsService(deps), new NotificacionesService(deps)];
  // Same order as System.listen(): subscriptions first, then the runtime, then the relay.
  for (const participant of participants) await participant.listen(transport);
  await runtime.listen();
  relay.start();
  return {
    sequelize,
    store,
    transport,
    inner,
    relay,
    runtime,
    subscriptions: ['sagas', ...participants.map((p) => p.name)],
    async close() {
      await runtime.close();
      for (const participant of participants) await participant.close();
      await relay.stop();
      await transport.close();
      await store.close();
    },
  };
}

import type { Sequelize } from 'sequelize';
import type { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import type { OutboxRelay } from '../runtime/outbox-relay.ts';
import type { SagaRuntime } from '../runtime/saga-runtime.ts';
import { loadConfig } from '../services/config.ts';
import { createSystem } from '../services/system.ts';
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
 * The system of `createSystem` (services/system.ts) with a probe wrapped around the
 * transport, the Sequelize instance, the relay and the runtime's batches.
 */
export async function openBenchSystem(databaseUrl: string, options: { maxBatch?: number; probe: Probe }): Promise<BenchSystem> {
  const { probe } = options;
  const inner = new InMemoryTransport();
  const transport = new CountingTransport(inner, probe);
  const system = await createSystem({ ...loadConfig({}), databaseUrl }, { transport, maxBatch: options.maxBatch, log: probe.log });
  probe.instrument(system.sequelize, system.store);
  const flush = system.relay.flush.bind(system.relay);
  system.relay.flush = () => probe.label('relay', flush);
  probe.observeBatches(system.runtime as unknown as { settle: (inputs: never[]) => Promise<unknown[]> });
  return {
    sequelize: system.sequelize,
    store: system.store,
    transport,
    inner,
    relay: system.relay,
    runtime: system.runtime,
    subscriptions: ['sagas', system.vuelos.name, system.pagos.name, system.gds.name, system.notificaciones.name],
    async close() {
      await system.close();
      await transport.close();
    },
  };
}

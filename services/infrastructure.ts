import type { Sequelize } from 'sequelize';
import { connect } from '../db/connect.ts';
import { migrate } from '../db/migrator.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { Health } from '../runtime/health.ts';
import { SagaMetrics } from '../runtime/metrics.ts';
import { OutboxRelay } from '../runtime/outbox-relay.ts';
import { newReplicaId, ReplicaLease } from '../runtime/replica-lease.ts';
import type { Transport } from '../runtime/ports.ts';
import { DAY_MS, RetentionJob, type RetentionOptions } from '../runtime/retention.ts';
import type { Config } from './config.ts';
import { openTransport } from './transport.ts';
import type { Log } from '../runtime/logger.ts';

export interface InfrastructureOptions {
  /** Defaults to the transport `config.transport` names. */
  transport?: Transport;
  clock?: () => number;
  log?: Log;
  relayPollMs?: number;
  /** The outbox rows this process publishes, by writer (see `OutboxRelayOptions.sagaTypes`); omitted: all. */
  publishes?: () => readonly string[];
  /** False: a process that only inspects the database (the CLI) and runs no retention. */
  listen?: boolean;
  /** Retention settings over the configuration's (e.g. a short `firstRunMs` in tests); false: no retention. */
  retention?: Partial<RetentionOptions> | false;
  /**
   * The service this process is one replica of: it takes a lease (`ReplicaLease`), owns the
   * outbox rows it writes and adopts those of dead replicas of the same service. Omitted (one
   * process over its database, a tool): unowned rows, no lease.
   */
  replica?: { service: string };
  /** The `service` label of its metrics (default the replica's service, else `aeroalpes`). */
  service?: string;
  /** Also export Node's own metrics (process, heap, event loop): once per process, from its composition root. */
  processMetrics?: boolean;
}

export interface Infrastructure {
  sequelize: Sequelize;
  store: SequelizeSagaStore;
  transport: Transport;
  relay: OutboxRelay;
  /** The process's view of its database and broker: consumers wait while one is down, `/ready` reports it. */
  health: Health;
  /** Deletes what is done and older than `SAGA_RETENTION_DAYS`; started here, stopped by `close`. */
  retention: RetentionJob;
  /** This process's lease among its service's replicas (with `options.replica`). */
  lease: ReplicaLease | null;
  /** What its parts count, served by `GET /metrics`; `transport` is counted through it. */
  metrics: SagaMetrics;
  close(): Promise<void>;
}

/**
 * What every process needs: the migrated database, the store, the transport, the
 * outbox relay that publishes what the process commits, and the retention job (armed
 * here, first pass ~30 s later, unless `listen: false` or `SAGA_RETENTION_DAYS=0`).
 *
 * @example
 * const infra = await openInfrastructure(loadConfig());
 */
export async function openInfrastructure(config: Config, options: InfrastructureOptions = {}): Promise<Infrastructure> {
  // The transport first: a missing optional driver should fail before the database is touched.
  const metrics = new SagaMetrics({ service: options.service ?? options.replica?.service ?? 'aeroalpes', defaults: options.processMetrics });
  const transport = metrics.instrument(options.transport ?? (await openTransport(config, options.log)));
  let sequelize: Sequelize | undefined;
  try {
    sequelize = await connect(config.databaseUrl);
    await migrate(sequelize);
  } catch (error) {
    await sequelize?.close();
    if (!options.transport) await transport.close();
    throw error;
  }
  const replicaId = options.replica ? newReplicaId() : undefined;
  const store = new SequelizeSagaStore(sequelize, { replicaId });
  const health = new Health({ clock: options.clock, log: options.log });
  const relay = new OutboxRelay(store, transport, { clock: options.clock, log: options.log, pollMs: options.relayPollMs, health, sagaTypes: options.publishes, metrics });
  metrics.watch(health).countPendingWith(async () => [...(await store.unpublishedByOwner()).values()].reduce((a, b) => a + b, 0));
  const stopCounting = metrics.countDeadLettersOf(store);
  let lease: ReplicaLease | null = null;
  if (options.replica) {
    lease = new ReplicaLease(store, {
      service: options.replica.service,
      id: replicaId,
      leaseMs: config.replicaLeaseMs,
      singleProcess: sequelize.getDialect() === 'sqlite',
      onAdopted: () => relay.rescan(),
      clock: options.clock,
      log: options.log,
    });
    try {
      await lease.start();
    } catch (error) {
      await store.close();
      if (!options.transport) await transport.close();
      throw error;
    }
  }
  const unwatch = transport.watch?.((state) => (state.available ? health.up('broker') : health.down('broker', state.reason ?? 'disconnected')));
  // Publish what waited for the outage as soon as it ends.
  const stopKicking = health.onChange(() => health.available && relay.kick());
  const retention = new RetentionJob(store, {
    keepMs: config.retention.days * DAY_MS,
    intervalMs: config.retention.intervalMs,
    clock: options.clock,
    log: options.log,
    ...(options.retention || {}),
  });
  if (options.listen !== false && options.retention !== false) retention.start();
  return {
    sequelize,
    store,
    transport,
    relay,
    health,
    retention,
    lease,
    metrics,
    async close() {
      unwatch?.();
      stopCounting();
      stopKicking();
      await retention.stop();
      await relay.stop();
      await lease?.stop();
      if (!options.transport) await transport.close();
      await store.close();
    },
  };
}

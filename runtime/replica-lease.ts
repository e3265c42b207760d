import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { ReplicaConflictError } from './errors.ts';
import type { Replica, ReplicaRegistry } from './ports.ts';
import type { Log } from './logger.ts';

export interface ReplicaLeaseOptions {
  /** The service this process runs: replicas of one service adopt each other's outbox rows. */
  service: string;
  /** Unique per process start (default: host, pid and a random suffix). */
  id?: string;
  /** How long a lease lasts unrenewed (default 10 s): a replica silent that long is taken for dead. */
  leaseMs?: number;
  /** How often the lease is renewed and dead replicas looked for (default a quarter of `leaseMs`). */
  renewMs?: number;
  /**
   * The database serves one process per service (SQLite): `start` refuses when another live
   * process of the service holds a lease (`ReplicaConflictError`).
   */
  singleProcess?: boolean;
  /** Told how many rows were adopted from a dead replica, so the relay publishes them now. */
  onAdopted?: (rows: number, from: string) => void;
  clock?: () => number;
  log?: Log;
}

/**
 * This process's lease among the replicas of its service, and the adoption of what dead
 * replicas left unpublished.
 *
 * Every `renewMs` the lease is renewed and the replicas of the same service whose lease
 * expired (or, on this host, whose process is gone) are looked for: each one's unpublished outbox rows become this replica's (one
 * transaction; of two survivors only one gets them), and the relay is told to publish them.
 * A graceful stop releases the lease, so a survivor adopts what is left at its next renewal.
 *
 * Leases compare the processes' clocks: keep them in sync (NTP) to well under `leaseMs`. A
 * replica that stalls longer than `leaseMs` (a long GC pause, a frozen VM) may see its rows
 * published by the adopter too: consumers deduplicate by message id, so that costs a
 * duplicate message, never a duplicate effect.
 *
 * @example
 * const lease = new ReplicaLease(store, { service: 'coordinator', onAdopted: () => relay.kick() });
 * await lease.start();   // store = new SequelizeSagaStore(sequelize, { replicaId: lease.id })
 * await lease.stop();    // after the relay drained
 */
export class ReplicaLease {
  readonly id: string;
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly clock: () => number;
  private readonly log: NonNullable<ReplicaLeaseOptions['log']>;
  private readonly startedAt: number;
  private written = false;

  constructor(
    private readonly registry: ReplicaRegistry,
    private readonly options: ReplicaLeaseOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 10_000;
    this.renewMs = options.renewMs ?? Math.max(100, Math.floor(this.leaseMs / 4));
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => {});
    this.id = options.id ?? newReplicaId();
    this.startedAt = this.clock();
  }

  /** This replica as the registry stores it, its lease running `leaseMs` from now. */
  get replica(): Replica {
    return { id: this.id, service: this.options.service, host: HOST, pid: process.pid, startedAt: this.startedAt, expiresAt: this.clock() + this.leaseMs };
  }

  /**
   * Takes the lease and adopts what dead replicas left, then renews every `renewMs`.
   *
   * @throws ReplicaConflictError with `singleProcess`, when another process of the service is alive
   */
  async start(): Promise<void> {
    if (this.options.singleProcess) await this.refuseSecondProcess();
    HELD.add(this.id);
    try {
      await this.renew();
    } catch (error) {
      HELD.delete(this.id);
      throw error;
    }
    this.schedule();
  }

  /** Stops renewing and releases the lease (after the relay drained: survivors adopt what is left). */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    HELD.delete(this.id);
    await this.renewing;
    await this.registry.releaseReplica(this.id).catch((error: unknown) => {
      this.log('releasing the replica lease failed; it expires by itself', { level: 'warn', error: (error as Error).message });
    });
  }

  /** Renews the lease and adopts the rows of expired replicas of the service (exposed for tests). */
  renew(): Promise<void> {
    this.renewing ??= this.renewAndAdopt().finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.renew()
        .catch((error: unknown) => this.log('renewing the replica lease failed; will retry', { level: 'warn', error: (error as Error).message }))
        .finally(() => this.timer && this.schedule());
    }, this.renewMs);
    this.timer.unref();
  }

  private async renewAndAdopt(): Promise<void> {
    const kept = await this.registry.renewReplica(this.replica, this.written);
    if (this.written && !kept) this.log('this replica was taken for dead (its lease expired) and its outbox rows adopted; it goes on with a new lease', { level: 'warn', replica: this.id });
    this.written = true;
    const now = this.clock();
    for (const other of await this.registry.listReplicas(this.options.service)) {
      if (other.id === this.id || isLive(other, now)) continue;
      const rows = await this.registry.adoptReplica(other, this.id);
      if (rows === null) continue;
      this.log('adopted a dead replica', { level: 'warn', from: other.id, host: other.host, pid: other.pid, rows });
      if (rows > 0) this.options.onAdopted?.(rows, other.id);
    }
  }

  private async refuseSecondProcess(): Promise<void> {
    const now = this.clock();
    const live = (await this.registry.listReplicas(this.options.service)).filter((other) => other.id !== this.id && isLive(other, now));
    if (live.length > 0) {
      const other = live[0];
      throw new ReplicaConflictError(
        `another process of ${this.options.service} (pid ${other.pid} on ${other.host}) uses this SQLite database: SQLite serves one process per service; run replicas on MySQL or MariaDB (DATABASE_URL=mysql://…)`,
      );
    }
  }
}

/**
 * This host as replicas compare it: its name, and on Linux its pid namespace, so that two
 * containers sharing a host name (host networking) never judge each other's pids.
 */
export const REPLICA_HOST = hostIdentity();
const HOST = REPLICA_HOST;

/** Leases held by this process now (a process may hold several: tests, an embedded system). */
const HELD = new Set<string>();

function hostIdentity(): string {
  try {
    return `${os.hostname()}/${fs.readlinkSync('/proc/self/ns/pid').replace(/\D/g, '')}`.slice(0, 191);
  } catch {
    return os.hostname().slice(0, 191);
  }
}

/** `host-pid-xxxxxx`: readable in `replicas` and logs, unique per process start. */
export function newReplicaId(): string {
  // The host name alone (not HOST's namespace): the id only has to be unique with the pid and the random part.
  return `${os.hostname().slice(0, 40)}-${process.pid}-${randomUUID().slice(0, 6)}`;
}

/**
 * Whether a replica is alive: its lease runs, and, on this host (and pid namespace), its
 * process too: a service restarted after a crash adopts what its predecessor left at once.
 */
function isLive(replica: Replica, now: number): boolean {
  if (replica.expiresAt < now) return false;
  return replica.host !== HOST || replicaAlive(replica.id, replica.pid);
}

/** Whether the replica `id` with this pid on this host is running (a pid of this process: only if it holds that lease). */
function replicaAlive(id: string, pid: number): boolean {
  if (pid === process.pid) return HELD.has(id); // else an earlier process that had this pid (a restarted container)
  return processAlive(pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

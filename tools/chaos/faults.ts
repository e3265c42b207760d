import { SERVICE_NAMES, type ServiceName } from '../../services/config.ts';
import type { ServiceCluster } from '../cluster/service-cluster.ts';
import type { BrokerControl } from './broker.ts';
import type { Reservation, ReservationClient } from './client.ts';
import type { FaultPlan } from './settings.ts';
import type { Supervisor } from './supervisor.ts';
import type { TcpProxy } from './tcp-proxy.ts';

/** One fault as it happened, and how long the system took to work again after it. */
export interface FaultRecord {
  kind: FaultPlan['kind'];
  /** The killed service, `broker` or `database`. */
  target: string;
  /** When the fault began and ended (epoch ms): the kill and the restart, the broker stop and its start being ready, the cut and the restore. */
  startedAt: number;
  endedAt: number;
  downMs: number;
  /** Fault end -> every service answers `/ready`. */
  readyMs: number | null;
  /** Fault end -> a probe saga posted after it completed (probes that ended otherwise are named in `error`). */
  recoveryMs: number | null;
  probe: string | null;
  /** Attempts the restart of a killed service took. */
  restartAttempts?: number;
  error?: string;
}

export interface FaultContext {
  cluster: ServiceCluster;
  supervisor: Supervisor;
  broker: BrokerControl;
  proxy: TcpProxy;
  client: ReservationClient;
  /** Probe reservations are added here, so the invariants check them too. */
  probes: Reservation[];
  random: () => number;
  /** The service the next kill without a target hits (run-style deals them from a shuffled deck). */
  nextKillTarget: () => ServiceName;
  recoveryTimeoutMs: number;
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * After a fault: waits until every service answers `/ready`, then posts a happy-path probe
 * reservation and waits until the coordinator shows it completed.
 *
 * @example
 * const { readyMs, recoveryMs } = await measureRecovery(ctx, Date.now());
 */
export async function measureRecovery(ctx: FaultContext, endedAt: number): Promise<Pick<FaultRecord, 'readyMs' | 'recoveryMs' | 'probe' | 'error'>> {
  const until = endedAt + ctx.recoveryTimeoutMs;
  const ready = async (name: ServiceName) => {
    try {
      return (await fetch(`${ctx.cluster.url(name)}/ready`, { signal: AbortSignal.timeout(1000) })).ok;
    } catch {
      return false;
    }
  };
  while (!(await Promise.all(SERVICE_NAMES.map(ready))).every(Boolean)) {
    if (Date.now() > until) return { readyMs: null, recoveryMs: null, probe: null, error: `services not all ready in ${ctx.recoveryTimeoutMs} ms` };
    await sleep(250);
  }
  const readyMs = Date.now() - endedAt;
  // A probe that does not complete (a happy saga compensated, say) is itself a finding, kept
  // with the probes for the invariants; recovery is when one completes.
  const failed: string[] = [];
  const failing = () => (failed.length ? `; probes that did not complete: ${failed.join(', ')}` : '');
  for (;;) {
    const probe = ctx.client.create('none', true);
    ctx.probes.push(probe);
    await ctx.client.submit(probe);
    if (!probe.accepted) {
      failed.push(`key ${probe.key.slice(0, 8)} not accepted (${probe.gaveUp})`);
    } else {
      const id = probe.accepted.id_correlacion;
      const saga = await waitForEnd(ctx, id, until);
      if (saga?.status === 'completed') return { readyMs, recoveryMs: Date.now() - endedAt, probe: id, ...(failed.length ? { error: failing().slice(2) } : {}) };
      failed.push(saga ? `${id} ${saga.status} in ${saga.state}` : `${id} still running`);
    }
    if (Date.now() > until) return { readyMs, recoveryMs: null, probe: null, error: `no probe saga completed in ${ctx.recoveryTimeoutMs} ms after the fault${failing()}` };
  }
}

/** Polls the coordinator until the saga is no longer running (null: still running at `until`). */
async function waitForEnd(ctx: FaultContext, id: string, until: number): Promise<{ status: string; state: string } | null> {
  for (;;) {
    try {
      const response = await fetch(`${ctx.cluster.url('coordinator')}/sagas/${id}`, { signal: AbortSignal.timeout(5000) });
      if (response.ok) {
        const saga = (await response.json()) as { status: string; state: string };
        if (saga.status !== 'running') return saga;
      }
    } catch {
      // the coordinator may be restarting: ask again
    }
    if (Date.now() > until) return null;
    await sleep(250);
  }
}

/**
 * Injects one fault and measures the recovery after it:
 * - kill: SIGKILL of a service process (coordinator or participant), restarted 0-2 s later;
 * - broker: `pulsar.sh stop`, `downMs`, `pulsar.sh start`;
 * - database: every connection through the proxy cut for `downMs`, then restored.
 *
 * @example
 * const record = await injectFault({ kind: 'database', at: 0.5, downMs: 20_000 }, ctx);
 */
export async function injectFault(plan: FaultPlan, ctx: FaultContext): Promise<FaultRecord> {
  const startedAt = Date.now();
  let endedAt = startedAt;
  let target: string = plan.kind;
  let restartAttempts: number | undefined;
  try {
    if (plan.kind === 'kill') {
      const name = plan.target ?? ctx.nextKillTarget();
      target = name;
      const downtime = Math.round(ctx.random() * 2000);
      ctx.log(`fault: SIGKILL ${name} (pid ${ctx.cluster.pid(name)}), restart in ${downtime} ms`);
      await ctx.supervisor.hold(name, async () => {
        await ctx.cluster.kill(name, 'SIGKILL');
        await sleep(downtime);
        endedAt = Date.now();
        restartAttempts = await ctx.cluster.restart(name, { timeoutMs: ctx.recoveryTimeoutMs });
      });
    } else if (plan.kind === 'broker') {
      ctx.log(`fault: broker stop for ${plan.downMs} ms`);
      await ctx.broker.stop();
      ctx.log(`fault: broker stopped after ${Date.now() - startedAt} ms`);
      await sleep(plan.downMs);
      await ctx.broker.start();
      endedAt = Date.now();
      ctx.log(`fault: broker ready again, down ${endedAt - startedAt} ms in all`);
    } else {
      ctx.log(`fault: database cut for ${plan.downMs} ms`);
      ctx.proxy.cut();
      await sleep(plan.downMs);
      ctx.proxy.restore();
      endedAt = Date.now();
      ctx.log('fault: database restored');
    }
  } catch (error) {
    endedAt = Date.now();
    return { kind: plan.kind, target, startedAt, endedAt, downMs: endedAt - startedAt, readyMs: null, recoveryMs: null, probe: null, restartAttempts, error: `fault failed: ${(error as Error).message.slice(0, 500)}` };
  }
  const recovery = await measureRecovery(ctx, endedAt);
  ctx.log(`fault: ${plan.kind} ${target} recovered: ready ${recovery.readyMs} ms, probe completed ${recovery.recoveryMs} ms after the fault ended${recovery.error ? ` (${recovery.error})` : ''}`);
  return { kind: plan.kind, target, startedAt, endedAt, downMs: endedAt - startedAt, restartAttempts, ...recovery, readyMs: recovery.readyMs, recoveryMs: recovery.recoveryMs, probe: recovery.probe };
}

import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import type { SagaInstanceSummary, SagaStore } from './ports.ts';
import type { SagaRegistry } from './registry.ts';
import { acceptedRepairs } from './repair.ts';

/** A saga nothing will move on its own, and why. */
export interface StuckSaga {
  sagaType: string;
  id: string;
  version: number;
  state: string;
  status: string;
  updatedAt: number;
  reasons: string[];
}

export interface StuckOptions {
  now?: number;
  /** How late a deadline may be before its scheduler counts as not running (default 60 s). */
  overdueMs?: number;
  /** How long a running saga with nothing pending may go without an event (default 10 min). */
  idleMs?: number;
  /** Most sagas of each kind looked at (default 200; each running one costs a read of its deadlines). */
  limit?: number;
}

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;
/** `xstate.after.plazoPaso.reserva.pagando` → `plazoPaso (pagando)`. */
const deadlineName = (type: string) => {
  const parts = type.split('.');
  return parts[0] === 'xstate' && parts[1] === 'after' ? `${parts[2]} (${parts.slice(4).join('.') || parts[3]})` : type;
};

/**
 * The sagas nothing can move, found from the store and the machines (issue 13):
 *
 * - a deadline overdue by more than `overdueMs`: no deadline scheduler runs for its saga type
 *   (the process that runs it is down);
 * - a running saga with no pending deadline, no unsent command and no event for `idleMs`:
 *   it waits for an answer that nothing will make it give up on;
 * - a compensation in its last attempt: the next deadline, by the machine, stops it in manual repair;
 * - a machine version this process does not run;
 * - manual repair: it waits for a person (with the repairs it accepts).
 *
 * @example
 * const stuck = await findStuck(store, runtime.registry, { overdueMs: 60_000 });
 * stuck.map((s) => `${s.id}: ${s.reasons.join('; ')}`);
 */
export async function findStuck(store: SagaStore, registry: SagaRegistry, options: StuckOptions = {}): Promise<StuckSaga[]> {
  const now = options.now ?? Date.now();
  const overdueMs = options.overdueMs ?? 60_000;
  const idleMs = options.idleMs ?? 600_000;
  const limit = options.limit ?? 200;
  const found = new Map<string, StuckSaga>();
  const add = (saga: Pick<SagaInstanceSummary, 'sagaType' | 'id' | 'version' | 'stateValue' | 'status' | 'updatedAt'>, reason: string) => {
    const key = `${saga.sagaType}/${saga.id}`;
    const entry = found.get(key) ?? { sagaType: saga.sagaType, id: saga.id, version: saga.version, state: saga.stateValue, status: saga.status, updatedAt: saga.updatedAt, reasons: [] };
    entry.reasons.push(reason);
    found.set(key, entry);
  };
  const known = new Set(registry.types());
  const definitionOf = (type: string, version: number) => {
    try {
      return known.has(type) ? registry.get(type, version) : null;
    } catch {
      return null;
    }
  };

  for (const deadline of await store.dueDeadlines(now - overdueMs, limit)) {
    const record = await store.getInstance(deadline.sagaType, deadline.sagaId);
    if (record) add(record, `deadline ${deadlineName(deadline.event.type)} is ${seconds(now - deadline.dueAt)} overdue: no deadline scheduler of ${deadline.sagaType} is running (is its process down?)`);
  }

  const unsent = new Set((await store.pendingOutbox(10_000)).map((m) => `${m.sagaType}/${m.sagaId}`));
  for (const summary of await store.listInstances({ status: 'running', limit })) {
    if (!known.has(summary.sagaType)) continue; // another process runs it: it judges it
    const definition = definitionOf(summary.sagaType, summary.version);
    if (!definition) {
      add(summary, `its machine, ${summary.sagaType} v${summary.version}, is not registered in this process (registered: ${registry.versionsOf(summary.sagaType).join(', ')})`);
      continue;
    }
    const deadlines = await store.deadlinesOf(summary.sagaType, summary.id);
    if (deadlines.length === 0 && !unsent.has(`${summary.sagaType}/${summary.id}`) && now - summary.updatedAt > idleMs) {
      add(summary, `nothing pending (no deadline, no unsent command) and no event for ${seconds(now - summary.updatedAt)}`);
    }
    if (deadlines.length === 0) continue;
    const record = await store.getInstance(summary.sagaType, summary.id);
    if (!record) continue;
    const machine = definition.machine as AnyStateMachine;
    const snapshot: AnyMachineSnapshot = machine.resolveState(record.snapshot as Parameters<AnyStateMachine['resolveState']>[0]);
    for (const deadline of deadlines) {
      // What the machine does when this deadline fires: into a state that needs a person means this is the last attempt.
      const [next] = machine.getTransitionData(snapshot, deadline.event as never);
      const target = next?.target?.[0];
      if (target?.tags.includes('failed')) add(summary, `last attempt: when ${deadlineName(deadline.event.type)} fires without an answer it stops in ${target.key}`);
    }
  }

  for (const summary of await store.listInstances({ status: 'failed', limit })) {
    const definition = definitionOf(summary.sagaType, summary.version);
    const record = definition ? await store.getInstance(summary.sagaType, summary.id) : null;
    const repairs = definition && record ? acceptedRepairs(definition, record) : [];
    add(summary, `in ${summary.stateValue}: waiting for a person${repairs.length ? ` (repairs: ${repairs.join(', ')})` : ''}`);
  }
  return [...found.values()].sort((a, b) => a.updatedAt - b.updatedAt);
}

import { getNextTransitions, type AnyMachineSnapshot, type AnyStateMachine, type AnyStateNode } from 'xstate';
import { ALL_SAGAS } from '../../machines/catalog.ts';
import { UnknownSagaError } from '../../runtime/errors.ts';
import type { Deadline, LogEntry, SagaInstanceRecord, SagaStore } from '../../runtime/ports.ts';
import { SagaRegistry, type SagaDefinition } from '../../runtime/registry.ts';
import { replayLog, type ReplayStep } from '../../runtime/replay.ts';
import { acceptedRepairs } from '../../runtime/repair.ts';
import { guardName } from '../../runtime/stately-definition.ts';
import type { SagaRuntime } from '../../runtime/saga-runtime.ts';
import { findSaga } from '../saga-view.ts';
import { topLevelStates } from './statechart.ts';
import type { Log } from '../../runtime/logger.ts';

/**
 * What the UI reads: the store, and the machines of the runtime when there is one; the
 * application's saga definitions (`sagas`, default the AeroAlpes ones of `machines/catalog.ts`)
 * fill in the types this process does not run.
 */
export interface UiDeps {
  store: SagaStore;
  runtime?: Pick<SagaRuntime, 'registry'>;
  sagas?: readonly SagaDefinition[];
  log?: Log;
  /** `SAGA_TRACE_URL`: a trace UI's address with `{traceId}`, linked from each log entry. */
  traceUrl?: string;
}

const catalogs = new WeakMap<readonly SagaDefinition[], SagaRegistry>();

/** Every saga definition of the application, for instances of types this process does not run. */
export function catalogOf(deps: UiDeps): SagaRegistry {
  const sagas = deps.sagas ?? (ALL_SAGAS as unknown as readonly SagaDefinition[]);
  let catalog = catalogs.get(sagas);
  if (!catalog) catalogs.set(sagas, (catalog = new SagaRegistry(sagas)));
  return catalog;
}

/** The definition an instance runs on: from the process's runtime, else from the application's sagas. */
export function definitionOf(deps: UiDeps, type: string, version: number): SagaDefinition {
  const catalog = catalogOf(deps);
  try {
    if (deps.runtime) return deps.runtime.registry.get(type, version);
  } catch (error) {
    if (!catalog.types().includes(type)) throw error;
  }
  return catalog.get(type, version);
}

/** The saga types the list can filter by. */
export function sagaTypes(deps: UiDeps): string[] {
  return [...new Set([...(deps.runtime?.registry.types() ?? []), ...catalogOf(deps).types()])].sort();
}

/** An event the saga's current state has a transition for, with where it leads. */
export interface AcceptedEvent {
  type: string;
  /** `confirmandoGds`, `revirtiendoPago [quedanIntentos]`, `(internal)`. */
  targets: string[];
}

/** A pending deadline with the transition it fires. */
export interface PendingDeadline extends Deadline {
  /** `after plazoPaso`, or the raw event type when the machine does not know it. */
  label: string;
  targets: string[];
}

/** Everything the detail page shows about one saga instance. */
export interface SagaView {
  record: SagaInstanceRecord;
  /** Null when this process does not run the saga's type/version (no chart, no replay). */
  definition: SagaDefinition | null;
  problem?: string;
  log: LogEntry[];
  steps: ReplayStep[];
  deadlines: PendingDeadline[];
  accepts: AcceptedEvent[];
  /** Where a log entry's trace opens (`SAGA_TRACE_URL` with `{traceId}`), when configured. */
  traceUrl: string | null;
  /** The operator repairs it accepts now, with what each does (`POST /sagas/:id/repair`). */
  repairs: { type: string; description: string }[];
  active: string[];
  visited: string[];
  taken: [string, string][];
  /** Every instance with this id (the parts of a choreographed saga), this one included. */
  parts: SagaInstanceRecord[];
  now: number;
}

/** A version tag of a record: changes with every committed transition. */
export function versionOf(record: SagaInstanceRecord): string {
  return `${record.rowVersion}-${record.updatedAt}`;
}

/**
 * The instance with this id, of `type` when given (else the one `GET /sagas/:id` shows).
 *
 * @throws UnknownSagaError
 */
export async function pickSaga(store: SagaStore, id: string, type?: string): Promise<SagaInstanceRecord> {
  if (type === undefined) return findSaga(store, id);
  const record = (await store.findInstances(id)).find((r) => r.sagaType === type);
  if (!record) throw new UnknownSagaError(id, ` of type ${type}`);
  return record;
}

/**
 * Reads one saga (instance, log, deadlines, the other instances with its id), replays its
 * log through its machine, and works out what the page shows: the active and visited
 * states, the transitions taken, the events accepted now and the pending deadlines.
 *
 * @throws UnknownSagaError
 */
export async function loadSagaView(deps: UiDeps, id: string, type?: string, known?: SagaInstanceRecord): Promise<SagaView> {
  const record = known ?? (await pickSaga(deps.store, id, type));
  const [log, deadlines, parts] = await Promise.all([
    deps.store.readLog(record.sagaType, record.id),
    deps.store.deadlinesOf(record.sagaType, record.id),
    deps.store.findInstances(record.id),
  ]);
  let definition: SagaDefinition | null = null;
  let problem: string | undefined;
  try {
    definition = definitionOf(deps, record.sagaType, record.version);
  } catch (error) {
    problem = `${(error as Error).message}: this process does not run this machine, so there is no statechart or replay.`;
  }
  const steps: ReplayStep[] = definition
    ? replayLog(definition.machine, log)
    : log.map((entry) => ({ entry, input: entry.kind === 'event' || entry.kind === 'timer', snapshot: null, changes: [] }));
  const failed = steps.find((s) => s.error);
  if (failed) problem = `The replay of the log stopped at entry ${failed.entry.seq} (${failed.entry.type}): ${failed.error}`;

  let accepts: AcceptedEvent[] = [];
  let timers = new Map<string, string[]>();
  if (definition) {
    try {
      ({ accepts, timers } = nextTransitions(definition.machine, record.snapshot));
    } catch (error) {
      problem ??= `The stored snapshot could not be restored: ${(error as Error).message}`;
    }
  }
  const states = log.filter((e) => e.kind === 'state').map((e) => topLevelStates((e.payload as { value?: unknown } | null)?.value ?? e.type));
  const active = topLevelStates((record.snapshot as { value?: unknown } | null)?.value ?? record.stateValue);
  const visited = [...new Set(states.flat())].filter((s) => !active.includes(s));
  const taken: [string, string][] = [];
  for (let i = 1; i < states.length; i++) {
    for (const from of states[i - 1]) for (const to of states[i]) if (from !== to) taken.push([from, to]);
  }
  return {
    record,
    definition,
    problem,
    log,
    steps,
    deadlines: deadlines.map((d) => ({ ...d, label: deadlineLabel(d.event.type), targets: timers.get(d.event.type) ?? [] })),
    accepts,
    repairs: definition && !problem ? acceptedRepairs(definition, record).map((type) => ({ type, description: definition.repairs![type] })) : [],
    active,
    visited,
    taken,
    parts: [...parts].sort((a, b) => a.sagaType.localeCompare(b.sagaType)),
    now: Date.now(),
    traceUrl: deps.traceUrl ?? null,
  };
}

/** The events the restored snapshot has transitions for, and where its `after` timers lead. */
function nextTransitions(machine: AnyStateMachine, persisted: unknown): { accepts: AcceptedEvent[]; timers: Map<string, string[]> } {
  const snapshot: AnyMachineSnapshot = machine.resolveState(persisted as Parameters<AnyStateMachine['resolveState']>[0]);
  const accepts = new Map<string, string[]>();
  const timers = new Map<string, string[]>();
  if (snapshot.status !== 'active') return { accepts: [], timers };
  for (const t of getNextTransitions(snapshot)) {
    const targets = t.target?.length ? t.target.map((n: AnyStateNode) => topKey(machine, n) + guardSuffix(t.guard)) : [`(internal)${guardSuffix(t.guard)}`];
    const into = t.eventType.startsWith('xstate.after.') ? timers : t.eventType === '' || t.eventType.startsWith('xstate.') ? null : accepts;
    if (!into) continue;
    const list = into.get(t.eventType) ?? [];
    for (const target of targets) if (!list.includes(target)) list.push(target);
    into.set(t.eventType, list);
  }
  return { accepts: [...accepts].map(([type, targets]) => ({ type, targets })), timers };
}

function topKey(machine: AnyStateMachine, node: AnyStateNode): string {
  let n: AnyStateNode = node;
  while (n.parent && n.parent !== machine.root) n = n.parent;
  return n.key;
}

function guardSuffix(guard: unknown): string {
  const name = guardName(guard);
  return name === null ? '' : ` [${name}]`;
}

/** `xstate.after.plazoPaso.reserva.pagando` -> `after plazoPaso`. */
function deadlineLabel(eventType: string): string {
  const match = /^xstate\.after\.([^.]+)\./.exec(eventType);
  if (!match) return eventType;
  return /^\d+$/.test(match[1]) ? `after ${match[1]} ms` : `after ${match[1]}`;
}

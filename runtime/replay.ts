import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import type { LogEntry } from './ports.ts';

/** One top-level context key an input changed. */
export interface ContextChange {
  key: string;
  change: 'added' | 'removed' | 'changed';
  /** `undefined` when the key was added. */
  before: unknown;
  /** `undefined` when the key was removed. */
  after: unknown;
}

/** A saga log entry with what replaying it did to the machine. */
export interface ReplayStep {
  entry: LogEntry;
  /** Whether the entry is an input of the machine (the start, an event, a fired timer); commands and state entries are outputs. */
  input: boolean;
  /** The snapshot after this entry; null before the start and after a replay failure. */
  snapshot: AnyMachineSnapshot | null;
  /** Context keys this input changed (empty for outputs). */
  changes: ContextChange[];
  /** Why the replay stopped at this entry. */
  error?: string;
}

/** What a log entry feeds the machine, as `runtime/verify.ts` replays it; null for outputs. */
export function logInput(entry: LogEntry): { kind: 'start'; input: unknown } | { kind: 'event'; event: { type: string } } | null {
  if (entry.kind === 'event' && entry.type === 'xstate.init') return { kind: 'start', input: (entry.payload as { input?: unknown } | null)?.input };
  if (entry.kind === 'event') return { kind: 'event', event: { type: entry.type, data: entry.payload } as { type: string } };
  if (entry.kind === 'timer') return { kind: 'event', event: (entry.payload as { event: { type: string } }).event };
  if (entry.kind === 'repair') return { kind: 'event', event: { type: entry.type, data: (entry.payload as { data?: unknown } | null)?.data ?? {} } as { type: string } };
  return null;
}

/**
 * Replays a saga log through XState's pure `initialTransition`/`transition` (like
 * `verifySaga`) and yields, for every entry, the snapshot after it and the context keys it
 * changed. A failure (an input before the start, a machine that throws) is reported on its
 * entry and ends the replay; the later entries have no snapshot.
 *
 * @example
 * for (const step of replayLog(definition.machine, await store.readLog('reserva', id))) {
 *   console.log(step.entry.seq, step.entry.type, step.changes.map((c) => c.key));
 * }
 */
export function replayLog(machine: AnyStateMachine, log: readonly LogEntry[]): ReplayStep[] {
  const steps: ReplayStep[] = [];
  let snapshot: AnyMachineSnapshot | null = null;
  let failed = false;
  for (const entry of log) {
    const fed = logInput(entry);
    if (!fed || failed) {
      steps.push({ entry, input: fed !== null, snapshot: failed ? null : snapshot, changes: [] });
      continue;
    }
    try {
      const before: unknown = snapshot?.context;
      if (fed.kind === 'start') [snapshot] = initialTransition(machine, fed.input);
      else if (!snapshot) throw new Error(`log entry ${entry.seq} (${entry.type}) comes before the saga started`);
      else [snapshot] = transition(machine, snapshot, fed.event);
      steps.push({ entry, input: true, snapshot, changes: contextChanges(before, snapshot.context) });
    } catch (error) {
      failed = true;
      snapshot = null;
      steps.push({ entry, input: true, snapshot: null, changes: [], error: error instanceof Error ? error.message : String(error) });
    }
  }
  return steps;
}

/** The top-level keys whose values differ (by value, not identity) between two contexts. */
export function contextChanges(before: unknown, after: unknown): ContextChange[] {
  const a = isRecord(before) ? before : {};
  const b = isRecord(after) ? after : {};
  const changes: ContextChange[] = [];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const inA = key in a && a[key] !== undefined;
    const inB = key in b && b[key] !== undefined;
    if (inA && !inB) changes.push({ key, change: 'removed', before: a[key], after: undefined });
    else if (!inA && inB) changes.push({ key, change: 'added', before: undefined, after: b[key] });
    else if (inA && inB && canonical(a[key]) !== canonical(b[key])) changes.push({ key, change: 'changed', before: a[key], after: b[key] });
  }
  return changes;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON with sorted keys, so equal values compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (isRecord(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => x.localeCompare(y))) : v)) ?? 'undefined';
}

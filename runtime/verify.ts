import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { resolveEffects } from './effects.ts';
import type { LogEntry, SagaInstanceRecord } from './ports.ts';
import type { SagaDefinition } from './registry.ts';
import { logInput } from './replay.ts';

export interface VerifyReport {
  ok: boolean;
  sagaId: string;
  /** Inputs replayed from the log (start, events, timers). */
  replayed: number;
  stored: { value: unknown; context: unknown; status: string };
  rebuilt: { value: unknown; context: unknown; status: string };
  differences: string[];
}

/**
 * Rebuilds a saga from its log alone (start input, then every event and fired timer, in
 * log order, through XState's pure `transition`) and compares the result, and the
 * commands the replay would send, with what was stored.
 *
 * @example
 * const report = verifySaga(definition, record, log);
 * if (!report.ok) console.error(report.differences);
 */
export function verifySaga(definition: SagaDefinition, record: SagaInstanceRecord, log: LogEntry[]): VerifyReport {
  const machine: AnyStateMachine = definition.machine;
  let snapshot: AnyMachineSnapshot | null = null;
  let replayed = 0;
  const replayedCommands: string[] = [];
  const differences: string[] = [];
  // A saga moved to a newer machine (runtime/upgrade.ts) is replayed from the snapshot its
  // migration note kept: the older machine may be gone.
  const migration = log.map((e) => e.kind === 'note' && e.type === 'migrated').lastIndexOf(true);
  if (migration >= 0) snapshot = machine.resolveState((log[migration].payload as { snapshot: never }).snapshot);
  for (const e of log.slice(migration + 1)) {
    let actions: { type: string; params?: unknown }[] = [];
    const fed = logInput(e);
    if (!fed) continue;
    if (fed.kind === 'start') {
      [snapshot, actions] = initialTransition(machine, fed.input);
    } else {
      if (!snapshot) {
        differences.push(`log entry ${e.seq} (${e.type}) comes before the saga started`);
        break;
      }
      [snapshot, actions] = transition(machine, snapshot, fed.event);
    }
    replayed++;
    for (const effect of resolveEffects(definition, actions)) {
      if (effect.kind === 'command') replayedCommands.push(canonical({ type: effect.type, data: effect.data }));
    }
  }
  const loggedCommands = log
    .slice(migration + 1)
    .filter((e) => e.kind === 'command')
    .map((e) => canonical({ type: e.type, data: (e.payload as { data: unknown }).data }));

  const stored = record.snapshot as { value: unknown; context: unknown; status: string };
  const rebuiltPersisted = snapshot
    ? (machine.getPersistedSnapshot(snapshot) as unknown as { value: unknown; context: unknown; status: string })
    : { value: null, context: null, status: 'missing' };
  const pairs: [string, unknown, unknown][] = [
    ['state value', stored.value, rebuiltPersisted.value],
    ['context', stored.context, rebuiltPersisted.context],
    ['snapshot status', stored.status, rebuiltPersisted.status],
  ];
  for (const [what, a, b] of pairs) {
    if (canonical(a) !== canonical(b)) differences.push(`${what}: stored ${canonical(a)}, rebuilt ${canonical(b)}`);
  }
  if (canonical(loggedCommands) !== canonical(replayedCommands)) {
    differences.push(`commands: logged ${loggedCommands.length}, replay sends ${replayedCommands.length} (or they differ)`);
  }
  return {
    ok: differences.length === 0,
    sagaId: record.id,
    replayed,
    stored: { value: stored.value, context: stored.context, status: stored.status },
    rebuilt: { value: rebuiltPersisted.value, context: rebuiltPersisted.context, status: rebuiltPersisted.status },
    differences,
  };
}

/** JSON with sorted keys, so equal values compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

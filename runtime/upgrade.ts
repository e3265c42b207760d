import type { AnyStateMachine } from 'xstate';
import { encodeStateValue } from './effects.ts';
import { UnknownMachineVersionError } from './errors.ts';
import type { SagaInstanceRecord, SagaStore } from './ports.ts';
import type { PersistedSnapshot, SagaDefinition, SagaRegistry } from './registry.ts';

/** How an instance continues on the registered machines. */
export type UpgradeFate = { fate: 'resume'; definition: SagaDefinition } | { fate: 'migrate'; definition: SagaDefinition; snapshot: PersistedSnapshot } | { fate: 'fail'; reason: string };

/**
 * Where an instance goes on `registry`: its own version (resume), the version that declares it
 * takes over its version (`migrateFrom`), with the snapshot migrated and checked against the new
 * machine (migrate), or nowhere (fail, with why). Pure: nothing is written.
 *
 * @example
 * const fate = upgradeFate(registry, record); // { fate: 'migrate', definition: reservaV2, snapshot }
 */
export function upgradeFate(registry: SagaRegistry, record: SagaInstanceRecord): UpgradeFate {
  const registered = registry.versionsOf(record.sagaType);
  if (registered.includes(record.version)) return { fate: 'resume', definition: registry.get(record.sagaType, record.version) };
  const successor = registry.successorOf(record.sagaType, record.version);
  if (!successor) return { fate: 'fail', reason: `v${record.version} is not registered (registered: ${registered.join(', ') || 'none'}) and no version declares migrateFrom v${record.version}` };
  let snapshot: PersistedSnapshot;
  try {
    const old = record.snapshot as PersistedSnapshot;
    snapshot = successor.migrateFrom!.snapshot ? successor.migrateFrom!.snapshot(structuredClone(old)) : old;
    (successor.machine as AnyStateMachine).resolveState(snapshot as never);
  } catch (error) {
    return { fate: 'fail', reason: `v${successor.version} cannot take over its snapshot in ${record.stateValue}: ${(error as Error).message}` };
  }
  return { fate: 'migrate', definition: successor, snapshot };
}

/**
 * The record on the machine it continues on: as it is, or migrated (version and snapshot
 * replaced; the caller logs it and stores it with its next transition).
 *
 * @throws UnknownMachineVersionError when no registered version takes it (the message is dead-lettered, not guessed)
 */
export function definitionFor(registry: SagaRegistry, record: SagaInstanceRecord): { definition: SagaDefinition; migratedFrom?: number } {
  const fate = upgradeFate(registry, record);
  if (fate.fate === 'resume') return { definition: fate.definition };
  if (fate.fate === 'fail') {
    const error = new UnknownMachineVersionError(record.sagaType, record.version, registry.versionsOf(record.sagaType));
    error.message += `: ${fate.reason}`;
    throw error;
  }
  const from = record.version;
  Object.assign(record, { version: fate.definition.version, snapshot: fate.snapshot });
  return { definition: fate.definition, migratedFrom: from };
}

/** Per saga type and version: how many in-flight instances would resume, migrate or fail, and why the failures. */
export interface UpgradeReport {
  rows: { sagaType: string; version: number; resume: number; migrate: number; fail: number; to?: number; reasons: string[] }[];
  ok: boolean;
}

/**
 * Reads every instance still in flight (running, or failed in manual repair) and tells how
 * each would continue on `registry` (`npm run saga -- check-upgrade`).
 *
 * @example
 * const report = await checkUpgrade(store, new SagaRegistry([reservaV2]));
 * if (!report.ok) process.exitCode = 1;
 */
export async function checkUpgrade(store: SagaStore, registry: SagaRegistry, options: { types?: readonly string[]; pageSize?: number } = {}): Promise<UpgradeReport> {
  const rows = new Map<string, UpgradeReport['rows'][number]>();
  const types = options.types ?? registry.types();
  for (const sagaType of types) {
    for (const status of ['running', 'failed'] as const) {
      for (const summary of await store.listInstances({ sagaType, status, limit: options.pageSize ?? 100_000 })) {
        const record = await store.getInstance(summary.sagaType, summary.id);
        if (!record) continue;
        const key = `${record.sagaType}@${record.version}`;
        const row = rows.get(key) ?? { sagaType: record.sagaType, version: record.version, resume: 0, migrate: 0, fail: 0, reasons: [] };
        rows.set(key, row);
        const fate = upgradeFate(registry, record);
        row[fate.fate]++;
        if (fate.fate === 'migrate') row.to = fate.definition.version;
        if (fate.fate === 'fail' && row.reasons.length < 5) row.reasons.push(`${record.id} (${encodeStateValue((record.snapshot as PersistedSnapshot).value)}): ${fate.reason}`);
      }
    }
  }
  const sorted = [...rows.values()].sort((a, b) => a.sagaType.localeCompare(b.sagaType) || a.version - b.version);
  return { rows: sorted, ok: sorted.every((r) => r.fail === 0) };
}

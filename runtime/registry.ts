import type { AnyStateMachine } from 'xstate';
import { UnknownMachineVersionError } from './errors.ts';

/**
 * A saga type as the runtime runs it. `machines/` exports these as plain objects.
 *
 * @example
 * const registry = new SagaRegistry([reservaSaga, reservaSagaV2]);
 * registry.get('reserva', 1).machine; // in-flight v1 sagas finish on v1
 */
export interface SagaDefinition {
  type: string;
  version: number;
  machine: AnyStateMachine;
  /** `service_name` of the commands this saga sends. */
  serviceName: string;
  /** Message type -> topic, for every event the saga consumes. */
  consumes: Readonly<Record<string, string>>;
  /** Command action name -> topic. */
  commands: Readonly<Record<string, string>>;
  /**
   * Message types that create an instance when none exists for their `id_correlacion`
   * (the instance then handles the message), with the builder of the machine's input.
   */
  startedBy?: Readonly<Record<string, (data: never, settings: never) => unknown>>;
  /**
   * Operator events (`SagaRuntime.repair`, `POST /sagas/:id/repair`) by type, with what each
   * does; a saga accepts one only in a state with a transition for it (manual repair).
   */
  repairs?: Readonly<Record<string, string>>;
  /** Who a saga is for, from its initial context (stored to find it by: `GET /sagas?customer=`). */
  customerOf?: (context: never) => string | undefined;
  /**
   * This version takes over the instances of an older one (`version`) that is no longer
   * registered: `snapshot` turns their persisted snapshot into one of this machine (pure; as
   * is when omitted, for a version whose states and context the old snapshots still fit).
   * `npm run saga -- check-upgrade` tells beforehand which instances would resume, migrate or fail.
   */
  migrateFrom?: { version: number; snapshot?: (persisted: PersistedSnapshot) => PersistedSnapshot };
}

/** A snapshot as stored (`machine.getPersistedSnapshot`): state value, context, status… */
export type PersistedSnapshot = { value: unknown; context: Record<string, unknown>; status?: string; [key: string]: unknown };

/** Every registered version of every saga type; routes message types to saga types. */
export class SagaRegistry {
  private readonly versions = new Map<string, Map<number, SagaDefinition>>();

  constructor(definitions: readonly SagaDefinition[] = []) {
    for (const definition of definitions) this.register(definition);
  }

  register(definition: SagaDefinition): void {
    const byVersion = this.versions.get(definition.type) ?? new Map<number, SagaDefinition>();
    if (byVersion.has(definition.version)) {
      throw new Error(`saga ${definition.type} v${definition.version} is registered twice`);
    }
    byVersion.set(definition.version, definition);
    this.versions.set(definition.type, byVersion);
  }

  /** The given version, or the newest when `version` is omitted. */
  get(type: string, version?: number): SagaDefinition {
    const byVersion = this.versions.get(type);
    const registered = byVersion ? [...byVersion.keys()].sort((a, b) => a - b) : [];
    const chosen = version ?? registered.at(-1);
    const definition = chosen === undefined ? undefined : byVersion?.get(chosen);
    if (!definition) throw new UnknownMachineVersionError(type, version, registered);
    return definition;
  }

  /** Saga types that consume a message type (in any registered version). */
  consumersOf(messageType: string): string[] {
    const types: string[] = [];
    for (const [type, byVersion] of this.versions) {
      if ([...byVersion.values()].some((d) => messageType in d.consumes)) types.push(type);
    }
    return types;
  }

  /** Every topic some registered saga consumes from. */
  topics(): string[] {
    const topics = new Set<string>();
    for (const byVersion of this.versions.values()) {
      for (const definition of byVersion.values()) Object.values(definition.consumes).forEach((t) => topics.add(t));
    }
    return [...topics].sort();
  }

  /** The registered version that takes over instances of `type` v`version`, if any (`migrateFrom`). */
  successorOf(type: string, version: number): SagaDefinition | undefined {
    return [...(this.versions.get(type)?.values() ?? [])].find((d) => d.migrateFrom?.version === version);
  }

  /** The registered versions of a saga type, oldest first. */
  versionsOf(type: string): number[] {
    return [...(this.versions.get(type)?.keys() ?? [])].sort((a, b) => a - b);
  }

  types(): string[] {
    return [...this.versions.keys()];
  }
}

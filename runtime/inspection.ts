import { openBrowser, startInspectorRelay, type InspectorRelay } from './inspector-relay.ts';
import type { CommittedTransition } from './committed-transition.ts';
import { statelyDefinition, type JsonObject } from './stately-definition.ts';
import type { Log } from './logger.ts';

/**
 * Live inspection of the runtime's sagas in Stately's inspector (`SAGA_INSPECT`). The
 * statechart it sends is `statelyDefinition` (stately-definition.ts); the transitions come
 * from the runtime as `CommittedTransition`s (committed-transition.ts).
 *
 * The runtime has no live XState actors (it runs the pure `transition()` on persisted
 * snapshots), so `inspector.inspect` cannot be plugged in. Instead the runtime reports each
 * transition it committed (`SagaRuntimeOptions.onTransition`) and `SagaInspection` turns it
 * into the inspector's own events: the saga actor `<sagaType>/<sagaId>` (with its machine
 * definition, the first time it is seen), the event it received with the service that
 * sent it, and its new snapshot.
 *
 * @example
 * const inspection = await openInspection(parseInspectSetting(process.env.SAGA_INSPECT), { log });
 * const runtime = new SagaRuntime({ store, transport, sagas, onTransition: inspection?.onTransition });
 * // ... on shutdown
 * inspection?.close();
 */

/** What an inspection event carries of a snapshot. */
export interface InspectedSnapshotLike {
  status?: 'active' | 'done' | 'error' | 'stopped';
  value?: unknown;
  context?: unknown;
  output?: unknown;
}

/** What `inspector.actor` reads of an actor: `sessionId`, and `logic.config` as the definition to draw. */
export interface InspectedActor {
  sessionId: string;
  id: string;
  logic: { config: JsonObject };
  send(event: unknown): void;
  getSnapshot(): unknown;
}

/**
 * The part of `@statelyai/inspect`'s inspector this module uses; `createWebSocketInspector()`
 * returns one, tests pass a recorder.
 */
export interface InspectorLike {
  actor(actor: InspectedActor | string, snapshot?: InspectedSnapshotLike, info?: { parentId?: string; rootId?: string }): void;
  event(target: string, event: { type: string; [key: string]: unknown }, info?: { source?: string }): void;
  snapshot(actor: string, snapshot: InspectedSnapshotLike, info?: { event?: { type: string; [key: string]: unknown } }): void;
  stop?(): void;
}

export interface SagaInspectionOptions {
  log?: Log;
  /** Most saga actors remembered as already announced (default 10 000); finished ones are forgotten at once. */
  maxActors?: number;
}

/**
 * Reports committed saga transitions to a Stately inspector. `onTransition` is the hook
 * to give the runtime; it never throws.
 */
export class SagaInspection {
  /** Actors announced to the inspector, oldest first. */
  private readonly announced = new Set<string>();
  private readonly log: NonNullable<SagaInspectionOptions['log']>;
  private readonly maxActors: number;

  constructor(
    readonly inspector: InspectorLike,
    options: SagaInspectionOptions = {},
  ) {
    this.log = options.log ?? (() => {});
    this.maxActors = options.maxActors ?? 10_000;
  }

  /** The inspector's id of a saga instance. */
  static actorId(sagaType: string, sagaId: string): string {
    return `${sagaType}/${sagaId}`;
  }

  readonly onTransition = (transition: CommittedTransition): void => {
    try {
      this.report(transition);
    } catch (error) {
      this.log('inspection failed', { level: 'warn', error: (error as Error).message });
    }
  };

  private report({ definition, sagaId, event, snapshot, source, commands }: CommittedTransition): void {
    const id = SagaInspection.actorId(definition.type, sagaId);
    const inspected = inspectedSnapshot(snapshot);
    if (!this.announced.has(id)) {
      const config = statelyDefinition(definition.machine).config;
      const actor: InspectedActor = { sessionId: id, id, logic: { config }, send: () => {}, getSnapshot: () => inspected };
      this.inspector.actor(actor, inspected);
      this.remember(id);
    }
    // The service that sent the message; a deadline is the saga's own delayed event.
    const from = source ?? (event.type.startsWith('xstate.after.') ? id : undefined);
    if (from && from !== id) this.announce(from);
    this.inspector.event(id, event, from ? { source: from } : {});
    this.inspector.snapshot(id, inspected, { event });
    for (const command of commands ?? []) {
      this.announce(command.topic);
      this.inspector.event(command.topic, { type: command.type, data: command.data }, { source: id });
    }
    if (inspected.status !== 'active') this.announced.delete(id);
  }

  /** Registers a participant (a service or a topic) once, without a definition. */
  private announce(name: string): void {
    if (this.announced.has(name)) return;
    this.inspector.actor(name);
    this.remember(name);
  }

  private remember(id: string): void {
    this.announced.add(id);
    while (this.announced.size > this.maxActors) this.announced.delete(this.announced.values().next().value as string);
  }

  close(): void {
    this.inspector.stop?.();
  }
}

function inspectedSnapshot(snapshot: CommittedTransition['snapshot']): InspectedSnapshotLike {
  const status = ['active', 'done', 'error', 'stopped'].includes(snapshot.status) ? (snapshot.status as InspectedSnapshotLike['status']) : 'active';
  return {
    status,
    value: snapshot.value,
    context: snapshot.context,
    ...(snapshot.output !== undefined ? { output: snapshot.output } : {}),
  };
}

// ---------------------------------------------------------------------------------------
// SAGA_INSPECT

/** Port of the local relay to Stately's inspector (Stately's default, 8080, is Pulsar's here). */
export const DEFAULT_INSPECT_PORT = 8090;

/** Where inspection events go: a WebSocket `url`, and whether this process serves the relay on `port`. */
export interface InspectSetting {
  url: string;
  /** Set when this process should serve the relay (and open Stately's inspector) itself. */
  port?: number;
}

/**
 * Reads `SAGA_INSPECT`: unset, empty or `0` is off; `1` serves the relay on port 8090 and
 * connects to it; a port number does the same on that port; a `ws://` or `wss://` URL only
 * connects to a relay that runs elsewhere. `host` is where the relay listens (`HOST`): the
 * URL connects there, or to 127.0.0.1 when it listens on every interface.
 *
 * @throws Error naming the variable for any other value
 * @example
 * parseInspectSetting('1'); // { url: 'ws://127.0.0.1:8090', port: 8090 }
 * parseInspectSetting('9000', '10.0.0.5'); // { url: 'ws://10.0.0.5:9000', port: 9000 }
 */
export function parseInspectSetting(value: string | undefined, host = '127.0.0.1'): InspectSetting | null {
  const raw = (value ?? '').trim();
  if (raw === '' || raw === '0' || raw === 'false') return null;
  const local = (port: number) => ({ url: `ws://${connectHost(host)}:${port}`, port });
  if (raw === '1' || raw === 'true') return local(DEFAULT_INSPECT_PORT);
  if (/^\d+$/.test(raw) && Number(raw) > 0 && Number(raw) < 65536) return local(Number(raw));
  if (/^wss?:\/\/\S+$/.test(raw)) return { url: raw };
  throw new Error(`SAGA_INSPECT must be 1, a port or a ws:// URL, got "${raw}"`);
}

/** The address a client on this machine reaches a server listening on `host` at. */
function connectHost(host: string): string {
  if (host === '' || host === '0.0.0.0' || host === '::' || host === '[::]') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export interface OpenInspectionOptions extends SagaInspectionOptions {
  /** Serve the relay when the setting has a port (default true); false only connects. */
  serve?: boolean;
  /** Interface the relay listens on (`HOST`, default 127.0.0.1), like every listener of the process. */
  host?: string;
  /** Open Stately's inspector in the browser when this process starts the relay (default true). */
  open?: boolean;
}

/** A live connection to Stately's inspector. */
export interface Inspection {
  /** The runtime's hook (`SagaRuntimeOptions.onTransition`). */
  onTransition: (transition: CommittedTransition) => void;
  /** The page that shows the inspector, when this process serves the relay. */
  page?: string;
  close(): void;
}

/**
 * Connects to Stately's inspector through `@statelyai/inspect`'s WebSocket inspector.
 * With a port, this process first starts the relay (`startInspectorRelay`) on
 * `options.host`, which serves a page that embeds https://stately.ai/inspect and forwards
 * the events to it, unless something already listens there (another process of the system
 * serves it). Returns null when `setting` is null; the package is loaded only then.
 *
 * @example
 * const inspection = await openInspection(config.inspect, { host: config.host, log });
 */
export async function openInspection(setting: InspectSetting | null, options: OpenInspectionOptions = {}): Promise<Inspection | null> {
  if (!setting) return null;
  const log = options.log ?? (() => {});
  let relay: InspectorRelay | null = null;
  let page: string | undefined;
  if (setting.port !== undefined && options.serve !== false) {
    const host = options.host ?? '127.0.0.1';
    page = `http://${pageHost(host)}:${setting.port}`;
    try {
      relay = await startInspectorRelay({ host, port: setting.port });
      log('Stately inspector relay started', { level: 'info', page, host });
      if (options.open ?? true) openBrowser(page);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      log('Stately inspector relay already running', { level: 'info', page });
    }
  }
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  const inspector = createWebSocketInspector({ url: setting.url });
  const inspection = new SagaInspection(inspector, options);
  log('inspecting sagas in Stately', { level: 'info', url: setting.url, ...(page ? { page } : {}) });
  return {
    onTransition: inspection.onTransition,
    ...(page ? { page } : {}),
    close() {
      inspection.close();
      void relay?.close();
    },
  };
}

/** The host a browser on this machine opens the page at. */
function pageHost(host: string): string {
  if (host === '' || host === '0.0.0.0' || host === '::' || host === '[::]' || host === '127.0.0.1' || host === '::1') return 'localhost';
  return connectHost(host);
}

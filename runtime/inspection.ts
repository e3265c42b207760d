import type { AnyStateMachine } from 'xstate';
import { openBrowser, startInspectorRelay, type InspectorRelay } from './inspector-relay.ts';
import type { SagaDefinition } from './registry.ts';

/**
 * Live inspection of the runtime's sagas in Stately's inspector (`SAGA_INSPECT`), and the
 * JSON-safe statechart definition that Stately draws (also what `npm run viz` exports).
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

/** One saga transition, as the runtime reports it after its transaction committed. */
export interface CommittedTransition {
  definition: Pick<SagaDefinition, 'type' | 'version' | 'machine'>;
  sagaId: string;
  /**
   * The event the saga received: a message's `{ type, data }`, a deadline's
   * `xstate.after…` event, or `{ type: 'xstate.init', input }` when the instance was created.
   */
  event: { type: string; [key: string]: unknown };
  /** The snapshot after the transition. */
  snapshot: { status: string; value: unknown; context?: unknown; output?: unknown };
  /** `service_name` of the envelope that carried the event; absent for deadlines and starts. */
  source?: string;
  /** Commands the transition sent, as written to the outbox. */
  commands?: readonly { type: string; topic: string; data?: unknown }[];
}

// ---------------------------------------------------------------------------------------
// The statechart as data

/** A value JSON can hold. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A machine's definition with only what Stately can draw and import, and what was left out. */
export interface StatelyDefinition {
  config: JsonObject;
  /** What was code and is not in `config` (param builders, the context factory, inline actions). */
  dropped: string[];
}

const definitions = new WeakMap<AnyStateMachine, StatelyDefinition>();

/**
 * The machine's config as plain data: state ids, `initial`, `type`, `tags`, descriptions,
 * `on`/`after`/`always`/`onDone` transitions with their targets as written (sibling keys,
 * `.child` or `#id`), `reenter`, and guards, actions and delays referenced by name
 * (`'name'` or `{ type, params }` when the params are data). Code cannot be data: a
 * `params` builder is left out (the action keeps its name), an inline action becomes a
 * name (`assign(id_reserva)`), a context factory is left out; each is listed in `dropped`.
 *
 * `createMachine(statelyDefinition(machine).config)` has the same states and transitions.
 */
export function statelyDefinition(machine: AnyStateMachine): StatelyDefinition {
  const cached = definitions.get(machine);
  if (cached) return cached;
  const dropped: string[] = [];
  const config = stateNodeConfig(machine.config as Record<string, unknown>, `#${machine.id}`, dropped, true);
  config.id = machine.id;
  const definition = { config: orderRoot(config), dropped };
  definitions.set(machine, definition);
  return definition;
}

/** The name an inline (function) action is exported under. */
export function inlineActionName(action: unknown): string {
  const fn = action as { type?: unknown; assignment?: unknown; name?: string };
  if (fn.type === 'xstate.assign') {
    const assignment = fn.assignment;
    return assignment && typeof assignment === 'object' ? `assign(${Object.keys(assignment).join(', ')})` : 'assign';
  }
  if (typeof fn.type === 'string') return fn.type.replace(/^xstate\./, '');
  return fn.name ? fn.name : 'inline action';
}

/** The name an inline (function) guard is exported under. */
export function inlineGuardName(guard: unknown): string {
  const fn = guard as { type?: unknown; name?: string };
  if (typeof fn.type === 'string') return fn.type.replace(/^xstate\./, '');
  return fn.name ? fn.name : 'inline guard';
}

type Raw = Record<string, unknown>;

function stateNodeConfig(raw: Raw, where: string, dropped: string[], isRoot = false): JsonObject {
  const out: JsonObject = {};
  if (!isRoot && typeof raw.id === 'string') out.id = raw.id;
  if (typeof raw.description === 'string') out.description = raw.description;
  if (typeof raw.type === 'string') out.type = raw.type;
  if (typeof raw.history === 'string') out.history = raw.history;
  if (typeof raw.target === 'string') out.target = raw.target;
  if (typeof raw.initial === 'string') out.initial = raw.initial;
  else if (raw.initial !== undefined) out.initial = transition(raw.initial, `${where} initial`, dropped);
  if (raw.tags !== undefined) out.tags = ([] as unknown[]).concat(raw.tags).filter((t): t is string => typeof t === 'string');
  if (raw.meta !== undefined) {
    if (isJson(raw.meta)) out.meta = raw.meta;
    else dropped.push(`${where} meta (not data)`);
  }
  if (isRoot && raw.context !== undefined) {
    if (isJson(raw.context)) out.context = raw.context;
    else dropped.push(`${where} context (built from the input)`);
  }
  if (raw.entry !== undefined) out.entry = actions(raw.entry, `${where} entry`, dropped);
  if (raw.exit !== undefined) out.exit = actions(raw.exit, `${where} exit`, dropped);
  if (raw.invoke !== undefined) out.invoke = invokes(raw.invoke, where, dropped);
  if (raw.on !== undefined) out.on = transitionMap(raw.on as Raw, where, 'on', dropped);
  if (raw.after !== undefined) out.after = transitionMap(raw.after as Raw, where, 'after', dropped);
  if (raw.always !== undefined) out.always = transition(raw.always, `${where} always`, dropped);
  if (raw.onDone !== undefined) out.onDone = transition(raw.onDone, `${where} onDone`, dropped);
  if (raw.output !== undefined) {
    if (isJson(raw.output)) out.output = raw.output;
    else dropped.push(`${where} output (computed)`);
  }
  if (raw.states && typeof raw.states === 'object') {
    const states: JsonObject = {};
    for (const [key, child] of Object.entries(raw.states as Raw)) {
      const node = (child ?? {}) as Raw;
      states[key] = stateNodeConfig(node, typeof node.id === 'string' ? `#${node.id}` : `${where}.${key}`, dropped);
    }
    out.states = states;
  }
  return out;
}

/** `id` first, like hand-written machines. */
function orderRoot(config: JsonObject): JsonObject {
  const { id, ...rest } = config;
  return { id: id as Json, ...rest };
}

function transitionMap(raw: Raw, where: string, kind: 'on' | 'after', dropped: string[]): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(raw)) out[key] = transition(value, `${where} ${kind} ${key}`, dropped);
  return out;
}

function transition(raw: unknown, where: string, dropped: string[]): Json {
  if (Array.isArray(raw)) return raw.map((t) => transition(t, where, dropped));
  if (raw === undefined || raw === null) return null;
  if (typeof raw === 'string') return raw;
  if (typeof raw !== 'object') {
    dropped.push(`${where}: a transition that is not data`);
    return null;
  }
  const t = raw as Raw;
  const out: JsonObject = {};
  if (t.target !== undefined) {
    const targets = ([] as unknown[]).concat(t.target).filter((x): x is string => typeof x === 'string');
    if (Array.isArray(t.target)) out.target = targets;
    else if (targets.length > 0) out.target = targets[0];
  }
  if (t.guard !== undefined) out.guard = guard(t.guard, where, dropped);
  if (t.actions !== undefined) out.actions = actions(t.actions, where, dropped);
  if (t.reenter === true) out.reenter = true;
  if (typeof t.description === 'string') out.description = t.description;
  if (t.meta !== undefined && isJson(t.meta)) out.meta = t.meta;
  return out;
}

function actions(raw: unknown, where: string, dropped: string[]): Json {
  if (Array.isArray(raw)) return raw.map((a) => action(a, where, dropped));
  return action(raw, where, dropped);
}

function action(raw: unknown, where: string, dropped: string[]): Json {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'function') {
    const name = inlineActionName(raw);
    dropped.push(`${where}: inline action, named "${name}"`);
    return name;
  }
  if (raw && typeof raw === 'object' && typeof (raw as Raw).type === 'string') {
    return named(raw as Raw, where, 'params', dropped);
  }
  dropped.push(`${where}: an action that is not data`);
  return 'unknown action';
}

function guard(raw: unknown, where: string, dropped: string[]): Json {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'function') {
    const name = inlineGuardName(raw);
    dropped.push(`${where}: inline guard, named "${name}"`);
    return name;
  }
  if (raw && typeof raw === 'object' && typeof (raw as Raw).type === 'string') return named(raw as Raw, where, 'params', dropped);
  dropped.push(`${where}: a guard that is not data`);
  return 'unknown guard';
}

/** `{ type, params }`, with params kept only when they are data. */
function named(raw: Raw, where: string, what: string, dropped: string[]): JsonObject {
  const out: JsonObject = { type: raw.type as string };
  if (raw.params !== undefined) {
    if (isJson(raw.params)) out.params = raw.params;
    else dropped.push(`${where}: ${raw.type as string} ${what} (built from the context and event)`);
  }
  return out;
}

function invokes(raw: unknown, where: string, dropped: string[]): Json {
  const list = ([] as unknown[]).concat(raw).map((inv): JsonObject => {
    const i = (inv ?? {}) as Raw;
    const out: JsonObject = {};
    if (typeof i.id === 'string') out.id = i.id;
    if (typeof i.systemId === 'string') out.systemId = i.systemId;
    if (typeof i.src === 'string') out.src = i.src;
    else {
      const logic = i.src as { id?: unknown; config?: { id?: unknown } } | undefined;
      out.src = typeof logic?.config?.id === 'string' ? logic.config.id : typeof i.id === 'string' ? i.id : 'inline actor';
      dropped.push(`${where} invoke: inline actor logic, named "${out.src as string}"`);
    }
    if (i.input !== undefined) {
      if (isJson(i.input)) out.input = i.input;
      else dropped.push(`${where} invoke ${out.src as string}: input (computed)`);
    }
    for (const key of ['onDone', 'onError', 'onSnapshot'] as const) {
      if (i[key] !== undefined) out[key] = transition(i[key], `${where} invoke ${key}`, dropped);
    }
    return out;
  });
  return Array.isArray(raw) ? list : list[0];
}

/** True when the value is plain data (no functions, class instances or cycles). */
function isJson(value: unknown, depth = 0): value is Json {
  if (depth > 32) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isJson(v, depth + 1));
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.values(value as Raw).every((v) => isJson(v, depth + 1));
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Live inspection

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
  log?: (message: string, fields?: Record<string, unknown>) => void;
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
      this.log('inspection failed', { error: (error as Error).message });
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
      log('Stately inspector relay started', { page, host });
      if (options.open ?? true) openBrowser(page);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      log('Stately inspector relay already running', { page });
    }
  }
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  const inspector = createWebSocketInspector({ url: setting.url });
  const inspection = new SagaInspection(inspector, options);
  log('inspecting sagas in Stately', { url: setting.url, ...(page ? { page } : {}) });
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

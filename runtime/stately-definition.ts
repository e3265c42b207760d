import type { AnyStateMachine } from 'xstate';

/**
 * A saga machine's statechart as data: what Stately's editor and inspector draw and import,
 * and what `npm run viz` exports. Used by the live inspection (`inspection.ts`), `/ui` and viz.
 */

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

/**
 * How a transition's guard is named wherever one is shown (`/ui`, its statechart, the
 * model-based tests' transition keys): a named guard by its name (`'quedanIntentos'` or
 * `{ type: 'quedanIntentos', params }`), a function by its name, else `guard`; null when
 * the transition has none.
 *
 * @example
 * guardName({ type: 'pendiente', params: { paso: 'revirtiendoPago' } }); // 'pendiente'
 */
export function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null || guard === false) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') return (guard as { type: string }).type;
  if (typeof guard === 'function' && guard.name) return guard.name;
  return 'guard';
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

import { initialTransition, type AnyMachineSnapshot, type AnyStateMachine, type AnyStateNode, type AnyTransitionDefinition } from 'xstate';
import { getAdjacencyMap, getShortestPaths, getStateNodes, type AdjacencyMap, type StatePath } from 'xstate/graph';
import type { SagaDefinition } from '../../../runtime/registry.ts';
import { guardName } from '../../../runtime/stately-definition.ts';
import { startInput } from './definitions.ts';
import { repairData, sampleData, type Correlation } from './messages.ts';

/**
 * The test model of one saga machine, generated with `xstate/graph`: its event alphabet,
 * every state node and every transition, and the paths the model-based suites drive the
 * real runtime along.
 *
 * - Alphabet: the event types the definition `consumes`, plus the `xstate.after.*` events
 *   of the machine's `after` transitions (read from its state nodes). A definition with
 *   `startedBy` starts only on one of those messages, so its first step is one of them.
 * - States are told apart by their value and their counters (numbers and records of
 *   numbers in the context, e.g. compensation attempts, which guards read); strings and
 *   lists (reasons, ids, the tracker's history) are payload, not control state.
 * - Paths: the shortest path to every state (`getShortestPaths`), one more path for each
 *   transition those do not take, and the longest simple paths to each final state
 *   (capped); a path that is a prefix of another is dropped.
 */

export interface ModelEvent {
  type: string;
  data?: Record<string, unknown>;
}

export interface ModelStep {
  event: ModelEvent;
  /** The model's state after the event. */
  state: AnyMachineSnapshot;
  /** Keys of the transitions the event takes (none for `xstate.init`). */
  transitions: string[];
}

export type PathOrigin = 'shortest' | 'transition' | 'simple';

export interface ModelPath {
  name: string;
  origin: PathOrigin;
  /** `xstate.init` first, then one step per event. */
  steps: ModelStep[];
  /** The final state value the path ends in, or null when it ends in a running state. */
  final: string | null;
  timerSteps: number;
  description: string;
}

export interface TransitionInfo {
  key: string;
  /** Atomic state the transition leaves. */
  source: string;
  event: string;
  branch: number;
  target: string;
}

export interface SagaModel {
  definition: SagaDefinition;
  machine: AnyStateMachine;
  ids: Correlation;
  alphabet: string[];
  afterEvents: string[];
  /** Ids of every state node, compound and atomic. */
  stateNodes: string[];
  /** Final state nodes' values (their path), in definition order. */
  finals: string[];
  transitions: Map<string, TransitionInfo>;
  paths: ModelPath[];
  /** Distinct states (value + counters) of the traversal. */
  modelStates: number;
  reachedStates: Set<string>;
  takenTransitions: Set<string>;
  unreachedStates: string[];
  untakenTransitions: TransitionInfo[];
  /** Event types the machine has transitions for but the definition does not consume. */
  undeliverable: string[];
  generatedBy: Record<PathOrigin, number>;
  generationMs: number;
}

export interface ModelOptions {
  /** Simple paths kept per final state (the longest ones). Default 2. */
  simplePathsPerFinal?: number;
  /** Steps of the simple-path search before it stops. Default 200 000. */
  simplePathBudget?: number;
}

const MODEL_IDS: Correlation = { id_correlacion: 'modelo-correlacion', id_reserva: 'modelo-reserva' };

export const isAfterEvent = (type: string) => type.startsWith('xstate.after.');

/** `after(plazoPaso)` for `xstate.after.plazoPaso.reserva.pagando`. */
export function eventLabel(type: string): string {
  return isAfterEvent(type) ? `after(${type.split('.')[2]})` : type;
}

function isCounter(value: unknown): boolean {
  if (typeof value === 'number') return true;
  return !!value && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'number');
}

/** The model's identity of a state: value and counters. */
export function serializeModelState(snapshot: AnyMachineSnapshot): string {
  const context = Object.fromEntries(Object.entries((snapshot.context ?? {}) as Record<string, unknown>).filter(([, v]) => isCounter(v)));
  return JSON.stringify({ value: snapshot.value, context });
}

const pathOf = (node: AnyStateNode) => node.path.join('.');

/** State nodes active in a snapshot, the root first. */
export function activeNodes(machine: AnyStateMachine, snapshot: AnyMachineSnapshot): AnyStateNode[] {
  return [machine.root, ...getStateNodes(machine.root).filter((node) => snapshot.matches(pathOf(node) as never))];
}

/** Paths ('a', 'a.b') of the state nodes a state value has active. */
export function statePathsOf(value: unknown, prefix: string[] = []): string[] {
  if (typeof value === 'string') return [[...prefix, value].join('.')];
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => [[...prefix, key].join('.'), ...statePathsOf(child, [...prefix, key])]);
}

function guardLabel(transition: AnyTransitionDefinition, branch: number, branches: number): string {
  if (branches === 1 && !transition.guard) return '';
  return `[${branch}: ${guardName(transition.guard) ?? 'else'}]`;
}

function transitionInfo(leaf: AnyStateNode, transition: AnyTransitionDefinition): TransitionInfo {
  const siblings = transition.source.transitions.get(transition.eventType) ?? [transition];
  const branch = siblings.indexOf(transition);
  const target = transition.target?.length ? transition.target.map((t: AnyStateNode) => pathOf(t) || '(root)').join(',') : '(stays)';
  const via = transition.source === leaf ? '' : ` (on ${pathOf(transition.source) || 'root'})`;
  const key = `${pathOf(leaf)} --${eventLabel(transition.eventType)}${guardLabel(transition, branch, siblings.length)}--> ${target}${via}`;
  return { key, source: leaf.id, event: transition.eventType, branch, target };
}

/** Every transition of the machine, per atomic state it can leave ("event per state"), guarded branches apart. */
function allTransitions(machine: AnyStateMachine): Map<string, TransitionInfo> {
  const result = new Map<string, TransitionInfo>();
  for (const leaf of getStateNodes(machine.root)) {
    if (leaf.type !== 'atomic') continue;
    const declared = new Set<string>();
    for (let node: AnyStateNode | undefined = leaf; node; node = node.parent) {
      for (const [eventType, candidates] of node.transitions) {
        if (declared.has(eventType)) continue; // a closer state handles this event
        declared.add(eventType);
        for (const transition of candidates) {
          const info = transitionInfo(leaf, transition);
          result.set(info.key, info);
        }
      }
    }
  }
  return result;
}

/** Keys of the transitions `event` takes from `snapshot` (as XState selects them, guards evaluated). */
export function transitionsTaken(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: ModelEvent): string[] {
  if (snapshot.status !== 'active') return [];
  const selected = machine.getTransitionData(snapshot, event as never);
  const leaves = activeNodes(machine, snapshot).filter((n) => n.type === 'atomic');
  const keys: string[] = [];
  for (const transition of selected) {
    for (const leaf of leaves) {
      let inside = false;
      for (let n: AnyStateNode | undefined = leaf; n && !inside; n = n.parent) inside = n === transition.source;
      if (inside) keys.push(transitionInfo(leaf, transition).key);
    }
  }
  return keys;
}

/** The `xstate.after.*` event types of the machine's delayed transitions. */
function afterEventsOf(machine: AnyStateMachine): string[] {
  const types = new Set<string>();
  for (const node of [machine.root, ...getStateNodes(machine.root)]) {
    for (const transition of node.after) types.add(transition.eventType);
  }
  return [...types];
}

function describePath(steps: ModelStep[], final: string | null): string {
  const events = steps.slice(1).map((s) => eventLabel(s.event.type));
  const end = final ?? `${JSON.stringify(steps.at(-1)!.state.value).replace(/"/g, '')} (running)`;
  return `${events.join(' → ')} ⇒ ${end}`;
}

/**
 * Builds the model of a saga definition and generates its paths.
 *
 * @example
 * const model = buildModel(reservaSaga);
 * for (const path of model.paths) it(path.description, () => drivePath(model, path, db));
 */
export function buildModel(definition: SagaDefinition, options: ModelOptions = {}): SagaModel {
  const started = Date.now();
  const machine = definition.machine;
  const ids = MODEL_IDS;
  const consumes = Object.keys(definition.consumes);
  const afterEvents = afterEventsOf(machine);
  // Operator repairs (`definition.repairs`) are inputs too: the runtime applies them like events.
  const alphabet = new Set([...consumes, ...Object.keys(definition.repairs ?? {}), ...afterEvents]);
  const startTypes = definition.startedBy ? new Set(Object.keys(definition.startedBy)) : null;

  const events = new Map<string, ModelEvent>();
  const eventOf = (type: string): ModelEvent => {
    let event = events.get(type);
    if (!event) {
      event = isAfterEvent(type) ? { type } : type in (definition.repairs ?? {}) ? { type, data: repairData(type) } : { type, data: sampleData(type, ids) };
      events.set(type, event);
    }
    return event;
  };
  const [initial] = initialTransition(machine, startInput(definition, ids));
  const undeliverable = new Set<string>();
  const enabledEvents = (snapshot: AnyMachineSnapshot): ModelEvent[] => {
    if (snapshot.status !== 'active') return [];
    const types = new Set<string>();
    for (const node of activeNodes(machine, snapshot)) {
      for (const key of node.transitions.keys()) {
        if (key === '*') consumes.forEach((t) => types.add(t));
        else if (alphabet.has(key)) types.add(key);
        else undeliverable.add(key);
      }
    }
    // Before its start message an instance does not exist: only a start message can come first.
    const allowed = snapshot === initial && startTypes ? [...types].filter((t) => startTypes.has(t)) : [...types];
    return allowed.map(eventOf).filter((event) => machine.getTransitionData(snapshot, event as never).length > 0);
  };
  const traversal = {
    fromState: initial,
    events: enabledEvents,
    serializeState: serializeModelState,
    serializeEvent: (event: ModelEvent) => event.type,
  };

  const toSteps = (path: StatePath<AnyMachineSnapshot, ModelEvent>): ModelStep[] =>
    path.steps.map((step, i) => ({ event: step.event, state: step.state, transitions: i === 0 ? [] : transitionsTaken(machine, path.steps[i - 1].state, step.event) }));
  const extend = (steps: ModelStep[], event: ModelEvent, state: AnyMachineSnapshot): ModelStep[] => [
    ...steps,
    { event, state, transitions: transitionsTaken(machine, steps.at(-1)!.state, event) },
  ];

  // 1. The shortest path to every state (value + counters).
  const shortest = getShortestPaths(machine, traversal as never) as unknown as StatePath<AnyMachineSnapshot, ModelEvent>[];
  const shortestTo = new Map<string, ModelStep[]>();
  for (const path of shortest) shortestTo.set(serializeModelState(path.state), toSteps(path));
  const candidates: { origin: PathOrigin; steps: ModelStep[] }[] = [...shortestTo.values()].map((steps) => ({ origin: 'shortest', steps }));

  // 2. A path for each transition the shortest paths leave out (self-loops, other guard branches).
  const adjacency = getAdjacencyMap(machine, traversal as never) as unknown as AdjacencyMap<AnyMachineSnapshot, ModelEvent>;
  const taken = new Set(candidates.flatMap((c) => c.steps.flatMap((s) => s.transitions)));
  const cheapest = new Map<string, { from: string; event: ModelEvent; state: AnyMachineSnapshot; weight: number }>();
  type Edge = { event: ModelEvent; state: AnyMachineSnapshot };
  for (const [from, { state, transitions }] of Object.entries(adjacency)) {
    const weight = shortestTo.get(from)?.length ?? Infinity;
    for (const edge of Object.values(transitions) as Edge[]) {
      for (const key of transitionsTaken(machine, state, edge.event)) {
        if (!taken.has(key) && weight < (cheapest.get(key)?.weight ?? Infinity)) cheapest.set(key, { from, event: edge.event, state: edge.state, weight });
      }
    }
  }
  for (const [key, edge] of cheapest) {
    if (taken.has(key)) continue;
    const steps = extend(shortestTo.get(edge.from)!, edge.event, edge.state);
    steps.flatMap((s) => s.transitions).forEach((k) => taken.add(k));
    candidates.push({ origin: 'transition', steps });
  }

  // 3. The longest simple paths to each final state, capped.
  const perFinal = options.simplePathsPerFinal ?? 2;
  let budget = options.simplePathBudget ?? 200_000;
  const longest = new Map<string, Edge[][]>();
  const stack: Edge[] = [];
  const onPath = new Set<string>();
  const search = (serial: string) => {
    const vertex = adjacency[serial as keyof typeof adjacency];
    if (!vertex || budget-- <= 0) return;
    if (vertex.state.status === 'done') {
      const final = JSON.stringify(vertex.state.value);
      const kept = longest.get(final) ?? [];
      kept.push([...stack]);
      kept.sort((a, b) => b.length - a.length);
      longest.set(final, kept.slice(0, perFinal));
      return;
    }
    onPath.add(serial);
    for (const edge of Object.values(vertex.transitions) as Edge[]) {
      const next = serializeModelState(edge.state);
      if (onPath.has(next)) continue;
      stack.push({ event: edge.event, state: edge.state });
      search(next);
      stack.pop();
    }
    onPath.delete(serial);
  };
  search(serializeModelState(initial));
  for (const edges of [...longest.values()].flat()) {
    let steps: ModelStep[] = [{ event: { type: 'xstate.init' }, state: initial, transitions: [] }];
    for (const edge of edges) steps = extend(steps, edge.event, edge.state);
    candidates.push({ origin: 'simple', steps });
  }

  // Drop paths that are prefixes of others, and the bare start of a saga a message starts.
  const sequence = (steps: ModelStep[]) => steps.map((s) => s.event.type);
  const byLength = [...candidates].sort((a, b) => b.steps.length - a.steps.length);
  const kept: typeof candidates = [];
  for (const candidate of byLength) {
    if (startTypes && candidate.steps.length < 2) continue;
    const events = sequence(candidate.steps);
    const prefix = kept.some((k) => {
      const longer = sequence(k.steps);
      return events.every((type, i) => longer[i] === type);
    });
    if (!prefix) kept.push(candidate);
  }

  const finals = getStateNodes(machine.root).filter((n) => n.type === 'final').map(pathOf);
  const finalOf = (steps: ModelStep[]) => {
    const last = steps.at(-1)!.state;
    return last.status === 'done' ? statePathsOf(last.value).at(-1)! : null;
  };
  const order = (final: string | null) => (final === null ? finals.length : finals.indexOf(final));
  kept.sort((a, b) => order(finalOf(a.steps)) - order(finalOf(b.steps)) || a.steps.length - b.steps.length || sequence(a.steps).join().localeCompare(sequence(b.steps).join()));
  const paths: ModelPath[] = kept.map((candidate, i) => {
    const final = finalOf(candidate.steps);
    return {
      name: `${definition.type}#${i + 1}`,
      origin: candidate.origin,
      steps: candidate.steps,
      final,
      timerSteps: candidate.steps.filter((s) => isAfterEvent(s.event.type)).length,
      description: describePath(candidate.steps, final),
    };
  });

  // What the kept paths cover.
  const stateNodes = getStateNodes(machine.root).map((n) => n.id);
  const reachedStates = new Set<string>();
  const takenTransitions = new Set<string>();
  for (const path of paths) {
    for (const step of path.steps) {
      activeNodes(machine, step.state).forEach((n) => n !== machine.root && reachedStates.add(n.id));
      step.transitions.forEach((k) => takenTransitions.add(k));
    }
  }
  const transitions = allTransitions(machine);
  const generatedBy: Record<PathOrigin, number> = { shortest: 0, transition: 0, simple: 0 };
  for (const path of paths) generatedBy[path.origin]++;
  return {
    definition,
    machine,
    ids,
    alphabet: [...alphabet],
    afterEvents,
    stateNodes,
    finals,
    transitions,
    paths,
    modelStates: Object.keys(adjacency).length,
    reachedStates,
    takenTransitions,
    unreachedStates: stateNodes.filter((id) => !reachedStates.has(id)),
    untakenTransitions: [...transitions.values()].filter((t) => !takenTransitions.has(t.key)),
    undeliverable: [...undeliverable],
    generatedBy,
    generationMs: Date.now() - started,
  };
}

/** One line about a model, for the suite's output. */
export function modelSummary(model: SagaModel): string {
  const { definition, paths } = model;
  const steps = paths.reduce((n, p) => n + p.steps.length - 1, 0);
  const timers = paths.reduce((n, p) => n + p.timerSteps, 0);
  const perFinal = model.finals.map((f) => `${f} ${paths.filter((p) => p.final === f).length}`).join(', ');
  const o = model.generatedBy;
  return (
    `${definition.type} v${definition.version}: ${paths.length} paths generated (${o.shortest} shortest-to-state, ${o.transition} per-transition, ${o.simple} simple-to-final; ` +
    `${steps} steps, ${timers} deadline steps) from ${model.modelStates} model states and ${model.alphabet.length} event types in ${model.generationMs} ms; ` +
    `states ${model.reachedStates.size}/${model.stateNodes.length}, ` +
    `transitions ${model.takenTransitions.size}/${model.transitions.size}; paths per final state: ${perFinal}`
  );
}

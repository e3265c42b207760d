import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import { getStateNodes } from 'xstate/graph';
import type { Sequelize } from 'sequelize';
import { SequelizeSagaStore } from '../../../db/sequelize-saga-store.ts';
import { encodeStateValue, resolveEffects, statusOf, type Effect } from '../../../runtime/effects.ts';
import { makeEnvelope } from '../../../runtime/envelope.ts';
import { InMemoryTransport } from '../../../runtime/in-memory-transport.ts';
import { OutboxRelay } from '../../../runtime/outbox-relay.ts';
import type { LogEntry, SagaStatus } from '../../../runtime/ports.ts';
import { SagaRuntime, type Outcome } from '../../../runtime/saga-runtime.ts';
import { MODEL_START_SETTINGS, startInput } from './definitions.ts';
import { repairData, sampleData, type Correlation } from './messages.ts';
import { eventLabel, isAfterEvent, statePathsOf, transitionsTaken, type ModelPath, type SagaModel } from './model.ts';

/** Whatever the test sets it to: deadlines fall due only when the test says so. */
export class ManualClock {
  constructor(private time: number) {}
  readonly now = (): number => this.time;
  advance(ms: number): number {
    return (this.time += ms);
  }
  set(time: number): void {
    expect(time, 'the clock only moves forward').to.be.at.least(this.time);
    this.time = time;
  }
}

/** An outbox relay that never publishes, so the outbox keeps the commands for the test to read. */
class HeldOutboxRelay extends OutboxRelay {
  override start(): void {}
}

/** What one saga transition should have written, computed with XState's pure `transition` and the runtime's `resolveEffects`. */
export interface ExpectedEntry {
  kind: LogEntry['kind'];
  type: string;
  payload: unknown;
  messageId?: string | null;
}

interface Expected {
  snapshot: AnyMachineSnapshot;
  stateValue: string;
  status: SagaStatus;
  /** Pending deadlines: timer id -> due time and event. */
  timers: Map<string, { dueAt: number; event: string }>;
}

const json = <T>(value: T): T => (value === undefined ? value : JSON.parse(JSON.stringify(value)));

/**
 * The log entries and deadline changes of one transition, as the runtime must write them.
 *
 * @example
 * const [next, actions] = transition(machine, snapshot, event);
 * const { entries, effects } = expectedTransition(model, expected, next, actions, [eventEntry]);
 */
export function expectedTransition(
  model: SagaModel,
  previous: { stateValue: string; status: SagaStatus } | null,
  next: AnyMachineSnapshot,
  actions: readonly { type: string; params?: unknown }[],
  first: ExpectedEntry[],
): { entries: ExpectedEntry[]; effects: Effect[]; stateValue: string; status: SagaStatus } {
  const effects = resolveEffects(model.definition, actions);
  const entries = [...first];
  for (const effect of effects) {
    if (effect.kind === 'command') entries.push({ kind: 'command', type: effect.type, payload: { topic: effect.topic, data: effect.data } });
  }
  const stateValue = encodeStateValue(next.value);
  const status = statusOf(next);
  if (!previous || previous.stateValue !== stateValue || previous.status !== status) {
    entries.push({ kind: 'state', type: stateValue, payload: { value: next.value, status } });
  }
  return { entries, effects, stateValue, status };
}

/** Pending deadlines after a transition's effects (a saga that is no longer running has none). */
export function applyTimerEffects(timers: Map<string, { dueAt: number; event: string }>, effects: Effect[], status: SagaStatus, now: number): void {
  if (status !== 'running') return timers.clear();
  for (const effect of effects) {
    if (effect.kind === 'cancel') timers.delete(effect.timerId);
    if (effect.kind === 'schedule') timers.set(effect.timerId, { dueAt: now + effect.delay, event: effect.event.type });
  }
}

/** What a driven path did, as the store recorded it: for the referee (`referee.ts`). */
export interface DrivenPath {
  /** The path's events and fired deadlines after the start, in order. */
  inputs: string[];
  /** Commands the saga log records, with their topics. */
  sent: { type: string; topic: string }[];
  status: SagaStatus;
}

/** What the runtime reached along the paths it was driven through. */
export interface DriveCoverage {
  states: Set<string>;
  transitions: Set<string>;
}

export interface DriveOptions {
  /** Where the covered states and transitions are recorded, once their step passed. */
  coverage?: DriveCoverage;
}

/** Resolves with the outcome of the next commit that concerns `sagaId` (or dead-letters a message). */
function nextCommit(runtime: SagaRuntime, sagaId: string, what: string, timeoutMs = 10_000): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${what}: no commit for saga ${sagaId} within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = runtime.onCommitted((outcomes) => {
      const mine = outcomes.find((o) => o.status === 'dead-lettered' || o.sagaId === sagaId);
      if (!mine) return;
      clearTimeout(timer);
      off();
      resolve(mine);
    });
  });
}

/**
 * Drives the real runtime along one model path, on a fresh migrated database (`freshDatabase`,
 * closed afterwards): a `SagaRuntime` with only this saga over an `InMemoryTransport` (its
 * outbox held, so the commands stay there), started through the runtime (orchestrated) or by
 * publishing the start message (participants), each domain event published through the
 * transport, each `after` step fired by moving the runtime's clock to the deadline's due
 * time. After every step it checks the stored state, status and context, the saga log
 * entries appended, the outbox rows enqueued and the pending deadlines against what the
 * model's transition says (XState's pure `transition` and the runtime's `resolveEffects`).
 *
 * @example
 * await drivePath(model, model.paths[0], () => databases.take(), { coverage });
 */
export async function drivePath(model: SagaModel, path: ModelPath, freshDatabase: () => Promise<Sequelize>, options: DriveOptions = {}): Promise<DrivenPath> {
  const { definition, machine } = model;
  const sagaType = definition.type;
  const id = randomUUID();
  const ids: Correlation = { id_correlacion: id, id_reserva: `R-${id.slice(0, 8)}` };
  const sequelize = await freshDatabase();
  const store = new SequelizeSagaStore(sequelize);
  const clock = new ManualClock(1_800_000_000_000);
  const transport = new InMemoryTransport();
  const relay = new HeldOutboxRelay(store, transport, { clock: clock.now });
  const runtime = new SagaRuntime({ store, transport, relay, sagas: [definition], clock: clock.now, startSettings: MODEL_START_SETTINGS, deadlinePollMs: 3_600_000 });

  let expected: Expected | null = null;
  let logLength = 0;
  const nodeIdByPath = new Map(getStateNodes(machine.root).map((n) => [n.path.join('.'), n.id]));
  const seen = (stateValue: string) => {
    for (const p of statePathsOf(stateValue.startsWith('{') ? JSON.parse(stateValue) : stateValue)) options.coverage?.states.add(nodeIdByPath.get(p) ?? p);
  };

  /** Checks the store after a step against the model; `entries` are the log entries the step must have appended. */
  const check = async (where: string, modelState: AnyMachineSnapshot, now: number, entries: ExpectedEntry[]) => {
    const e = expected!;
    expect(e.stateValue, `${where}: the pure replay and the generated path agree`).to.equal(encodeStateValue(modelState.value));
    const record = await store.getInstance(sagaType, id);
    expect(record, `${where}: stored instance`).to.not.equal(null);
    expect(record!.stateValue, `${where}: stored state`).to.equal(e.stateValue);
    expect(record!.status, `${where}: stored status`).to.equal(e.status);
    expect((record!.snapshot as { context?: unknown }).context, `${where}: stored context`).to.deep.equal(json(e.snapshot.context));

    const log = await store.readLog(sagaType, id);
    const added = log.slice(logLength);
    expect(added.map((l) => `${l.kind} ${l.type}`), `${where}: saga log entries appended`).to.deep.equal(entries.map((l) => `${l.kind} ${l.type}`));
    added.forEach((entry, i) => {
      expect(entry.seq, `${where}: log seq`).to.equal(logLength + i + 1);
      expect(entry.at, `${where}: log time`).to.equal(now);
      expect(entry.payload, `${where}: payload of log entry ${entry.kind} ${entry.type}`).to.deep.equal(json(entries[i].payload));
      if (entries[i].messageId !== undefined) expect(entry.messageId, `${where}: message id of ${entry.type}`).to.equal(entries[i].messageId);
    });
    logLength = log.length;

    const commands = added.filter((l) => l.kind === 'command');
    const outbox = (await store.pendingOutbox(10_000)).filter((row) => row.sagaType === sagaType && row.sagaId === id);
    const enqueued = outbox; // every earlier step's rows were published
    expect(enqueued.map((r) => `${r.topic} ${JSON.parse(r.payload).type}`), `${where}: outbox rows enqueued`).to.deep.equal(
      commands.map((c) => `${(c.payload as { topic: string }).topic} ${c.type}`),
    );
    enqueued.forEach((row, i) => {
      const message = JSON.parse(row.payload);
      expect(row.key, `${where}: outbox key`).to.equal(id);
      expect(row.messageId, `${where}: outbox message id = logged command id`).to.equal(commands[i].messageId);
      expect(message.id).to.equal(row.messageId);
      expect(message.service_name, `${where}: command sender`).to.equal(definition.serviceName);
      expect(message.time, `${where}: command time`).to.equal(now);
      expect(message.data, `${where}: data of outbox ${message.type}`).to.deep.equal((commands[i].payload as { data: unknown }).data);
    });
    // The relay publishes what the step enqueued, now: that arms the deadlines that wait for it.
    await store.markSent(enqueued, now);

    const deadlines = (await store.deadlinesOf(sagaType, id)).map((d) => ({ timerId: d.timerId, dueAt: d.dueAt, event: d.event.type }));
    const timers = [...e.timers].map(([timerId, t]) => ({ timerId, dueAt: t.dueAt, event: t.event }));
    const byId = (a: { timerId: string }, b: { timerId: string }) => a.timerId.localeCompare(b.timerId);
    expect(deadlines.sort(byId), `${where}: pending deadlines`).to.deep.equal(timers.sort(byId));
    added.filter((l) => l.kind === 'state').forEach((l) => seen(l.type));
  };

  try {
    await runtime.listen();
    for (const [index, step] of path.steps.entries()) {
      const where = `${path.name} step ${index} (${eventLabel(step.event.type)})`;
      let now = clock.advance(1_000);
      if (index === 0) {
        if (definition.startedBy) continue; // the instance is created by the first message
        const input = startInput(definition, ids);
        const [snapshot, actions] = initialTransition(machine, input);
        const started = expectedTransition(model, null, snapshot, actions, [{ kind: 'event', type: 'xstate.init', payload: { input, version: definition.version }, messageId: null }]);
        const result = await runtime.startSaga(sagaType, input, { id });
        expect(result.state, `${where}: started in`).to.equal(started.stateValue);
        expected = { snapshot, stateValue: started.stateValue, status: started.status, timers: new Map() };
        applyTimerEffects(expected.timers, started.effects, started.status, now);
        await check(where, step.state, now, started.entries);
        continue;
      }

      const entries: ExpectedEntry[] = [];
      let committed: Outcome;
      let event: { type: string; data?: unknown };
      if (isAfterEvent(step.event.type)) {
        // A deadline step: the deadline is pending under the `after` event's id; the clock reaches it.
        const pending = (await store.deadlinesOf(sagaType, id)).find((d) => d.timerId === step.event.type);
        expect(pending, `${where}: a pending deadline with timer id ${step.event.type}`).to.not.equal(undefined);
        expect(pending!.event.type).to.equal(step.event.type);
        clock.set(pending!.dueAt);
        now = pending!.dueAt;
        event = { type: step.event.type };
        entries.push({ kind: 'timer', type: step.event.type, payload: { timerId: pending!.timerId, dueAt: pending!.dueAt, event: pending!.event }, messageId: null });
        const commit = nextCommit(runtime, id, where);
        expect(await runtime.fireDueDeadlines(), `${where}: deadlines fired`).to.equal(1);
        committed = await commit;
        expected!.timers.delete(step.event.type); // taking the deadline deletes its row
      } else if (step.event.type in (definition.repairs ?? {})) {
        // An operator's repair: through the runtime, logged with who and why.
        const data = repairData(step.event.type);
        event = { type: step.event.type, data };
        entries.push({ kind: 'repair', type: step.event.type, payload: { data, by: 'modelo', reason: 'camino del modelo' }, messageId: null });
        const commit = nextCommit(runtime, id, where);
        await runtime.repair(sagaType, id, { type: step.event.type, data }, { by: 'modelo', reason: 'camino del modelo' });
        committed = await commit;
      } else {
        // A domain event (or a start message), published through the transport.
        const data = sampleData(step.event.type, ids);
        const envelope = makeEnvelope(step.event.type, data, 'pruebas-modelo', { now });
        event = { type: envelope.type, data: envelope.data };
        if (!expected) {
          const input = startInput(definition, ids, step.event.type, data);
          const [snapshot, actions] = initialTransition(machine, input);
          const created = expectedTransition(model, null, snapshot, actions, [{ kind: 'event', type: 'xstate.init', payload: { input, version: definition.version }, messageId: null }]);
          expected = { snapshot, stateValue: created.stateValue, status: created.status, timers: new Map() };
          applyTimerEffects(expected.timers, created.effects, created.status, now);
          entries.push(...created.entries);
        }
        entries.push({ kind: 'event', type: envelope.type, payload: envelope.data, messageId: envelope.id });
        const commit = nextCommit(runtime, id, where);
        await transport.publish(definition.consumes[step.event.type], { key: id, payload: JSON.stringify(envelope) });
        committed = await commit;
      }
      expect(committed, `${where}: outcome`).to.deep.include({ status: 'applied', sagaId: id });

      const e: Expected = expected!;
      const taken = transitionsTaken(machine, e.snapshot, event as never);
      const [next, actions] = transition(machine, e.snapshot, event as never) as [AnyMachineSnapshot, { type: string; params?: unknown }[]];
      const result = expectedTransition(model, e, next, actions, []);
      entries.push(...result.entries);
      expect((committed as { state: string }).state, `${where}: committed state`).to.equal(result.stateValue);
      expected = { snapshot: next, stateValue: result.stateValue, status: result.status, timers: e.timers };
      applyTimerEffects(expected.timers, result.effects, result.status, now);
      await check(where, step.state, now, entries);
      taken.forEach((k) => options.coverage?.transitions.add(k));
    }
    expect((await runtime.verify(sagaType, id)).ok, `${path.name}: the log replays to the stored snapshot`).to.equal(true);
    const log = await store.readLog(sagaType, id);
    return {
      inputs: path.steps.slice(1).map((step) => step.event.type),
      sent: log.filter((e) => e.kind === 'command').map((e) => ({ type: e.type, topic: (e.payload as { topic: string }).topic })),
      status: (await store.getInstance(sagaType, id))!.status,
    };
  } finally {
    await runtime.close();
    await store.close();
  }
}

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import { TOPICS } from '../machines/messages.ts';
import { reservaSaga, type ReservaInput } from '../machines/reserva.ts';
import { encodeStateValue } from '../runtime/effects.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import type { SagaStatus } from '../runtime/ports.ts';
import { PulsarWebSocketTransport } from '../runtime/pulsar-websocket-transport.ts';
import type { SagaDetail } from '../services/saga-view.ts';
import { freshMysqlDatabase } from './support/databases.ts';
import { ORCHESTRATED_INPUTS } from './support/model/definitions.ts';
import { applyTimerEffects, expectedTransition, type ExpectedEntry } from './support/model/drive.ts';
import { sampleData, type Correlation } from './support/model/messages.ts';
import { buildModel, eventLabel, isAfterEvent, type ModelPath, type SagaModel } from './support/model/model.ts';
import { PULSAR_URL, requirePulsar } from './support/pulsar.ts';
import { freshNamespace, ServiceCluster } from '../tools/cluster/service-cluster.ts';

/**
 * The orchestrated saga's model paths end to end: the coordinator runs as its own process
 * over the real Pulsar broker and MariaDB; this test plays every participant, publishing
 * `IniciarReserva` and then each event of a path on its topic, and after each step checks
 * the coordinator's `GET /sagas/:id` (state, status, context, the log entries the step
 * appended, pending deadlines) and that the commands of the step were published on Pulsar.
 *
 * Per final state it drives the longest generated path without deadline steps and the
 * shortest one with the most kinds of deadline steps (those run with 2.5 s deadlines, which
 * the coordinator's own scheduler fires).
 */

const model: SagaModel = buildModel(reservaSaga);

/** Per final state: the longest path without deadline steps, and the shortest with the most kinds of deadline steps. */
function endToEndPaths(m: SagaModel): ModelPath[] {
  const chosen: ModelPath[] = [];
  // Operator repairs go through runtime.repair, not the broker: test/repair.test.ts and the in-process model-based suite drive them.
  const repairs = Object.keys(m.definition.repairs ?? {});
  for (const final of m.finals) {
    const ending = m.paths.filter((p) => p.final === final && !p.steps.some((s) => repairs.includes(s.event.type)));
    if (ending.length === 0) continue;
    const plain = ending.filter((p) => p.timerSteps === 0).sort((a, b) => b.steps.length - a.steps.length)[0];
    const kinds = (p: ModelPath) => new Set(p.steps.filter((s) => isAfterEvent(s.event.type)).map((s) => s.event.type.split('.')[2])).size;
    const timed = ending.filter((p) => p.timerSteps > 0).sort((a, b) => kinds(b) - kinds(a) || a.steps.length - b.steps.length)[0];
    for (const p of [plain, timed]) if (p && !chosen.includes(p)) chosen.push(p);
  }
  return chosen;
}

const selected = endToEndPaths(model);
// Each horizon fits the three attempts of a compensation that the model's paths take.
const SHORT_PLAZOS = { paso: 2_500, compensacion: 2_500, compensacionMax: 5_000, horizonte: 12_500 };
const LONG_PLAZOS = { paso: 600_000, compensacion: 600_000, compensacionMax: 600_000, horizonte: 1_800_000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const json = <T>(value: T): T => JSON.parse(JSON.stringify(value));

describe('model-based paths of the orchestrated saga end to end (coordinator process, Pulsar, MariaDB)', function () {
  this.timeout(120_000);
  let cluster: ServiceCluster | undefined;
  let database: { url: string; drop: () => Promise<void> } | undefined;
  let transport: PulsarWebSocketTransport | undefined;
  /** Commands the coordinator published, by message id. */
  const published = new Map<string, { topic: string; type: string; data: unknown }>();
  let covered = 0;
  let startedAt = 0;

  before(requirePulsar);
  before(async function () {
    this.timeout(120_000);
    startedAt = Date.now();
    const namespace = await freshNamespace();
    database = await freshMysqlDatabase('model_e2e');
    transport = new PulsarWebSocketTransport({ url: PULSAR_URL, namespace });
    await transport.subscribe({
      topics: [...new Set(Object.values(reservaSaga.commands))],
      subscription: 'pruebas-modelo',
      handler: async (delivery) => {
        const message = JSON.parse(delivery.payload) as { id: string; type: string; data: unknown };
        published.set(message.id, { topic: delivery.topic, type: message.type, data: message.data });
      },
    });
    cluster = await ServiceCluster.start({ databaseUrl: database.url, namespace, names: ['coordinator'] });
    const timed = selected.filter((p) => p.timerSteps > 0).length;
    console.log(
      `\n    model-based e2e: ${selected.length} of the ${model.paths.length} generated reserva paths selected ` +
        `(${selected.length - timed} without and ${timed} with deadline steps; finals ${[...new Set(selected.map((p) => p.final))].join(', ')})`,
    );
  });
  after(async () => {
    if (covered > 0) console.log(`\n    model-based e2e: ${covered}/${selected.length} paths covered over Pulsar (coordinator start included) in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    await cluster?.stop();
    await transport?.close();
    await database?.drop();
  });

  it('should select at least one generated path per final state of the orchestrated saga', () => {
    // A final state only operator repairs reach (resueltaManualmente) is left to the repair tests.
    const byBroker = model.finals.filter((f) => model.paths.some((p) => p.final === f && !p.steps.some((s) => s.event.type in (model.definition.repairs ?? {}))));
    expect(byBroker.length).to.be.greaterThan(0);
    expect([...new Set(selected.map((p) => p.final))].sort()).to.deep.equal([...byBroker].sort());
  });

  for (const path of selected) {
    it(`${path.name} ${path.description}`, async () => {
      await driveOverPulsar(path);
      covered++;
    });
  }

  async function sagaView(id: string): Promise<SagaDetail | null> {
    const { status, body } = await cluster!.json<SagaDetail>('coordinator', `/sagas/${id}`);
    return status === 200 ? body : null;
  }

  /** Polls the coordinator until the saga's log has `length` entries. */
  async function waitForLog(id: string, length: number, where: string, timeoutMs: number): Promise<SagaDetail> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const view = await sagaView(id);
      if (view && view.log.length >= length) return view;
      if (Date.now() > until) throw new Error(`${where}: the coordinator's log of ${id} has ${view?.log.length ?? 'no'} entries after ${timeoutMs} ms, expected ${length} (state ${view?.state})`);
      await sleep(30);
    }
  }

  async function waitForPublished(messageId: string, where: string): Promise<{ topic: string; type: string; data: unknown }> {
    const until = Date.now() + 15_000;
    while (!published.has(messageId)) {
      if (Date.now() > until) throw new Error(`${where}: command ${messageId} was not published on Pulsar`);
      await sleep(30);
    }
    return published.get(messageId)!;
  }

  async function driveOverPulsar(path: ModelPath): Promise<void> {
    const id = randomUUID();
    const ids: Correlation = { id_correlacion: id, id_reserva: `R-${id.slice(0, 8)}` };
    const plazos = path.timerSteps > 0 ? SHORT_PLAZOS : LONG_PLAZOS;
    // The coordinator's SagaStarter builds this input from IniciarReserva (its own defaults are overridden).
    const input = ORCHESTRATED_INPUTS.reserva(ids, plazos) as ReservaInput;
    let expected: { snapshot: AnyMachineSnapshot; stateValue: string; status: SagaStatus } | null = null;
    const timers = new Map<string, { dueAt: number; event: string }>();
    let view: SagaDetail | null = null;

    for (const [index, step] of path.steps.entries()) {
      const where = `${path.name} step ${index} (${eventLabel(step.event.type)})`;
      let first: ExpectedEntry[];
      let next: AnyMachineSnapshot;
      let actions: readonly { type: string; params?: unknown }[];
      let waitMs = 15_000;
      if (index === 0) {
        const iniciar = makeEnvelope('IniciarReserva', { ...sampleData('IniciarReserva', ids), plazos }, 'vuelos.aeroalpes');
        await transport!.publish(TOPICS.IniciarReserva, { key: id, payload: JSON.stringify(iniciar) });
        first = [{ kind: 'event', type: 'xstate.init', payload: { input, version: reservaSaga.version }, messageId: null }];
        [next, actions] = initialTransition(model.machine, input);
      } else if (isAfterEvent(step.event.type)) {
        // Nothing to publish: the coordinator's own scheduler fires the deadline when due.
        // Armed once the command that started it was published: only then is its due time final.
        for (const until = Date.now() + 15_000; !view!.deadlines.find((d) => d.timerId === step.event.type)?.armed && Date.now() < until; ) {
          await sleep(30);
          view = (await sagaView(id)) ?? view;
        }
        const pending = view!.deadlines.find((d) => d.timerId === step.event.type);
        expect(pending, `${where}: a pending deadline with timer id ${step.event.type}`).to.not.equal(undefined);
        expect(pending!.armed, `${where}: ${step.event.type} armed`).to.equal(true);
        first = [{ kind: 'timer', type: step.event.type, payload: { timerId: step.event.type, dueAt: pending!.dueAt, event: { type: step.event.type } }, messageId: null }];
        [next, actions] = transition(model.machine, expected!.snapshot, { type: step.event.type } as never);
        timers.delete(step.event.type);
        waitMs += Math.max(0, pending!.dueAt - Date.now());
      } else {
        const envelope = makeEnvelope(step.event.type, sampleData(step.event.type, ids), 'pruebas-modelo');
        first = [{ kind: 'event', type: envelope.type, payload: envelope.data, messageId: envelope.id }];
        await transport!.publish(reservaSaga.consumes[step.event.type as keyof typeof reservaSaga.consumes], { key: id, payload: JSON.stringify(envelope) });
        [next, actions] = transition(model.machine, expected!.snapshot, { type: envelope.type, data: envelope.data } as never);
      }
      const result = expectedTransition(model, expected, next, actions, first);
      const logLength = view?.log.length ?? 0;
      view = await waitForLog(id, logLength + result.entries.length, where, waitMs);

      expect(result.stateValue, `${where}: the pure replay and the generated path agree`).to.equal(encodeStateValue(step.state.value));
      expect(view.state, `${where}: coordinator state`).to.equal(result.stateValue);
      expect(view.status, `${where}: coordinator status`).to.equal(result.status);
      expect(view.context, `${where}: coordinator context`).to.deep.equal(json(next.context));
      const added = view.log.slice(logLength);
      expect(added.map((e) => `${e.kind} ${e.type}`), `${where}: log entries appended`).to.deep.equal(result.entries.map((e) => `${e.kind} ${e.type}`));
      added.forEach((entry, i) => {
        expect(entry.payload, `${where}: payload of ${entry.kind} ${entry.type}`).to.deep.equal(json(result.entries[i].payload));
        if (result.entries[i].messageId !== undefined) expect(entry.messageId, `${where}: message id of ${entry.type}`).to.equal(result.entries[i].messageId);
      });
      const now = added[0].at;
      expect(added.every((e) => e.at === now), `${where}: one transaction, one time`).to.equal(true);
      applyTimerEffects(timers, result.effects, result.status, now);
      const deadlines = view.deadlines.map((d) => ({ timerId: d.timerId, dueAt: d.dueAt })).sort((a, b) => a.timerId.localeCompare(b.timerId));
      const due = [...timers].map(([timerId, t]) => ({ timerId, dueAt: t.dueAt })).sort((a, b) => a.timerId.localeCompare(b.timerId));
      expect(deadlines.map((d) => d.timerId), `${where}: pending deadlines`).to.deep.equal(due.map((d) => d.timerId));
      deadlines.forEach((d, i) => {
        // A deadline set with a command counts from the command's publication, a moment after the commit.
        expect(d.dueAt - due[i].dueAt, `${where}: ${d.timerId} due from the publication of its command`).to.be.within(0, 5_000);
        timers.get(d.timerId)!.dueAt = d.dueAt;
      });
      for (const command of added.filter((e) => e.kind === 'command')) {
        const message = await waitForPublished(command.messageId!, where);
        const logged = command.payload as { topic: string; data: unknown };
        expect(message, `${where}: ${command.type} as published on Pulsar`).to.deep.include({ type: command.type, data: logged.data });
        expect(message.topic.endsWith(`/${logged.topic}`) || message.topic === logged.topic, `${where}: topic of ${command.type} (${message.topic})`).to.equal(true);
      }
      expected = { snapshot: next, stateValue: result.stateValue, status: result.status };
    }
    expect(expected!.status, `${path.name}: ends final`).to.not.equal('running');
    const verify = await cluster!.json<{ ok: boolean }>('coordinator', `/sagas/${id}/verify`);
    expect(verify.body.ok, `${path.name}: the coordinator's log replays to its snapshot`).to.equal(true);
  }
});

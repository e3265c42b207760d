import { expect } from 'chai';
import { eachDatabase } from './support/databases.ts';
import { SAGA_DEFINITIONS } from './support/model/definitions.ts';
import { drivePath, type DriveCoverage } from './support/model/drive.ts';
import { FreshDatabases } from './support/model/fresh-databases.ts';
import { buildModel, modelSummary, type ModelPath, type SagaModel } from './support/model/model.ts';
import { judgePath } from './support/model/referee.ts';

/**
 * Model-based tests: `xstate/graph` generates the paths of every saga machine `machines/`
 * exports (the orchestrated saga, the choreography's participants and its tracker), deadline
 * and compensation-failure branches included, and each path becomes a test that drives the
 * real runtime along it, through the transport, on SQLite and on MariaDB, checking at every
 * step the stored state, the saga log, the outbox and the pending deadlines. Those checks
 * replay the machine, so they hold for a wrong machine too; each path is then judged by the
 * referee (`support/model/referee.ts`) against the saga's properties stated from the domain:
 * commands to their owners' topics, steps in order, compensations the done steps in reverse,
 * once per attempt, and the final status the path calls for.
 *
 * A state or transition added to a machine adds paths here by itself; one that no path
 * reaches (or that the runtime was not driven through) fails the suite.
 */

const models: SagaModel[] = SAGA_DEFINITIONS.map((definition) => buildModel(definition));
const label = (model: SagaModel) => `${model.definition.type} v${model.definition.version}`;

describe('model-based tests of every saga machine (xstate/graph paths through the real runtime)', function () {
  this.timeout(30_000);

  before(() => {
    const total = models.reduce((n, m) => n + m.paths.length, 0);
    console.log(`\n    model-based: ${total} paths generated for ${models.length} saga machines`);
    for (const model of models) console.log(`      ${modelSummary(model)}`);
  });

  describe('the generated paths', () => {
    for (const model of models) {
      it(`should reach every state node of ${label(model)}, compound and atomic`, () => {
        expect(model.unreachedStates, `state nodes of ${label(model)} that no generated path reaches`).to.deep.equal([]);
      });

      it(`should take every transition of ${label(model)}, guarded branches apart`, () => {
        const untaken = model.untakenTransitions.map((t) => t.key);
        expect(untaken, `transitions of ${label(model)} that no generated path takes`).to.deep.equal([]);
        expect(model.undeliverable, `event types ${label(model)} has transitions for but does not consume`).to.deep.equal([]);
      });

      it(`should end a path in every final state of ${label(model)}`, () => {
        const missing = model.finals.filter((f) => !model.paths.some((p) => p.final === f));
        expect(missing).to.deep.equal([]);
      });
    }
  });

  eachDatabase((db) => {
    const results: { model: SagaModel; coverage: DriveCoverage; driven: ModelPath[]; passed: number; ms: number }[] = [];
    const databases = new FreshDatabases(db, models.reduce((n, m) => n + m.paths.length, 0));
    let startedAt = 0;

    before(() => (startedAt = Date.now()));
    after(function () {
      if (results.every((r) => r.passed === 0)) return;
      const passed = results.reduce((n, r) => n + r.passed, 0);
      const driven = results.reduce((n, r) => n + r.driven.length, 0);
      console.log(`\n    model-based on ${db.name}: ${passed}/${driven} paths driven through the runtime in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
      for (const r of results) {
        console.log(
          `      ${label(r.model)}: ${r.passed}/${r.driven.length} paths covered in ${(r.ms / 1000).toFixed(1)} s; ` +
            `states ${r.coverage.states.size}/${r.model.stateNodes.length}, transitions ${r.coverage.transitions.size}/${r.model.transitions.size}`,
        );
      }
    });

    for (const model of models) {
      describe(label(model), () => {
        const result = { model, coverage: { states: new Set<string>(), transitions: new Set<string>() }, driven: model.paths, passed: 0, ms: 0 };
        results.push(result);

        for (const path of model.paths) {
          it(`${path.name} [${path.origin}] ${path.description}`, async () => {
            const t = Date.now();
            const driven = await drivePath(model, path, () => databases.take(), { coverage: result.coverage });
            // Judged apart from the runtime: the steps and topics of the domain (referee.ts).
            expect(judgePath(model.definition.type, driven.inputs, driven.sent, driven.status), `${path.name}: the saga's properties`).to.deep.equal([]);
            result.ms += Date.now() - t;
            result.passed++;
          });
        }

        it(`should have driven the runtime through every state and transition of ${label(model)}`, () => {
          const states = model.stateNodes.filter((id) => !result.coverage.states.has(id));
          const transitions = [...model.transitions.keys()].filter((k) => !result.coverage.transitions.has(k));
          expect(states, `state nodes of ${label(model)} the runtime never stored on ${db.name}`).to.deep.equal([]);
          expect(transitions, `transitions of ${label(model)} the runtime never took on ${db.name}`).to.deep.equal([]);
        });
      });
    }
  });
});

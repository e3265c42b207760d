import { expect } from 'chai';
import { reservaSaga } from '../machines/reserva.ts';
import { SagaRegistry } from '../runtime/registry.ts';
import { findStuck } from '../runtime/stuck.ts';
import { loadConfig } from '../services/config.ts';
import { createApp } from '../services/http/app.ts';
import { createSystem, type System } from '../services/system.ts';
import { eachDatabase, freshMysqlDatabase } from './support/databases.ts';
import { serveApp } from './support/http.ts';
import { reservaInput, startSystem, waitForStatus } from './support/system.ts';
import { waitFor } from './support/wait.ts';
import { connect } from '../db/connect.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { freshNamespace, ServiceCluster } from '../tools/cluster/service-cluster.ts';
import { requirePulsar } from './support/pulsar.ts';
import { postReserva } from './support/services.ts';

/**
 * Stuck sagas, found from the store and the machines (issue 13): each kind is made happen,
 * then looked for with `findStuck` and `GET /sagas?stuck=1`.
 */
describe('stuck sagas (GET /sagas?stuck=1, runtime/stuck.ts)', function () {
  this.timeout(60_000);

  eachDatabase((db) => {
    let systems: System[] = [];
    afterEach(async () => {
      await Promise.all(systems.map((s) => s.close()));
      systems = [];
    });
    const start = async (...args: Parameters<typeof startSystem>) => {
      const system = await startSystem(...args);
      systems.push(system);
      return system;
    };

    it('should list a participant part whose deadline passed while its process was stopped, naming the saga type without a scheduler', async () => {
      const databaseUrl = await db.fresh();
      const config = { ...loadConfig({ SAGA_STYLE: 'choreography', SAGA_PLAZO_PASO_MS: '2000', SAGA_OUTAGE_GRACE_MS: '0' }), databaseUrl };
      const running = await createSystem(config, { relayPollMs: 50, deadlinePollMs: 100 });
      const input = reservaInput({ simular_fallo: 'timeout-pago' }); // pagos never answers
      await running.requestReserva(input);
      await waitFor(async () => (await running.store.getInstance('pagos-reserva', input.id_correlacion))?.stateValue === 'pagando', 'pagos waiting for its charge');
      await running.close(); // the pagos process (and with it its deadline scheduler) stops

      // The coordinator's view: it reads the database and runs no scheduler of pagos' part.
      const coordinator = await createSystem({ ...config, stuckOverdueMs: 200 }, { listen: false });
      systems.push(coordinator);
      const client = await serveApp(createApp(coordinator, { log: () => {} }));
      try {
        const found = await waitFor(async () => {
          const answer = await client.request('GET', '/sagas?stuck=1');
          expect(answer.status).to.equal(200);
          return (answer.body.stuck as { sagaType: string; id: string; reasons: string[] }[]).find((s) => s.sagaType === 'pagos-reserva' && s.id === input.id_correlacion);
        }, 'the pagos part to be listed as stuck', 15_000);
        expect(found.reasons.join(' ')).to.match(/deadline plazoPaso \(pagando\) is \d+ s overdue: no deadline scheduler of pagos-reserva is running/);
        const page = await fetch(`${client.base}/ui/stuck`);
        expect(await page.text()).to.include(input.id_correlacion).and.include('no deadline scheduler of pagos-reserva');
        expect(await (await fetch(`${client.base}/ui`)).text()).to.match(/\d+ sagas? (is|are) stuck/);
      } finally {
        await client.close();
      }
    });

    it('should list a compensation in its last attempt, then the saga waiting for a person with the repairs it accepts', async () => {
      const system = await start(await db.fresh());
      const input = reservaInput({ simular_fallo: 'revertir-pago', maxReintentos: 2, plazos: { compensacion: 1_500 } });
      await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
      const last = await waitFor(async () => (await findStuck(system.store, system.runtime.registry, { idleMs: 3_600_000 })).find((s) => s.id === input.id_correlacion), 'the last attempt to be noticed', 15_000);
      expect(last.reasons).to.deep.equal(['last attempt: when plazoCompensacion (revirtiendoPago) fires without an answer it stops in reparacionManual']);
      await waitForStatus(system, input.id_correlacion, 'failed');
      const stuck = (await findStuck(system.store, system.runtime.registry)).find((s) => s.id === input.id_correlacion);
      expect(stuck?.reasons).to.deep.equal(['in reparacionManual: waiting for a person (repairs: ReintentarCompensacion, MarcarResuelta)']);
    });

    it('should list a running saga with nothing pending for too long, and one on a machine version this process does not run; not a saga that is moving', async () => {
      const system = await start(await db.fresh());
      const moving = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 600_000 } });
      const idle = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 600_000 } });
      for (const input of [moving, idle]) await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
      for (const input of [moving, idle]) {
        await waitFor(async () => (await system.store.getInstance('reserva', input.id_correlacion))?.stateValue === 'pagando' && (await system.store.deadlinesOf('reserva', input.id_correlacion)).length === 1, 'the payment deadline');
      }
      await system.store.transaction((uow) => uow.cancelAllDeadlines('reserva', idle.id_correlacion)); // a lost timer
      await system.relay.drain(5_000);
      const found = await findStuck(system.store, system.runtime.registry, { idleMs: 0, now: Date.now() + 1 });
      expect(found.find((s) => s.id === idle.id_correlacion)?.reasons[0]).to.match(/^nothing pending \(no deadline, no unsent command\) and no event for \d+ s$/);
      expect(found.map((s) => s.id), 'its deadline will move it').to.not.include(moving.id_correlacion);

      const onlyV2 = new SagaRegistry([{ ...reservaSaga, version: 2 } as never]);
      const unknown = (await findStuck(system.store, onlyV2)).find((s) => s.id === moving.id_correlacion);
      expect(unknown?.reasons).to.deep.equal(['its machine, reserva v1, is not registered in this process (registered: 2)']);
    });
  });
});

describe('stuck sagas across processes: the pagos process stopped past its deadline (choreography over Pulsar and MariaDB)', function () {
  this.timeout(120_000);
  let cluster: ServiceCluster | undefined;
  let database: { url: string; drop: () => Promise<void> } | undefined;
  let store: SequelizeSagaStore | undefined;

  before(requirePulsar);
  before(async () => {
    database = await freshMysqlDatabase('stuck');
    cluster = await ServiceCluster.start({
      databaseUrl: database.url,
      namespace: await freshNamespace(),
      env: { SAGA_STYLE: 'choreography', SAGA_PLAZO_PASO_MS: '3000', SAGA_STUCK_OVERDUE_MS: '500' },
    });
    store = new SequelizeSagaStore(await connect(database.url));
  });
  after(async () => {
    await store?.close();
    await cluster?.stop();
    await database?.drop();
  });

  it('should list, on the coordinator, the pagos part whose deadline passed while pagos was down, with why', async () => {
    const { id_correlacion: id } = await postReserva(cluster!, { simular_fallo: 'timeout-pago' }); // pagos never answers
    await waitFor(async () => (await store!.getInstance('pagos-reserva', id))?.stateValue === 'pagando', 'pagos waiting for its charge', 20_000);
    await cluster!.kill('pagos', 'SIGTERM');
    const found = await waitFor(
      async () => {
        const answer = await cluster!.json<{ stuck: { sagaType: string; id: string; reasons: string[] }[] }>('coordinator', '/sagas?stuck=1');
        expect(answer.status).to.equal(200);
        return answer.body.stuck.find((s) => s.sagaType === 'pagos-reserva' && s.id === id);
      },
      'the coordinator to list the pagos part as stuck',
      20_000,
    );
    expect(found.reasons.join(' ')).to.match(/deadline plazoPaso \(pagando\) is \d+ s overdue: no deadline scheduler of pagos-reserva is running/);
    // pagos back: its scheduler fires the deadline and the saga moves on, off the list.
    await cluster!.startService('pagos');
    await waitFor(async () => !(await cluster!.json<{ stuck: { id: string; sagaType: string }[] }>('coordinator', '/sagas?stuck=1')).body.stuck.some((s) => s.sagaType === 'pagos-reserva' && s.id === id), 'pagos to move it again', 30_000);
  });
});

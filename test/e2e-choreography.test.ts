import { expect } from 'chai';
import type { SimulatedFailure } from '../machines/messages.ts';
import { freshMysqlDatabase } from './support/databases.ts';
import { PULSAR_DRIVERS, requireDriver } from './support/pulsar.ts';
import { freshNamespace, ServiceCluster } from '../tools/cluster/service-cluster.ts';
import { postReserva, waitForFinal, type SagaView } from './support/services.ts';


type Style = 'orchestration' | 'choreography';
const falla = (fallo: SimulatedFailure | null) => (fallo ? { simular_fallo: fallo } : {});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));




/** What each participant holds of one reservation, in its own tables. */
async function participantsState(cluster: ServiceCluster, idReserva: string) {
  const read = async (service: 'vuelos' | 'pagos' | 'gds', path: string) => {
    const { status, body } = await cluster.json<Record<string, unknown>>(service, path);
    return status === 404 ? null : body;
  };
  const vuelos = await read('vuelos', `/vuelos/reserva/${idReserva}`);
  const pagos = await read('pagos', `/pagos/${idReserva}`);
  const gds = await read('gds', `/gds/${idReserva}`);
  return {
    vuelos: vuelos?.estado ?? null,
    pagos: pagos ? { estado: pagos.estado, cargos: Number(pagos.cargos), reembolsos: Number(pagos.reembolsos) } : null,
    gds: gds?.estado ?? null,
  };
}

for (const driver of PULSAR_DRIVERS) {
  describe(`the saga by choreography, as separate processes over Pulsar (${driver} driver) and MariaDB`, function () {
    this.timeout(240_000);
    const clusters = {} as Record<Style, ServiceCluster>;
    const databases: { drop: () => Promise<void> }[] = [];

    before(requireDriver(driver));
    before(async function () {
      for (const style of ['orchestration', 'choreography'] as Style[]) {
        const database = await freshMysqlDatabase(`e2e_${style.slice(0, 5)}`);
        databases.push(database);
        clusters[style] = await ServiceCluster.start({
          databaseUrl: database.url,
          namespace: await freshNamespace(),
          env: { SAGA_PULSAR_DRIVER: driver, SAGA_STYLE: style, SAGA_PLAZO_PASO_MS: '12000', SAGA_PLAZO_COMPENSACION_MS: '3000' },
        });
      }
    });
    after(async () => {
      for (const cluster of Object.values(clusters)) await cluster.stop();
      for (const database of databases) await database.drop();
    });

    const scenarios: { fallo: SimulatedFailure | null; status: string; events: string[] }[] = [
      { fallo: null, status: 'completed', events: ['ReservaCreada', 'ReservaPagada', 'ReservaGDSConfirmada', 'ReservaAprobada'] },
      { fallo: 'reserva', status: 'compensated', events: ['CreacionReservaFallida'] },
      { fallo: 'pago', status: 'compensated', events: ['ReservaCreada', 'PagoFallido', 'ReservaCancelada'] },
      { fallo: 'gds', status: 'compensated', events: ['ReservaCreada', 'ReservaPagada', 'ConfirmacionFallida', 'PagoRevertido', 'ReservaCancelada'] },
      {
        fallo: 'aprobacion',
        status: 'compensated',
        events: ['ReservaCreada', 'ReservaPagada', 'ReservaGDSConfirmada', 'AprobacionReservaFallida', 'ConfirmacionGDSRevertida', 'PagoRevertido', 'ReservaCancelada'],
      },
      { fallo: 'timeout-pago', status: 'compensated', events: ['ReservaCreada', 'PagoRevertido', 'ReservaCancelada'] },
    ];

    for (const scenario of scenarios) {
      it(`should end "${scenario.fallo ?? 'happy path'}" with the same participant states in both styles`, async () => {
        const [orq, cor] = await Promise.all([postReserva(clusters.orchestration, falla(scenario.fallo)), postReserva(clusters.choreography, falla(scenario.fallo))]);
        const [orqSaga, corSaga] = await Promise.all([waitForFinal(clusters.orchestration, orq.id_correlacion), waitForFinal(clusters.choreography, cor.id_correlacion)]);

        expect(orqSaga.type).to.equal('reserva');
        expect(corSaga.type).to.equal('reserva-coreografia');
        expect(corSaga.status).to.equal(scenario.status);
        expect(orqSaga.status).to.equal(scenario.status);
        // The tracker's log lists the domain events in the order the saga saw them.
        expect(corSaga.log.filter((e) => e.kind === 'event' && e.type !== 'xstate.init').map((e) => e.type)).to.deep.equal(scenario.events);
        await sleep(300); // the last participant's machine settles after the event the tracker saw
        const [a, b] = await Promise.all([participantsState(clusters.orchestration, orq.id_reserva), participantsState(clusters.choreography, cor.id_reserva)]);
        expect(b, 'choreography vs orchestration').to.deep.equal(a);
      });
    }

    it('should bring every saga to its final state after pagos is killed with SIGKILL mid-saga, applying no effect twice', async () => {
      const cluster = clusters.choreography;
      const plan: (SimulatedFailure | null)[] = [];
      for (let i = 0; i < 18; i++) plan.push([null, 'gds', 'aprobacion'][i % 3] as SimulatedFailure | null);
      const started = await Promise.all(plan.map(async (fallo) => ({ ...(await postReserva(cluster, falla(fallo))), fallo })));
      await sleep(300);
      await cluster.kill('pagos', 'SIGKILL');
      const before = await Promise.all(started.map((s) => cluster.json<SagaView>('coordinator', `/sagas/${s.id_correlacion}`)));
      expect(before.filter((r) => r.status !== 200 || r.body.status === 'running').length, 'sagas in flight when pagos died').to.be.greaterThan(0);

      await sleep(1000);
      await cluster.startService('pagos');
      for (const s of started) {
        const saga = await waitForFinal(cluster, s.id_correlacion, 60_000);
        expect(saga.status, `${s.fallo ?? 'happy'} ${s.id_correlacion}`).to.equal(s.fallo ? 'compensated' : 'completed');
        const state = await participantsState(cluster, s.id_reserva);
        expect(state.pagos?.cargos, 'charged once').to.equal(1);
        expect(state.pagos?.reembolsos, 'refunded at most once').to.equal(s.fallo ? 1 : 0);
        expect(state.vuelos).to.equal(s.fallo ? 'cancelada' : 'aprobada');
        const eventIds = saga.log.filter((e) => e.kind === 'event' && e.messageId).map((e) => e.messageId);
        expect(new Set(eventIds).size, 'each event seen once').to.equal(eventIds.length);
      }
    });
  });
}

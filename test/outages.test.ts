import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from '../db/connect.ts';
import { migrate } from '../db/migrator.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
import { reservaSaga } from '../machines/reserva.ts';
import { recordBrokerDeadLetters } from '../runtime/broker-dead-letters.ts';
import { DeadLetters } from '../runtime/dead-letters.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import { OutboxRelay } from '../runtime/outbox-relay.ts';
import { PulsarWebSocketTransport } from '../runtime/pulsar-websocket-transport.ts';
import { SagaRuntime } from '../runtime/saga-runtime.ts';
import { createApp } from '../services/http/app.ts';
import { loadConfig } from '../services/config.ts';
import { createSystem, type System } from '../services/system.ts';
import { freshMysqlDatabase, MYSQL_SERVER_URL } from './support/databases.ts';
import { PULSAR_URL, requirePulsar } from './support/pulsar.ts';
import { freshNamespace } from '../tools/cluster/service-cluster.ts';
import { reservaInput, waitForStatus } from './support/system.ts';
import { TcpProxy } from './support/tcp-proxy.ts';
import { sleep, waitFor } from './support/wait.ts';

/**
 * Outages of the system's own parts, made with a TCP proxy in front of the real server (the
 * servers are shared, so they are never stopped): a short database cut, a broker cut, and a
 * message the broker gives up on. None may lose or decide anything.
 */
describe('outages', function () {
  this.timeout(60_000);

  describe('of the database (MariaDB behind a proxy, cut for 6 s)', () => {
    let db: { url: string; drop: () => Promise<void> };
    let proxy: TcpProxy | undefined;
    let system: System | undefined;
    let server: http.Server | undefined;

    before(async function () {
      try {
        db = await freshMysqlDatabase('outage');
      } catch (error) {
        if (process.env.CI) throw error;
        this.skip();
      }
    });
    after(async () => {
      server?.close();
      await system?.close();
      await proxy?.close();
      await db?.drop();
    });

    it('should wait it out with the message unacknowledged, say so on /ready, then apply it, and hold a deadline due meanwhile for the grace period: no redelivery spent, no dead letter', async () => {
      const target = new URL(MYSQL_SERVER_URL);
      proxy = new TcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 3306) });
      const port = await proxy.listen();
      const url = new URL(db.url);
      url.host = `127.0.0.1:${port}`;
      // Redeliveries come fast: before, a 6 s outage spent the whole budget and lost the message.
      const transport = new InMemoryTransport({ nackDelayMs: 20 });
      const grace = 2_000;
      system = await createSystem({ ...loadConfig({}), databaseUrl: url.toString(), outageGraceMs: grace }, { transport, relayPollMs: 50, deadlinePollMs: 100 });
      server = http.createServer(createApp(system, { log: () => {} }).callback()).listen(0, '127.0.0.1');
      const ready = () => fetch(`http://127.0.0.1:${(server!.address() as AddressInfo).port}/ready`);

      const input = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 120_000 } });
      const id = input.id_correlacion;
      await system.runtime.startSaga('reserva', input, { id });
      await waitFor(async () => (await system!.store.getInstance('reserva', id))?.stateValue === 'pagando', 'the saga to wait for the payment');
      // A second saga whose payment deadline falls due during the outage.
      const timed = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 2_000 } });
      await system.runtime.startSaga('reserva', timed, { id: timed.id_correlacion });
      await waitFor(async () => {
        const [deadline] = await system!.store.deadlinesOf('reserva', timed.id_correlacion);
        return deadline?.timerId.endsWith('pagando') && deadline.afterMessage === null;
      }, 'the second saga to wait for its payment, its deadline armed');

      proxy!.cut();
      const pagada = makeEnvelope('ReservaPagada', { id_correlacion: id, id_reserva: input.id_reserva, id_pago: 'P-1', monto: 250, monto_vat: 47.5, fecha_creacion: Date.now() }, 'pagos.aeroalpes');
      await transport.publish('evento-pago', { key: id, payload: JSON.stringify(pagada) });
      await waitFor(() => !system!.health.available, 'the runtime to notice the database is down');
      const during = await ready();
      expect(during.status).to.equal(503);
      expect(JSON.stringify(await during.json())).to.contain('database unavailable');
      await sleep(6_000); // the outage

      const restoredAt = Date.now();
      proxy!.restore();
      const done = await waitForStatus(system, id, 'final', 30_000);
      expect(done.status).to.equal('completed');
      expect((await ready()).status).to.equal(200);
      expect(await system.store.listDeadLetters(), 'nothing was given up').to.deep.equal([]);
      const events = (await system.store.readLog('reserva', id)).filter((e) => e.kind === 'event').map((e) => e.messageId);
      expect(events.filter((m) => m === pagada.id), 'applied once').to.have.length(1);

      await waitForStatus(system, timed.id_correlacion, 'compensated', 30_000);
      const fired = (await system.store.readLog('reserva', timed.id_correlacion)).find((e) => e.kind === 'timer')!;
      expect(fired.at - restoredAt, 'due during the outage, fired after the grace period').to.be.at.least(grace);
    });
  });

  describe('of the broker (Pulsar behind a proxy)', () => {
    before(requirePulsar);

    it('should hold a deadline that falls due while the broker is unreachable, and give the answer a grace period after it is back', async () => {
      const broker = new URL(PULSAR_URL);
      const proxy = new TcpProxy({ targetHost: broker.hostname, targetPort: Number(broker.port || 8080) });
      const port = await proxy.listen();
      const namespace = await freshNamespace();
      const sequelize = await connect('sqlite::memory:');
      await migrate(sequelize);
      const store = new SequelizeSagaStore(sequelize);
      const transport = new PulsarWebSocketTransport({ url: `http://127.0.0.1:${port}`, namespace, reconnectMaxMs: 1_000 });
      const runtime = new SagaRuntime({ store, transport, sagas: [reservaSaga], outageGraceMs: 1_500, deadlinePollMs: 100 });
      try {
        await runtime.listen();
        const input = reservaInput({ plazos: { paso: 2_000 } });
        await runtime.startSaga('reserva', input, { id: input.id_correlacion });
        const [armed] = await waitFor(async () => {
          const deadlines = await store.deadlinesOf('reserva', input.id_correlacion);
          return deadlines[0]?.afterMessage === null && deadlines;
        }, 'CrearReserva to be published and its deadline armed');

        proxy!.cut();
        await waitFor(() => !runtime.health.available, 'the runtime to notice the broker is gone');
        await sleep(Math.max(0, armed.dueAt - Date.now()) + 2_000); // past the due time, broker still down
        expect((await store.getInstance('reserva', input.id_correlacion))?.stateValue, 'held while the broker is down').to.equal('creandoReserva');

        const restoredAt = Date.now();
        proxy!.restore();
        await waitFor(() => runtime.health.available, 'the broker to be back', 20_000);
        const fired = await waitFor(async () => (await store.readLog('reserva', input.id_correlacion)).find((e) => e.kind === 'timer'), 'the deadline to fire after the grace period', 20_000);
        expect(fired.at - restoredAt, 'not before the grace period after the broker came back').to.be.at.least(1_500);
      } finally {
        await runtime.close(1_000);
        await transport.close();
        await store.close();
        await proxy.close();
      }
    });

    it('should read what the broker moved to a dead-letter topic back into dead_letters, and replay it to where it came from', async () => {
      const namespace = await freshNamespace();
      const sequelize = await connect('sqlite::memory:');
      await migrate(sequelize);
      const store = new SequelizeSagaStore(sequelize);
      const transport = new PulsarWebSocketTransport({ url: PULSAR_URL, namespace, negativeAckRedeliveryDelayMs: 200 });
      const relay = new OutboxRelay(store, transport);
      const deliveries: number[] = [];
      let accept = false;
      const subscription = await transport.subscribe({
        topics: ['evento-pago'],
        subscription: 'crashy',
        maxRedeliveries: 1,
        handler: async (d) => {
          deliveries.push(d.redeliveryCount);
          if (!accept) throw new Error('this consumer crashes on every attempt');
        },
      });
      const recorder = await recordBrokerDeadLetters({ transport, store, subscription: 'crashy' });
      try {
        const message = makeEnvelope('PagoFallido', { id_correlacion: 'c-dlq', id_reserva: 'r', motivo: 'x' }, 'pagos.aeroalpes');
        await transport.publish('evento-pago', { key: 'c-dlq', payload: JSON.stringify(message) });

        const [letter] = await waitFor(async () => {
          const letters = await store.listDeadLetters();
          return letters.length > 0 && letters;
        }, 'the broker dead letter to be recorded', 30_000);
        expect(letter).to.include({ source: 'broker-dlq', code: 'redelivery_exhausted', consumer: 'crashy', topic: 'evento-pago', messageId: message.id, sagaId: 'c-dlq', key: 'c-dlq', status: 'open' });
        expect(letter.reason).to.contain('crashy-DLQ');
        expect(deliveries.length, 'delivered, then redelivered up to the limit').to.equal(2);

        accept = true;
        relay.start();
        const replayed = await new DeadLetters(store).replay(letter.id!, 'test');
        expect(replayed.action).to.equal('republished to evento-pago');
        await waitFor(() => deliveries.length === 3, 'the replayed message to come back on its topic', 20_000);
        expect((await store.getDeadLetter(letter.id!))?.status).to.equal('replayed');
      } finally {
        await relay.stop();
        await subscription.close();
        await recorder.close();
        await transport.close();
        await store.close();
      }
    });
  });
});

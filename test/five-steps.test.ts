import { expect } from 'chai';
import { createSystem, type System } from '../services/system.ts';
import { loadConfig, type Config } from '../services/config.ts';
import type { SagaStatus } from '../runtime/ports.ts';
import { eachDatabase } from './support/databases.ts';
import { HOTEL_APPLICATION, HOTEL_RESERVAS, SIN_HABITACION } from './support/hotel.ts';
import { reservaInput } from './support/system.ts';
import { waitFor } from './support/wait.ts';
import { createApp } from '../services/http/app.ts';
import { serveApp } from './support/http.ts';

/**
 * The one-place claim: a fifth step (a hotel booking between GDS and approval) declared with
 * the step API, its messages and one participant module (test/support/hotel.ts), run end to
 * end through the runtime, with the participants' own tables, in both styles. The outcomes are
 * stated here from the tutorial's rules, not computed with the code under test: a saga that
 * fails at a step undoes the steps done before it, newest first, each once.
 */
describe('a saga with a fifth step, declared in one place (test/support/hotel.ts)', function () {
  this.timeout(60_000);

  for (const style of ['orchestration', 'choreography'] as const) {
    describe(`in ${style}`, () => {
      eachDatabase((db) => {
        let system: System;
        before(async () => {
          const config: Config = { ...loadConfig({ SAGA_STYLE: style, SAGA_PLAZO_PASO_MS: '10000', SAGA_OUTAGE_GRACE_MS: '0' }), databaseUrl: await db.fresh() };
          system = await createSystem(config, { application: HOTEL_APPLICATION, relayPollMs: 50, deadlinePollMs: 100, listen: false });
          // The step's migration, in a real tree; here the table is made from its description.
          await HOTEL_RESERVAS.model(system.sequelize).sync();
          await system.listen();
        });
        after(() => system?.close());

        /** The saga's status as its style reports it: the orchestrator, or the choreography's tracker. */
        const statusOf = async (id: string): Promise<SagaStatus | undefined> => (await system.store.getInstance(style === 'orchestration' ? 'reserva' : 'reserva-coreografia', id))?.status;
        /** The commands sent for a saga, in the order they were committed (the outbox). */
        const commandsOf = async (id: string): Promise<string[]> => {
          const [rows] = await system.sequelize.query(`SELECT payload FROM outbox WHERE saga_id = ${system.sequelize.escape(id)} ORDER BY seq`);
          return (rows as { payload: string }[]).map((r) => JSON.parse(r.payload).type as string).filter((type) => HOTEL_APPLICATION.messages.isCommand(type));
        };
        const run = async (overrides: Parameters<typeof reservaInput>[0], status: SagaStatus) => {
          const input = reservaInput(overrides);
          await system.requestReserva(input);
          await waitFor(async () => (await statusOf(input.id_correlacion)) === status, `saga ${input.id_correlacion} ${status}`, 30_000);
          return input;
        };
        const rowsOf = async (idReserva: string) => ({
          vuelos: await system.vuelos.row(idReserva),
          pagos: await system.pagos.row(idReserva),
          gds: await system.gds.row(idReserva),
          hotel: (await HOTEL_RESERVAS.model(system.sequelize).findByPk(idReserva, { raw: true })) as { estado: string; reservas: number; liberaciones: number } | null,
        });

        it('should book the hotel between GDS and approval and complete', async () => {
          const input = await run({}, 'completed');
          const commands = await commandsOf(input.id_correlacion);
          expect(commands.filter((c) => ['CrearReserva', 'PagarReserva', 'ConfirmarReserva', 'ReservarHotel', 'AprobarReserva'].includes(c))).to.deep.equal([
            'CrearReserva',
            'PagarReserva',
            'ConfirmarReserva',
            'ReservarHotel',
            'AprobarReserva',
          ]);
          const rows = await rowsOf(input.id_reserva);
          expect(rows.vuelos?.estado).to.equal('aprobada');
          expect(rows.pagos).to.include({ estado: 'pagado', cargos: 1 });
          expect(rows.gds?.estado).to.equal('confirmada');
          expect(rows.hotel).to.include({ estado: 'reservada', reservas: 1, liberaciones: 0 });
          // Its HTTP API serves the hotel's row, and /ui draws the statechart with the fifth step.
          const client = await serveApp(createApp(system, { log: () => {} }));
          try {
            const hotelRow = await client.request('GET', `/hotel/${input.id_reserva}`);
            expect(hotelRow.status).to.equal(200);
            expect(hotelRow.body).to.include({ id_reserva: input.id_reserva, estado: 'reservada' });
            expect((await client.request('GET', '/hotel/no-such-reservation')).status).to.equal(404);
            const chart = await fetch(`${client.base}/ui/sagas/${input.id_correlacion}/chart.svg`);
            expect(chart.status).to.equal(200);
            expect(await chart.text()).to.include(style === 'orchestration' ? 'reservandoHotel' : 'completada');
          } finally {
            await client.close();
          }
        });

        it('should undo GDS, the payment and the reservation, newest first, when the hotel has no room', async () => {
          const input = await run({ id_reserva: `${SIN_HABITACION}${Math.random().toString(36).slice(2, 10)}` }, 'compensated');
          const commands = await commandsOf(input.id_correlacion);
          expect(commands.slice(commands.indexOf('ReservarHotel') + 1)).to.deep.equal(['RevertirConfirmacion', 'RevertirPago', 'CancelarReserva']);
          const rows = await rowsOf(input.id_reserva);
          expect(rows.hotel, 'nothing booked').to.equal(null);
          expect(rows.gds?.estado).to.equal('revertida');
          expect(rows.pagos).to.include({ estado: 'revertido', cargos: 1, reembolsos: 1 });
          expect(rows.vuelos?.estado).to.equal('cancelada');
        });

        it('should release the hotel first, then GDS, the payment and the reservation, when the approval fails', async () => {
          const input = await run({ simular_fallo: 'aprobacion' }, 'compensated');
          const commands = await commandsOf(input.id_correlacion);
          expect(commands.slice(commands.indexOf('AprobarReserva') + 1)).to.deep.equal(['LiberarHotel', 'RevertirConfirmacion', 'RevertirPago', 'CancelarReserva']);
          const rows = await rowsOf(input.id_reserva);
          expect(rows.hotel).to.include({ estado: 'liberada', reservas: 1, liberaciones: 1 });
          expect(rows.gds?.estado).to.equal('revertida');
          expect(rows.pagos).to.include({ estado: 'revertido', cargos: 1, reembolsos: 1 });
          expect(rows.vuelos?.estado).to.equal('cancelada');
        });
      });
    });
  }
});

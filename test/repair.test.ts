import { expect } from 'chai';
import { createApp } from '../services/http/app.ts';
import type { System } from '../services/system.ts';
import { eachDatabase } from './support/databases.ts';
import { serveApp, type HttpClient } from './support/http.ts';
import { ADMIN, reservaInput, startSystem, waitForStatus } from './support/system.ts';
import { loadConfig } from '../services/config.ts';
import { createSystem } from '../services/system.ts';

/**
 * Given a saga whose refund keeps failing (`revertir-pago`) and that stopped in manual repair,
 * an operator previews a repair, applies it, settles another by hand, and is refused what the
 * saga does not accept or without the admin token (issue 13).
 */
describe('repairing a saga in manual repair (POST /sagas/:id/repair)', function () {
  this.timeout(30_000);

  eachDatabase((db) => {
    let system: System;
    let client: HttpClient;
    beforeEach(async () => {
      system = await startSystem(await db.fresh());
      client = await serveApp(createApp(system, { log: () => {} }));
    });
    afterEach(async () => {
      await client?.close();
      await system?.close();
    });

    /** A saga stopped in manual repair: the GDS failed, and the refund failed every time. */
    const stuckSaga = async () => {
      const input = reservaInput({ simular_fallo: 'revertir-pago', maxReintentos: 2, plazos: { compensacion: 100 } });
      await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
      const stuck = await waitForStatus(system, input.id_correlacion, 'failed');
      expect(stuck.stateValue).to.equal('reparacionManual');
      return input;
    };
    const repair = (id: string, body: unknown, query = '', headers: Record<string, string> = ADMIN) => client.request('POST', `/sagas/${id}/repair${query}`, body, headers);
    const logOf = async (id: string) => (await system.store.readLog('reserva', id)).map((e) => `${e.seq} ${e.kind} ${e.type}`);

    it('should preview a retry without writing anything: next state, the refund it would send and its deadline', async () => {
      const input = await stuckSaga();
      const before = await logOf(input.id_correlacion);
      const preview = await repair(input.id_correlacion, { event: 'ReintentarCompensacion', data: { simular_fallo: null }, reason: 'pasarela restablecida' }, '?dry-run=1');
      expect(preview.status).to.equal(200);
      expect(preview.body).to.deep.include({ dryRun: true, from: { state: 'reparacionManual', status: 'failed' }, to: { state: 'revirtiendoPago', status: 'running' } });
      expect(preview.body.commands.map((c: { type: string; topic: string }) => `${c.type} → ${c.topic}`)).to.deep.equal(['RevertirPago → comando-revertir-pago']);
      expect(preview.body.commands[0].data).to.include({ id_correlacion: input.id_correlacion, id_reserva: input.id_reserva });
      expect(preview.body.commands[0].data, 'the simulated failure lifted by the retry').to.not.have.property('simular_fallo');
      expect(preview.body.deadlines.map((d: { event: string }) => d.event)).to.deep.equal(['xstate.after.plazoCompensacion.reserva.revirtiendoPago']);
      expect(await logOf(input.id_correlacion), 'the saga log is the same').to.deep.equal(before);
      expect((await system.store.getInstance('reserva', input.id_correlacion))?.stateValue).to.equal('reparacionManual');

      // What the preview said is what the repair then does.
      await repair(input.id_correlacion, { event: 'ReintentarCompensacion', data: { simular_fallo: null }, reason: 'pasarela restablecida' });
      const afterRepair = (await system.store.readLog('reserva', input.id_correlacion)).slice(before.length);
      expect(afterRepair[0]).to.deep.include({ kind: 'repair', type: 'ReintentarCompensacion' });
      expect(afterRepair[1]).to.deep.include({ kind: 'command', type: 'RevertirPago', payload: { topic: 'comando-revertir-pago', data: preview.body.commands[0].data } });
    });

    it('should end compensated when a retry finds the refund working, with who and why in the log', async () => {
      const input = await stuckSaga();
      const applied = await repair(input.id_correlacion, { event: 'ReintentarCompensacion', data: { simular_fallo: null }, reason: 'pasarela restablecida' });
      expect(applied.status).to.equal(200);
      expect(applied.body).to.deep.include({ dryRun: false, to: { state: 'revirtiendoPago', status: 'running' } });
      const done = await waitForStatus(system, input.id_correlacion, 'compensated');
      expect(done.stateValue).to.equal('compensada');
      const log = await system.store.readLog('reserva', input.id_correlacion);
      const entry = log.find((e) => e.kind === 'repair');
      expect(entry?.type).to.equal('ReintentarCompensacion');
      expect(entry?.payload).to.deep.include({ reason: 'pasarela restablecida', data: { simular_fallo: null } });
      expect((entry?.payload as { by: string }).by).to.match(/^http /);
      // The refund went through once, after the repair; the reservation was cancelled last.
      expect(await system.pagos.row(input.id_reserva)).to.include({ estado: 'revertido', cargos: 1, reembolsos: 1 });
      expect((await system.vuelos.row(input.id_reserva))?.estado).to.equal('cancelada');
      expect((await system.runtime.verify('reserva', input.id_correlacion)).ok, 'the log, repair included, replays to the snapshot').to.equal(true);
    });

    it('should end a saga marked resolved with the note in its log, and send nothing more', async () => {
      const input = await stuckSaga();
      const commandsBefore = (await system.store.readLog('reserva', input.id_correlacion)).filter((e) => e.kind === 'command').length;
      const applied = await repair(input.id_correlacion, { event: 'MarcarResuelta', data: { nota: 'reembolsado a mano en la pasarela' }, reason: 'ticket 4711' });
      expect(applied.status).to.equal(200);
      expect(applied.body.commands).to.deep.equal([]);
      const done = await waitForStatus(system, input.id_correlacion, 'compensated');
      expect(done.stateValue).to.equal('resueltaManualmente');
      expect((done.snapshot as { context: { resolucion: string } }).context.resolucion).to.equal('reembolsado a mano en la pasarela');
      const log = await system.store.readLog('reserva', input.id_correlacion);
      expect(log.find((e) => e.kind === 'repair')?.payload).to.deep.include({ reason: 'ticket 4711', data: { nota: 'reembolsado a mano en la pasarela' } });
      expect(log.filter((e) => e.kind === 'command')).to.have.length(commandsBefore);
      expect(await system.store.deadlinesOf('reserva', input.id_correlacion)).to.deep.equal([]);
    });

    it('should refuse an event the saga does not accept now with 409 and the accepted ones, and a running saga any repair', async () => {
      const input = await stuckSaga();
      const refused = await repair(input.id_correlacion, { event: 'PagoRevertido', reason: 'x' });
      expect(refused.status).to.equal(409);
      expect(refused.body.error.code).to.equal('repair_not_accepted');
      expect(refused.body.error.message).to.contain('accepted now: ReintentarCompensacion, MarcarResuelta');
      const running = reservaInput({ simular_fallo: 'timeout-pago' });
      await system.runtime.startSaga('reserva', running, { id: running.id_correlacion });
      const early = await repair(running.id_correlacion, { event: 'MarcarResuelta', reason: 'x' });
      expect(early.status).to.equal(409);
      expect(early.body.error.message).to.contain('accepted now: none');
      expect((await repair('no-such-saga', { event: 'MarcarResuelta', reason: 'x' })).status).to.equal(404);
      expect((await repair(input.id_correlacion, { event: 'MarcarResuelta' })).status, 'a repair needs a reason').to.equal(400);
    });

    it('should refuse a repair without the admin token (403), and leave the saga as it was', async () => {
      const input = await stuckSaga();
      const before = await logOf(input.id_correlacion);
      expect((await repair(input.id_correlacion, { event: 'MarcarResuelta', reason: 'x' }, '', {})).status).to.equal(403);
      expect((await repair(input.id_correlacion, { event: 'MarcarResuelta', reason: 'x' }, '', { authorization: 'Bearer otro' })).status).to.equal(403);
      expect(await logOf(input.id_correlacion)).to.deep.equal(before);
    });
  });

  it('should refuse every admin action when no token is configured (403)', async () => {
    const config = { ...loadConfig({}), databaseUrl: 'sqlite::memory:', outageGraceMs: 0 };
    expect(config.adminToken).to.equal(undefined);
    const system = await createSystem(config, { listen: false });
    const client = await serveApp(createApp(system, { log: () => {} }));
    try {
      const answer = await client.request('POST', '/sagas/any/repair', { event: 'MarcarResuelta', reason: 'x' }, ADMIN);
      expect(answer.status).to.equal(403);
      expect(answer.body.error.message).to.contain('no SAGA_ADMIN_TOKEN is configured');
      expect((await client.request('POST', '/dead-letters/1/replay', {}, ADMIN)).status).to.equal(403);
    } finally {
      await client.close();
      await system.close();
    }
  });
});

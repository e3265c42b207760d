import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { AEROALPES_MESSAGES } from '../machines/messages.ts';
import { reservaSaga, reservaSteps } from '../machines/reserva.ts';
import { stepSaga } from '../machines/steps.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import { SagaRegistry, type PersistedSnapshot, type SagaDefinition } from '../runtime/registry.ts';
import { SagaRuntime } from '../runtime/saga-runtime.ts';
import { checkUpgrade, upgradeFate } from '../runtime/upgrade.ts';
import type { System } from '../services/system.ts';
import { eachDatabase } from './support/databases.ts';
import { reservaInput, startSystem } from './support/system.ts';

/**
 * Safe upgrades (issue 13): v1 sagas in flight in several states, checked against a v2 that
 * fits them as they are, one that renamed a state without saying how, and one that says how
 * (`migrateFrom.snapshot`); then the runtime moves a v1 saga to v2 when its next event comes.
 */

/** v2 of the saga with the payment step's state renamed (`pagando` → `cobrando`). */
const renamed = (migrate?: (s: PersistedSnapshot) => PersistedSnapshot): SagaDefinition => {
  const steps = reservaSteps.steps.map((s) => (s.state === 'pagando' ? { ...s, state: 'cobrando' } : s));
  const saga = stepSaga({ ...reservaSteps, steps }, { type: 'reserva', version: 2, serviceName: 'sagas.aeroalpes', messages: AEROALPES_MESSAGES });
  return { ...saga, migrateFrom: { version: 1, ...(migrate ? { snapshot: migrate } : {}) } } as SagaDefinition;
};
const renamePagando = (s: PersistedSnapshot) => ({ ...s, value: s.value === 'pagando' ? 'cobrando' : s.value });
const compatible = { ...reservaSaga, version: 2, migrateFrom: { version: 1 } } as SagaDefinition;

describe('safe upgrades: snapshot migrations and check-upgrade (runtime/upgrade.ts)', function () {
  this.timeout(60_000);

  it('should migrate a snapshot with a pure function, leaving the one it was given as it was', () => {
    const before = { value: 'pagando', context: { id_correlacion: 'x' }, status: 'active' } as PersistedSnapshot;
    const copy = structuredClone(before);
    expect(renamePagando(before)).to.deep.equal({ ...copy, value: 'cobrando' });
    expect(before).to.deep.equal(copy);
  });

  eachDatabase((db) => {
    let system: System;
    const ids: Record<string, string> = {};
    before(async () => {
      // v1 sagas in flight, each held in a state: nobody answers but the test.
      system = await startSystem(await db.fresh(), { listen: false });
      const send = async (id: string, type: string, data: Record<string, unknown>) =>
        expect((await system.runtime.handle(makeEnvelope(type, { id_correlacion: id, id_reserva: `R-${id.slice(0, 8)}`, ...data }, 'pruebas') as never)).status, type).to.equal('applied');
      for (const [state, events] of Object.entries({
        creandoReserva: [],
        pagando: [['ReservaCreada', { id_cliente: 'c', estado: 'pendiente', fecha_creacion: 1, monto: 1, monto_vat: 0 }]],
        confirmandoGds: [
          ['ReservaCreada', { id_cliente: 'c', estado: 'pendiente', fecha_creacion: 1, monto: 1, monto_vat: 0 }],
          ['ReservaPagada', { id_pago: 'p', monto: 1, monto_vat: 0, fecha_creacion: 1 }],
        ],
        revirtiendoPago: [
          ['ReservaCreada', { id_cliente: 'c', estado: 'pendiente', fecha_creacion: 1, monto: 1, monto_vat: 0 }],
          ['ReservaPagada', { id_pago: 'p', monto: 1, monto_vat: 0, fecha_creacion: 1 }],
          ['ConfirmacionFallida', { motivo: 'gds' }],
        ],
      } as Record<string, [string, Record<string, unknown>][]>)) {
        const input = reservaInput({ plazos: { paso: 600_000, compensacion: 600_000 } });
        ids[state] = input.id_correlacion;
        await system.runtime.startSaga('reserva', input, { id: input.id_correlacion });
        for (const [type, data] of events) await send(input.id_correlacion, type, data);
        expect((await system.store.getInstance('reserva', input.id_correlacion))?.stateValue).to.equal(state);
      }
    });
    after(() => system?.close());

    it('should find every v1 saga resuming while v1 is registered', async () => {
      const report = await checkUpgrade(system.store, new SagaRegistry([reservaSaga as SagaDefinition]));
      expect(report).to.deep.include({ ok: true });
      expect(report.rows).to.deep.equal([{ sagaType: 'reserva', version: 1, resume: 4, migrate: 0, fail: 0, reasons: [] }]);
    });

    it('should pass a v2 whose machine takes the v1 snapshots as they are, and one with a migration', async () => {
      for (const v2 of [compatible, renamed(renamePagando)]) {
        const report = await checkUpgrade(system.store, new SagaRegistry([v2]));
        expect(report.ok).to.equal(true);
        expect(report.rows).to.deep.equal([{ sagaType: 'reserva', version: 1, resume: 0, migrate: 4, fail: 0, to: 2, reasons: [] }]);
      }
    });

    it('should fail a v2 that renamed a state without a migration, naming the saga and the state, and one that takes nothing over', async () => {
      const report = await checkUpgrade(system.store, new SagaRegistry([renamed()]));
      expect(report.ok).to.equal(false);
      expect(report.rows[0]).to.deep.include({ version: 1, migrate: 3, fail: 1 });
      expect(report.rows[0].reasons[0]).to.contain(ids.pagando).and.contain('(pagando)').and.contain('v2 cannot take over its snapshot in pagando');
      const none = await checkUpgrade(system.store, new SagaRegistry([{ ...reservaSaga, version: 2 } as SagaDefinition]));
      expect(none.rows[0]).to.deep.include({ fail: 4 });
      expect(none.rows[0].reasons[0]).to.contain('v1 is not registered (registered: 2) and no version declares migrateFrom v1');
    });

    it('should move a v1 saga to v2 when its next event comes: migrated snapshot, version 2, a note in its log, and a log that still verifies', async () => {
      const v2 = renamed(renamePagando);
      const runtime = new SagaRuntime({ store: system.store, transport: system.transport, sagas: [v2] });
      try {
        const id = ids.pagando;
        const record = (await system.store.getInstance('reserva', id))!;
        expect(upgradeFate(new SagaRegistry([v2]), record)).to.deep.include({ fate: 'migrate' });
        const outcome = await runtime.handle(makeEnvelope('ReservaPagada', { id_correlacion: id, id_reserva: `R-${id.slice(0, 8)}`, id_pago: 'p', monto: 1, monto_vat: 0, fecha_creacion: 1 }, 'pruebas') as never);
        expect(outcome).to.deep.include({ status: 'applied', state: 'confirmandoGds' });
        const moved = (await system.store.getInstance('reserva', id))!;
        expect(moved.version).to.equal(2);
        const log = await system.store.readLog('reserva', id);
        const note = log.find((e) => e.kind === 'note' && e.type === 'migrated');
        expect(note?.payload).to.deep.include({ from: 1, to: 2 });
        expect((note?.payload as { snapshot: { value: string } }).snapshot.value).to.equal('cobrando');
        expect(log.at(-2)).to.deep.include({ kind: 'command', type: 'ConfirmarReserva' });
        expect((await runtime.verify('reserva', id)).ok, 'verify replays from the migration').to.equal(true);
      } finally {
        await runtime.close();
      }
    });
  });

  it('should exit 1 from npm run saga -- check-upgrade when sagas in flight run a version nothing registered takes over, 0 when they resume', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-upgrade-'));
    const databaseUrl = `sqlite:${path.join(dir, 'sagas.db')}`;
    try {
      const system = await startSystem(databaseUrl, { listen: false });
      try {
        const old = new SagaRuntime({ store: system.store, transport: system.transport, sagas: [{ ...reservaSaga, version: 0 } as SagaDefinition] });
        const input = reservaInput();
        await old.startSaga('reserva', input, { id: input.id_correlacion });
        await old.close();
      } finally {
        await system.close();
      }
      const run = (...args: string[]) =>
        new Promise<{ code: number; stdout: string }>((resolve) =>
          execFile('npx', ['tsx', 'services/cli.ts', 'check-upgrade', ...args], { cwd: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), env: { ...process.env, DATABASE_URL: databaseUrl } }, (error, stdout) =>
            resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout }),
          ),
        );
      const failing = await run();
      expect(failing.code).to.equal(1);
      expect(failing.stdout).to.contain('v0').and.contain('NOT SAFE').and.contain('no version declares migrateFrom v0');

      const system2 = await startSystem(databaseUrl, { listen: false });
      try {
        await system2.store.transaction(async (uow) => {
          const record = (await uow.loadInstance('reserva', (await system2.store.listInstances({ limit: 1 }))[0].id))!;
          await uow.updateInstance({ ...record, version: 1, rowVersion: record.rowVersion + 1 }, record.rowVersion);
        });
      } finally {
        await system2.close();
      }
      const passing = await run('--to', '1');
      expect(passing.code, passing.stdout).to.equal(0);
      expect(passing.stdout).to.contain('ok: every saga in flight can continue');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

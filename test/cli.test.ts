import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Envelope } from '../machines/messages.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import type { LogEntry, SagaInstanceRecord } from '../runtime/ports.ts';
import { reservaInput, startSystem, waitForStatus } from './support/system.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npx tsx services/cli.ts ...args` against `databaseUrl`. */
function cli(databaseUrl: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('npx', ['tsx', 'services/cli.ts', ...args], { cwd: root, env: { ...process.env, DATABASE_URL: databaseUrl } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('saga CLI', function () {
  this.timeout(60_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-cli-'));
  const databaseUrl = `sqlite:${path.join(dir, 'sagas.db')}`;
  let completed: SagaInstanceRecord;
  let log: LogEntry[];
  let running: SagaInstanceRecord;
  let ghosts: Envelope[];
  let stuck: SagaInstanceRecord;

  before(async function () {
    const system = await startSystem(databaseUrl);
    try {
      const done = reservaInput();
      await system.runtime.startSaga('reserva', done, { id: done.id_correlacion });
      completed = await waitForStatus(system, done.id_correlacion, 'completed');
      log = await system.store.readLog('reserva', done.id_correlacion);
      const paused = reservaInput({ simular_fallo: 'timeout-pago', plazos: { paso: 600_000 } });
      await system.runtime.startSaga('reserva', paused, { id: paused.id_correlacion });
      for (;;) {
        running = (await system.store.getInstance('reserva', paused.id_correlacion))!;
        if (running.stateValue === 'pagando') break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      // A saga whose refund kept failing, stopped in manual repair.
      const failing = reservaInput({ simular_fallo: 'revertir-pago', maxReintentos: 2, plazos: { compensacion: 100 } });
      await system.runtime.startSaga('reserva', failing, { id: failing.id_correlacion });
      stuck = await waitForStatus(system, failing.id_correlacion, 'failed');
      // Two events for sagas that do not exist: dead letters to work.
      ghosts = ['ghost-1', 'ghost-2'].map((id) => makeEnvelope('PagoFallido', { id_correlacion: id, id_reserva: 'r', motivo: 'x' }, 'pagos.aeroalpes'));
      for (const ghost of ghosts) expect((await system.runtime.handle(ghost, 'evento-pago')).status).to.equal('dead-lettered');
    } finally {
      await system.close();
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('should show a saga: status, state, context and every log entry with its type and message id', async function () {
    const { code, stdout } = await cli(databaseUrl, 'show', completed.id);
    expect(code).to.equal(0);
    expect(stdout).to.match(new RegExp(`status:\\s+${completed.status}\\b`));
    expect(stdout).to.match(new RegExp(`state:\\s+${completed.stateValue}\\b`));
    expect(stdout).to.include(`"id_cliente": "${(completed.snapshot as { context: { id_cliente: string } }).context.id_cliente}"`);
    const lines = stdout.split('\n');
    for (const entry of log) {
      const row = lines.find((line) => line.startsWith(`${entry.seq} `));
      expect(row, `log row ${entry.seq}`).to.be.a('string');
      expect(row).to.include(entry.type).and.include(new Date(entry.at).toISOString()).and.include(entry.kind);
      if (entry.messageId) expect(row).to.include(entry.messageId);
    }
  });

  it('should show the pending deadline of a paused saga', async function () {
    const { code, stdout } = await cli(databaseUrl, 'show', running.id);
    expect(code).to.equal(0);
    expect(stdout).to.match(/state:\s+pagando\b/);
    const deadlines = stdout.slice(stdout.indexOf('pending deadlines:'));
    expect(deadlines).not.to.include('(none)');
    expect(deadlines).to.match(/\d{4}-\d\d-\d\dT/);
  });

  it('should show the repairs a saga in manual repair accepts, preview one without writing, and apply it with who and why', async function () {
    const show = await cli(databaseUrl, 'show', stuck.id);
    expect(show.stdout).to.include('repairs accepted now: ReintentarCompensacion, MarcarResuelta');
    const listed = await cli(databaseUrl, 'stuck');
    expect(listed.code).to.equal(0);
    expect(listed.stdout.split('\n').find((line) => line.startsWith(stuck.id))).to.include('in reparacionManual: waiting for a person (repairs: ReintentarCompensacion, MarcarResuelta)');
    const dry = await cli(databaseUrl, 'repair', stuck.id, 'ReintentarCompensacion', '--data', '{"simular_fallo":null}', '--reason', 'pasarela restablecida', '--dry-run');
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.include('would repair reserva/').and.include('reparacionManual (failed) -> revirtiendoPago (running)').and.include('RevertirPago').and.include('comando-revertir-pago');
    expect(dry.stdout).to.include('(dry run: nothing was written)');
    const system = await startSystem(databaseUrl, { listen: false });
    try {
      expect((await system.store.getInstance('reserva', stuck.id))?.logSeq, 'the dry run wrote nothing').to.equal(stuck.logSeq);
    } finally {
      await system.close();
    }
    const refused = await cli(databaseUrl, 'repair', stuck.id, 'PagoRevertido', '--reason', 'x');
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include('accepted now: ReintentarCompensacion, MarcarResuelta');
    expect((await cli(databaseUrl, 'repair', stuck.id, 'MarcarResuelta')).stderr, 'a repair needs a reason').to.include('--reason');
    const applied = await cli(databaseUrl, 'repair', stuck.id, 'MarcarResuelta', '--data', '{"nota":"reembolsado a mano"}', '--reason', 'ticket 4711');
    expect(applied.code, applied.stderr).to.equal(0);
    expect(applied.stdout).to.include('repaired reserva/').and.include('-> resueltaManualmente (compensated)');
    const after = await cli(databaseUrl, 'show', stuck.id);
    expect(after.stdout).to.match(/status:\s+compensated\b/).and.include('repair').and.include('MarcarResuelta').and.include('reembolsado a mano');
  });

  it('should list sagas by status and verify one', async function () {
    const list = await cli(databaseUrl, 'list', 'completed');
    expect(list.code).to.equal(0);
    expect(list.stdout).to.include(completed.id).and.not.include(running.id);
    const verify = await cli(databaseUrl, 'verify', completed.id);
    expect(verify.code).to.equal(0);
    expect(verify.stdout).to.match(/^ok: /);
  });

  it('should list, show, discard and replay dead letters, each once, saying who did it', async function () {
    const list = await cli(databaseUrl, 'dead-letters', 'list', 'open');
    expect(list.code).to.equal(0);
    const rows = list.stdout.split('\n').filter((line) => /^\d+ /.test(line));
    expect(rows).to.have.length(2);
    const idOf = (sagaId: string) => rows.find((r) => r.includes(sagaId))!.split(' ')[0];
    expect(rows.every((r) => r.includes('unknown_saga') && r.includes('evento-pago') && r.includes('open'))).to.equal(true);

    const show = await cli(databaseUrl, 'dead-letters', 'show', idOf('ghost-1'));
    expect(show.code).to.equal(0);
    expect(JSON.parse(show.stdout)).to.include({ sagaId: 'ghost-1', code: 'unknown_saga', status: 'open', messageId: ghosts[0].id });

    const discard = await cli(databaseUrl, 'dead-letters', 'discard', idOf('ghost-1'), 'a', 'test', 'message');
    expect(discard.code).to.equal(0);
    const replay = await cli(databaseUrl, 'dead-letters', 'replay', idOf('ghost-2'));
    expect(replay.code, replay.stderr).to.equal(0);
    expect(replay.stdout).to.include(`replayed dead letter ${idOf('ghost-2')}: republished to evento-pago`);
    const again = await cli(databaseUrl, 'dead-letters', 'replay', idOf('ghost-2'));
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include('is replayed');

    const system = await startSystem(databaseUrl, { listen: false });
    try {
      const letters = await system.store.listDeadLetters();
      const discarded = letters.find((l) => l.sagaId === 'ghost-1')!;
      expect(discarded.status).to.equal('discarded');
      expect(discarded.resolution).to.match(/^discarded by cli \S+: a test message$/);
      const replayed = letters.find((l) => l.sagaId === 'ghost-2')!;
      expect(replayed.status).to.equal('replayed');
      expect(replayed.resolution).to.match(/^replayed by cli \S+: republished to evento-pago$/);
      const pending = await system.store.pendingOutbox(100);
      expect(pending.filter((row) => row.payload === JSON.stringify(ghosts[1])).map((row) => row.topic), 'back in the outbox for its topic').to.deep.equal(['evento-pago']);
    } finally {
      await system.close();
    }
  });

  it('should list the replicas sharing the database, their leases and what each has left to publish', async function () {
    const { SequelizeSagaStore } = await import('../db/sequelize-saga-store.ts');
    const { connect } = await import('../db/connect.ts');
    const sequelize = await connect(databaseUrl);
    const store = new SequelizeSagaStore(sequelize, { replicaId: 'pagos-host-1' });
    try {
      await store.renewReplica({ id: 'pagos-host-1', service: 'pagos', host: 'host', pid: 4242, startedAt: Date.now(), expiresAt: Date.now() + 60_000 }, false);
      await store.renewReplica({ id: 'pagos-host-2', service: 'pagos', host: 'host', pid: 4243, startedAt: Date.now(), expiresAt: 0 }, false);
      await store.transaction((uow) => uow.enqueue([{ messageId: 'm-1', sagaType: 'pagos', sagaId: 's', topic: 'evento-pago', key: 's', payload: '{}', createdAt: Date.now() }]));
    } finally {
      await store.close();
    }
    const { code, stdout } = await cli(databaseUrl, 'replicas');

    expect(code).to.equal(0);
    const lines = stdout.split('\n');
    expect(lines.find((l) => l.includes('pagos-host-1'))).to.match(/pagos.*4242.*live.*\b1\s*$/);
    expect(lines.find((l) => l.includes('pagos-host-2'))).to.match(/pagos.*4243.*stopped.*\b0\s*$/);
  });

  it('should exit 1 with a clear message for an unknown id or a usage error', async function () {
    const unknown = await cli(databaseUrl, 'show', 'no-such-saga');
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.include('no-such-saga');
    expect(unknown.stdout).to.equal('');
    const usage = await cli(databaseUrl, 'frobnicate');
    expect(usage.code).to.equal(1);
    expect(usage.stderr).to.include('unknown command "frobnicate"').and.include('usage:');
  });
});

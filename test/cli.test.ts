import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
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

  it('should list sagas by status and verify one', async function () {
    const list = await cli(databaseUrl, 'list', 'completed');
    expect(list.code).to.equal(0);
    expect(list.stdout).to.include(completed.id).and.not.include(running.id);
    const verify = await cli(databaseUrl, 'verify', completed.id);
    expect(verify.code).to.equal(0);
    expect(verify.stdout).to.match(/^ok: /);
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

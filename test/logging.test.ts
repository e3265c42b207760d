import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, propagation, trace } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { expect } from 'chai';
import { makeEnvelope } from '../runtime/envelope.ts';
import { createApp } from '../services/http/app.ts';
import { createLogger, logFormat, logLevelFrom } from '../services/logger.ts';
import type { System } from '../services/system.ts';
import { serveApp } from './support/http.ts';
import { reservaInput, startSystem, waitForStatus } from './support/system.ts';
import { waitFor } from './support/wait.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A line as the adapter writes it. */
type Line = { level: string; time: string; pid: number; service: string; msg: string; [field: string]: unknown };

/** Where a test logger writes: each JSON line as written, and parsed. */
class Memory {
  readonly written: string[] = [];
  write(chunk: string): void {
    this.written.push(chunk);
  }
  get lines(): Line[] {
    return this.written.flatMap((chunk) => chunk.split('\n').filter((line) => line !== '')).map((line) => JSON.parse(line) as Line);
  }
}

describe('structured logs', function () {
  describe('the pino adapter (services/logger.ts)', function () {
    it('should write one JSON line per call with level, service, pid, msg and the fields, the level taken out of them', () => {
      const out = new Memory();
      const { log } = createLogger({ service: 'pagos', level: 'info', destination: out });
      log('outbox row failed; will retry', { level: 'warn', sagaId: 's-1', messageId: 'm-1', messageType: 'PagarReserva', attempts: 2 });
      log('started');
      expect(out.written).to.have.length(2);
      for (const chunk of out.written) expect(chunk.endsWith('\n') && chunk.indexOf('\n') === chunk.length - 1, 'one line per call').to.equal(true);
      const [warned, started] = out.lines;
      expect(warned).to.include({ level: 'warn', service: 'pagos', pid: process.pid, msg: 'outbox row failed; will retry', sagaId: 's-1', messageId: 'm-1', messageType: 'PagarReserva', attempts: 2 });
      expect(new Date(warned.time).toISOString()).to.equal(warned.time);
      expect(started).to.include({ level: 'info', service: 'pagos', msg: 'started' });
    });

    it('should honour LOG_LEVEL: a debug line is absent at info and present at debug', () => {
      const atInfo = new Memory();
      createLogger({ service: 'gds', destination: atInfo, env: {} }).log('detail', { level: 'debug' });
      createLogger({ service: 'gds', destination: atInfo, env: { LOG_LEVEL: 'info' } }).log('detail', { level: 'debug' });
      expect(atInfo.written, 'the default is info').to.deep.equal([]);
      const atDebug = new Memory();
      const { log } = createLogger({ service: 'gds', destination: atDebug, env: { LOG_LEVEL: 'debug' } });
      log('detail', { level: 'debug', messageId: 'm-2' });
      expect(atDebug.lines).to.have.length(1);
      expect(atDebug.lines[0]).to.include({ level: 'debug', msg: 'detail', messageId: 'm-2' });
      const atError = new Memory();
      createLogger({ service: 'gds', destination: atError, env: { LOG_LEVEL: 'error' } }).log('retrying', { level: 'warn' });
      expect(atError.written).to.deep.equal([]);
    });

    it('should refuse an unknown level or format, naming the ones there are', () => {
      expect(() => createLogger({ service: 'vuelos', destination: new Memory(), env: { LOG_LEVEL: 'verbose' } })).to.throw(/LOG_LEVEL=verbose is not a level \(one of trace, debug, info, warn, error, fatal, silent\)/);
      expect(() => logLevelFrom({}, 'loud')).to.throw(/LOG_LEVEL=loud is not a level/);
      expect(logLevelFrom({ LOG_LEVEL: 'WARN' })).to.equal('warn');
      expect(() => logFormat({ LOG_FORMAT: 'xml' })).to.throw(/LOG_FORMAT=xml is not a format \(json or pretty\)/);
    });

    it('should write JSON unless a development terminal asks for pretty, or LOG_FORMAT says', () => {
      expect(logFormat({}, false)).to.equal('json');
      expect(logFormat({}, true)).to.equal('pretty');
      expect(logFormat({ NODE_ENV: 'production' }, true)).to.equal('json');
      expect(logFormat({ LOG_FORMAT: 'json' }, true)).to.equal('json');
      expect(logFormat({ LOG_FORMAT: 'pretty', NODE_ENV: 'production' }, false)).to.equal('pretty');
    });

    it('should write an Error under error or err with its type, message and stack', () => {
      const out = new Memory();
      const { log } = createLogger({ service: 'coordinator', destination: out });
      log('request failed', { level: 'error', err: new TypeError('boom') });
      log('closing failed', { level: 'error', error: new Error('socket gone') });
      log('retrying transaction', { level: 'warn', error: 'deadlock' });
      const [request, closing, retrying] = out.lines as (Line & { err: { type: string; message: string; stack: string }; error: { stack: string } | string })[];
      expect(request.err).to.include({ type: 'TypeError', message: 'boom' });
      expect(request.err.stack).to.match(/TypeError: boom\n\s+at /);
      expect((closing.error as { stack: string }).stack).to.match(/Error: socket gone\n\s+at /);
      expect(retrying.error, 'a message stays a string').to.equal('deadlock');
    });

    it('should let a line name the service it is about instead of repeating the key', () => {
      const out = new Memory();
      createLogger({ service: 'aeroalpes', destination: out }).log('dead-lettered', { level: 'error', service: 'pagos' });
      expect(out.written[0].match(/"service"/g), 'one service key').to.have.length(1);
      expect(out.lines[0].service).to.equal('pagos');
    });

    describe('with a span active', function () {
      const provider = new NodeTracerProvider();
      before(() => provider.register());
      after(async () => {
        await provider.shutdown();
        trace.disable();
        context.disable();
        propagation.disable();
      });

      it('should add its traceId and spanId to the line', () => {
        const out = new Memory();
        const { log } = createLogger({ service: 'vuelos', destination: out });
        const ids = trace.getTracer('test').startActiveSpan('POST /reservas', (span) => {
          log('inside');
          span.end();
          return span.spanContext();
        });
        log('outside');
        const [inside, outside] = out.lines;
        expect(inside).to.include({ traceId: ids.traceId, spanId: ids.spanId });
        expect(outside).to.not.have.property('traceId');
      });
    });
  });

  describe('the embedded system: a saga, then a dead letter', function () {
    this.timeout(30_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-logging-'));
    const out = new Memory();
    let system: System;

    before(async () => {
      const { log } = createLogger({ service: 'aeroalpes', level: 'debug', destination: out });
      system = await startSystem(`sqlite:${path.join(dir, 'logs.db')}`, { log });
    });
    after(async () => {
      await system?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('should log the dead letter of an unknown saga\'s event as one JSON line at error, naming service, message and saga', async () => {
      const input = reservaInput();
      await system.requestReserva(input);
      await waitForStatus(system, input.id_correlacion, 'completed');
      expect(out.lines.every((line) => typeof line.level === 'string' && line.pid === process.pid), 'every line is JSON with a level').to.equal(true);

      const stray = makeEnvelope('PagoFallido', { id_correlacion: 'nobody-here', id_reserva: 'r-0', motivo: 'x' }, 'pagos.aeroalpes');
      await system.transport.publish('evento-pago', { key: 'nobody-here', payload: JSON.stringify(stray) });
      const line = await waitFor(() => out.lines.find((l) => l.msg === 'dead-lettered' && l.messageId === stray.id), 'the dead-letter line');
      expect(line.level).to.be.oneOf(['warn', 'error']);
      expect(line).to.include({ service: 'aeroalpes', sagaType: 'reserva', sagaId: 'nobody-here', messageId: stray.id, messageType: 'PagoFallido', topic: 'evento-pago', code: 'unknown_saga' });
      const raw = out.written.find((chunk) => chunk.includes(stray.id) && chunk.includes('dead-lettered'))!;
      expect(() => JSON.parse(raw), 'the line as written is JSON').to.not.throw();
    });

    it('should log each HTTP request once answered at debug, with method, path, status and time, and write none at info', async () => {
      const client = await serveApp(createApp(system, { log: createLogger({ service: 'aeroalpes', level: 'debug', destination: out }).log }));
      const quiet = new Memory();
      const quietClient = await serveApp(createApp(system, { log: createLogger({ service: 'aeroalpes', level: 'info', destination: quiet }).log }));
      try {
        await client.request('GET', '/health');
        await client.request('POST', '/reservas', { id_cliente: 'c', monto: 'diez' });
        await quietClient.request('GET', '/health');
        const requests = out.lines.filter((l) => l.msg === 'request');
        expect(requests.map((l) => [l.level, l.method, l.path, l.status])).to.deep.equal([
          ['debug', 'GET', '/health', 200],
          ['debug', 'POST', '/reservas', 400],
        ]);
        expect(requests.every((l) => typeof l.ms === 'number' && l.ms >= 0), 'a time in ms').to.equal(true);
        expect(quiet.lines.filter((l) => l.msg === 'request'), 'at info').to.deep.equal([]);
      } finally {
        await client.close();
        await quietClient.close();
      }
    });
  });

  describe('a service process (services/service-main.ts)', function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-logging-process-'));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const start = (env: NodeJS.ProcessEnv) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'services/service-main.ts', 'notificaciones'], {
        cwd: ROOT,
        env: { ...process.env, NODE_ENV: 'test', HOST: '127.0.0.1', NOTIFICACIONES_PORT: '0', SAGA_TRANSPORT: 'memory', DATABASE_URL: `sqlite:${path.join(dir, 'n.db')}`, OTEL_SDK_DISABLED: 'true', LOG_FORMAT: '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output = { stdout: '', stderr: '' };
      child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk));
      child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      return { child, output, exited };
    };

    it('should refuse to start with an unknown LOG_LEVEL, saying why', async () => {
      const { output, exited } = start({ LOG_LEVEL: 'chatty' });
      expect(await exited).to.equal(1);
      expect(output.stderr).to.match(/LOG_LEVEL=chatty is not a level \(one of trace, debug, info, warn, error, fatal, silent\)/);
    });

    it('should write only JSON lines of its service when its output is not a terminal, and shut down logging so', async () => {
      const { child, output, exited } = start({ LOG_LEVEL: 'info' });
      try {
        await waitFor(() => /notificaciones listening on http/.test(output.stdout) || child.exitCode !== null, 'the service to listen', 30_000);
        child.kill('SIGTERM');
        expect(await exited, output.stdout + output.stderr).to.equal(0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      const lines = output.stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Line);
      expect(lines.every((line) => line.service === 'notificaciones' && line.pid === child.pid), 'service and pid on every line').to.equal(true);
      const messages = lines.map((line) => `${line.level} ${line.msg}`);
      expect(messages.find((m) => m.startsWith('warn SAGA_TRANSPORT=memory')), messages.join('\n')).to.be.a('string');
      expect(messages.find((m) => m.startsWith('info notificaciones listening on http://127.0.0.1:')), messages.join('\n')).to.be.a('string');
      expect(messages).to.include('info SIGTERM received, shutting down (at most 10000 ms)');
      expect(messages.find((m) => /^info stopped in \d+ ms$/.test(m)), messages.join('\n')).to.be.a('string');
    });
  });
});

import { redact } from '../db/connect.ts';
import { SagaError } from '../runtime/errors.ts';
import { SAGA_STATUSES, type SagaStatus } from '../runtime/ports.ts';
import { loadConfig } from './config.ts';
import { findSaga, sagaDetail } from './saga-view.ts';
import { createSystem, type System } from './system.ts';

const USAGE = `usage: npm run saga -- <command>

  show <id>          state, context, log and pending deadlines of one saga
  list [status]      newest sagas first; status: ${SAGA_STATUSES.join(' | ')}
  verify <id>        rebuild the saga from its log and compare with the stored snapshot (exit 1 on a difference)
  dead-letters       messages refused for good, newest first

Reads DATABASE_URL (default sqlite:./data/sagas.db). Starts no consumers.`;

class UsageError extends Error {}

type Command = (system: System, args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  async show(system, [id]) {
    const saga = await sagaDetail(system.store, required(id, 'show <id>'));
    print(`saga ${saga.type}/${saga.id} (machine v${saga.version})`);
    print(`status:  ${saga.status}`);
    print(`state:   ${saga.state}`);
    print(`created: ${iso(saga.createdAt)}   updated: ${iso(saga.updatedAt)}`);
    print(`context:\n${JSON.stringify(saga.context, null, 2)}\n`);
    print(`log (${saga.log.length} entries):`);
    print(table(['seq', 'time', 'kind', 'type', 'message id'], saga.log.map((e) => [String(e.seq), iso(e.at), e.kind, e.type, e.messageId ?? '-'])));
    print('\npending deadlines:');
    const now = Date.now();
    print(
      saga.deadlines.length === 0
        ? '  (none)'
        : table(['timer', 'due at', 'due in'], saga.deadlines.map((d) => [d.timerId, iso(d.dueAt), `${((d.dueAt - now) / 1000).toFixed(1)} s`])),
    );
    return 0;
  },

  async list(system, [status]) {
    if (status !== undefined && !(SAGA_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`unknown status "${status}"; use one of ${SAGA_STATUSES.join(', ')}`);
    }
    const sagas = await system.store.listInstances({ status: status as SagaStatus | undefined });
    if (sagas.length === 0) print(status ? `no ${status} sagas` : 'no sagas');
    else print(table(['id', 'type', 'v', 'status', 'state', 'created', 'updated'], sagas.map((s) => [s.id, s.sagaType, String(s.version), s.status, s.stateValue, iso(s.createdAt), iso(s.updatedAt)])));
    return 0;
  },

  async verify(system, [id]) {
    const record = await findSaga(system.store, required(id, 'verify <id>'));
    const report = await system.runtime.verify(record.sagaType, record.id);
    if (report.ok) {
      print(`ok: ${record.sagaType}/${record.id} rebuilt from ${report.replayed} logged inputs matches the stored snapshot (${JSON.stringify(report.stored.value)})`);
      return 0;
    }
    print(`MISMATCH: ${record.sagaType}/${record.id} rebuilt from ${report.replayed} logged inputs differs from the stored snapshot:`);
    for (const difference of report.differences) print(`  - ${difference}`);
    return 1;
  },

  async 'dead-letters'(system) {
    const letters = await system.store.listDeadLetters();
    if (letters.length === 0) print('no dead letters');
    else print(table(['id', 'at', 'code', 'type', 'topic', 'saga', 'reason'], letters.map((l) => [String(l.id ?? ''), iso(l.at), l.code, l.type ?? '-', l.topic ?? '-', l.sagaId ?? '-', l.reason])));
    return 0;
  },
};

/**
 * `npm run saga -- <command>`: inspects sagas in the database of DATABASE_URL without
 * consuming any message. Resolves to the process exit code.
 *
 * @example
 * process.exitCode = await run(['show', 'c0ffee00-...']);
 */
async function run(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    console.error(name === undefined || name === 'help' || name === '--help' ? USAGE : `unknown command "${name}"\n\n${USAGE}`);
    return 1;
  }
  let system: System;
  let database = 'from DATABASE_URL';
  try {
    const config = loadConfig();
    database = redact(config.databaseUrl);
    system = await createSystem(config, { listen: false });
  } catch (error) {
    console.error(`error: cannot open the database ${database}: ${(error as Error).message}`);
    return 1;
  }
  try {
    return await command(system, args);
  } catch (error) {
    if (error instanceof UsageError) console.error(`error: ${error.message}\n\n${USAGE}`);
    else if (error instanceof SagaError) console.error(`error: ${error.message}`);
    else console.error(error);
    return 1;
  } finally {
    await system.close();
  }
}

function required(value: string | undefined, usage: string): string {
  if (!value) throw new UsageError(`missing argument: ${usage}`);
  return value;
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Left-aligned columns, two spaces apart. */
function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

process.exitCode = await run(process.argv.slice(2));

import os from 'node:os';
import { redact } from '../db/connect.ts';
import { DeadLetters } from '../runtime/dead-letters.ts';
import { SagaError } from '../runtime/errors.ts';
import { findStuck } from '../runtime/stuck.ts';
import { SagaRegistry } from '../runtime/registry.ts';
import { checkUpgrade } from '../runtime/upgrade.ts';
import { DEAD_LETTER_STATUSES, SAGA_STATUSES, type DeadLetterStatus, type SagaStatus } from '../runtime/ports.ts';
import { loadConfig } from './config.ts';
import { findSaga, sagaDetail } from './saga-view.ts';
import { createSystem, type System } from './system.ts';

const USAGE = `usage: npm run saga -- <command>

  show <id>          state, context, log and pending deadlines of one saga
  list [status]      newest sagas first; status: ${SAGA_STATUSES.join(' | ')}
  verify <id>        rebuild the saga from its log and compare with the stored snapshot (exit 1 on a difference)
  dead-letters [list] [status]     what was refused for good, newest first; status: ${DEAD_LETTER_STATUSES.join(' | ')}
  dead-letters show <id>           one dead letter, with its payload
  dead-letters replay <id>         put it back on its normal path (after a fix); recorded on the letter
  dead-letters discard <id> [why]  give it up for good; recorded on the letter
  replicas           the service processes sharing this database, their leases and unpublished outbox rows
  check-upgrade [--to <version>]
                     how every saga in flight would continue on the registered machines (only
                     <version> of each type with --to): resume, migrate or fail; exit 1 if any would fail
  stuck              the sagas nothing can move, each with why (SAGA_STUCK_OVERDUE_MS, SAGA_STUCK_IDLE_MS)
  repair <id> <event> --reason "why" [--data '{"k":"v"}'] [--dry-run]
                     apply an operator event the saga accepts now (show lists them); --dry-run
                     prints the next state, commands and deadlines and changes nothing

Reads DATABASE_URL (default sqlite:./data/sagas.db). Starts no consumers.`;

class UsageError extends Error {}

type Command = (system: System, args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  async show(system, [id]) {
    const saga = await sagaDetail(system.store, required(id, 'show <id>'), undefined, system.runtime.registry);
    print(`saga ${saga.type}/${saga.id} (machine v${saga.version})`);
    print(`status:  ${saga.status}`);
    print(`state:   ${saga.state}`);
    print(`created: ${iso(saga.createdAt)}   updated: ${iso(saga.updatedAt)}`);
    print(`context:\n${JSON.stringify(saga.context, null, 2)}\n`);
    print(`log (${saga.log.length} entries):`);
    print(table(['seq', 'time', 'kind', 'type', 'message id'], saga.log.map((e) => [String(e.seq), iso(e.at), e.kind, e.type, e.messageId ?? '-'])));
    const repairs = saga.repairs ?? [];
    if (repairs.length) print(`\nrepairs accepted now: ${repairs.join(', ')} (npm run saga -- repair ${saga.id} <event> --reason "…")`);
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

  async 'check-upgrade'(system, args) {
    const at = args.indexOf('--to');
    const to = at === -1 ? undefined : Number(required(args[at + 1], '--to <version>'));
    if (to !== undefined && !Number.isInteger(to)) throw new UsageError('--to takes a machine version (a whole number)');
    const registered = system.runtime.registry;
    const definitions = registered.types().flatMap((type) => registered.versionsOf(type).map((v) => registered.get(type, v)));
    const registry = to === undefined ? registered : new SagaRegistry(definitions.filter((d) => d.version === to));
    const report = await checkUpgrade(system.store, registry, { types: registered.types() });
    if (report.rows.length === 0) print('no sagas in flight');
    else print(table(['saga type', 'version', 'resume', 'migrate', 'fail'], report.rows.map((r) => [r.sagaType, `v${r.version}`, String(r.resume), r.migrate ? `${r.migrate} (to v${r.to})` : '0', String(r.fail)])));
    for (const row of report.rows) for (const reason of row.reasons) print(`  fails: ${reason}`);
    print(report.ok ? 'ok: every saga in flight can continue' : 'NOT SAFE: some sagas in flight could not continue on these machines');
    return report.ok ? 0 : 1;
  },

  async stuck(system) {
    const { stuckOverdueMs, stuckIdleMs } = system.config;
    const stuck = await findStuck(system.store, system.runtime.registry, { overdueMs: stuckOverdueMs, idleMs: stuckIdleMs });
    if (stuck.length === 0) print('no stuck sagas');
    else print(table(['id', 'type', 'v', 'status', 'state', 'updated', 'why'], stuck.map((s) => [s.id, s.sagaType, String(s.version), s.status, s.state, iso(s.updatedAt), s.reasons.join('; ')])));
    return 0;
  },

  async repair(system, args) {
    const [id, event] = args.filter((a, i) => !a.startsWith('--') && !['--reason', '--data'].includes(args[i - 1] ?? ''));
    const option = (name: string) => {
      const at = args.indexOf(name);
      return at === -1 ? undefined : required(args[at + 1], `${name} <value>`);
    };
    const reason = option('--reason');
    if (!reason) throw new UsageError('repair needs --reason "why"');
    let data: Record<string, unknown> | undefined;
    const rawData = option('--data');
    if (rawData !== undefined) {
      try {
        data = JSON.parse(rawData);
      } catch {
        throw new UsageError('--data must be a JSON object');
      }
      if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError('--data must be a JSON object');
    }
    const record = await findSaga(system.store, required(id, 'repair <id> <event>'));
    const dryRun = args.includes('--dry-run');
    const preview = await system.runtime.repair(record.sagaType, record.id, { type: required(event, 'repair <id> <event>'), ...(data ? { data } : {}) }, { reason, by: `cli ${os.userInfo().username}`, dryRun });
    print(`${dryRun ? 'would repair' : 'repaired'} ${record.sagaType}/${record.id} with ${preview.event.type}: ${preview.from.state} (${preview.from.status}) -> ${preview.to.state} (${preview.to.status})`);
    print(preview.commands.length ? table(['command', 'topic'], preview.commands.map((c) => [c.type, c.topic])) : 'commands: none');
    if (preview.deadlines.length) print(table(['deadline', 'in'], preview.deadlines.map((d) => [d.event, `${(d.delayMs / 1000).toFixed(1)} s`])));
    if (dryRun) print('(dry run: nothing was written)');
    return 0;
  },

  async replicas(system) {
    const replicas = await system.store.listReplicas();
    if (replicas.length === 0) {
      print('no replicas (no service process has used this database since migration 0007)');
      return 0;
    }
    const pending = await system.store.unpublishedByOwner();
    const now = Date.now();
    const state = (expiresAt: number) => (expiresAt === 0 ? 'stopped' : expiresAt >= now ? 'live' : 'expired (adopted at the next renewal of a live replica)');
    print(
      table(
        ['service', 'replica', 'host', 'pid', 'started', 'lease', 'unpublished rows'],
        replicas.map((r) => [r.service, r.id, r.host, String(r.pid), iso(r.startedAt), state(r.expiresAt), String(pending.get(r.id) ?? 0)]),
      ),
    );
    const unowned = pending.get(null) ?? 0;
    if (unowned > 0) print(`\n${unowned} unpublished rows belong to no replica: the next relay of their service claims them`);
    return 0;
  },

  async 'dead-letters'(system, [action = 'list', ...rest]) {
    const letters = new DeadLetters(system.store);
    const by = `cli ${os.userInfo().username}`;
    if (action === 'list' || (DEAD_LETTER_STATUSES as readonly string[]).includes(action)) {
      const status = action === 'list' ? rest[0] : action;
      if (status !== undefined && !(DEAD_LETTER_STATUSES as readonly string[]).includes(status)) {
        throw new UsageError(`unknown dead letter status "${status}"; use one of ${DEAD_LETTER_STATUSES.join(', ')}`);
      }
      const found = await letters.list({ status: status as DeadLetterStatus | undefined });
      if (found.length === 0) print(status ? `no ${status} dead letters` : 'no dead letters');
      else print(table(['id', 'at', 'status', 'source', 'consumer', 'code', 'type', 'topic', 'saga', 'reason'], found.map((l) => [String(l.id ?? ''), iso(l.at), l.status ?? 'open', l.source ?? 'message', l.consumer ?? '-', l.code, l.type ?? '-', l.topic ?? '-', l.sagaId ?? '-', l.reason])));
      return 0;
    }
    const id = Number(required(rest[0], `dead-letters ${action} <id>`));
    if (action === 'show') {
      print(JSON.stringify(await letters.get(id), null, 2));
      return 0;
    }
    if (action === 'replay') {
      const { action: what } = await letters.replay(id, by);
      print(`replayed dead letter ${id}: ${what}`);
      return 0;
    }
    if (action === 'discard') {
      await letters.discard(id, by, rest.slice(1).join(' ') || undefined);
      print(`discarded dead letter ${id}`);
      return 0;
    }
    throw new UsageError(`unknown dead-letters action "${action}"; use list, show, replay or discard`);
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

import { setTimeout as sleep } from 'node:timers/promises';
import { DEAD_LETTER_STATUSES, SAGA_STATUSES, type PruneOptions, type PruneReport } from '../runtime/ports.ts';
import { chunks, type Sql } from './sql.ts';

/** A table pruned by age alone: rows whose `column` (epoch ms) is older than the horizon. */
export interface AgedTable {
  table: string;
  column: string;
}

/**
 * Tables that other parts of the system own, pruned by age once they exist (a table that
 * does not exist is skipped): add one line per table. The column holds epoch ms and
 * should be indexed, since every chunk selects by it.
 */
export const AGED_TABLES: readonly AgedTable[] = [{ table: 'idempotency_keys', column: 'created_at' }];

/** Statuses of sagas that ended: their instances, logs and deadlines may go once old. */
const ENDED = SAGA_STATUSES.filter((s) => s !== 'running');
/** Dead letters an operator resolved: open ones are kept whatever their age. */
const RESOLVED = DEAD_LETTER_STATUSES.filter((s) => s !== 'open');

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Runs `work` in one short transaction (queued with the process's other writers on SQLite). */
export type InTransaction = <T>(work: (sql: Sql) => Promise<T>) => Promise<T>;

/**
 * The deletes of a retention pass, in chunks of at most `chunkSize` rows per statement,
 * each chunk its own short transaction, with a pause between chunks so the message path
 * is never kept waiting for long. Portable: SQLite has no `DELETE … LIMIT`, so a chunk
 * is a rowid subquery there, or a SELECT of keys and a DELETE by those keys.
 *
 * @example
 * const report = await new Pruner((work) => store.exclusive(work)).prune(Date.now() - 30 * 86_400_000);
 * // report.deleted: { outbox: 1200, processed_messages: 3400, saga_instances: 90, … }
 */
export class Pruner {
  constructor(
    private readonly inTransaction: InTransaction,
    private readonly agedTables: readonly AgedTable[] = AGED_TABLES,
  ) {}

  async prune(before: number, options: PruneOptions = {}): Promise<PruneReport> {
    const pass = new Pass(this.inTransaction, before, options);
    const done =
      (await pass.outbox()) &&
      (await pass.processedMessages()) &&
      (await pass.endedSagas()) &&
      (await pass.deadLetters()) &&
      (await pass.agedTables(this.agedTables));
    return { deleted: pass.deleted, statements: pass.statements, complete: done };
  }
}

/** One retention pass: its horizon, settings and running counts. Each step resolves false when the pass was aborted. */
class Pass {
  readonly deleted: Record<string, number> = { outbox: 0, processed_messages: 0, saga_instances: 0, saga_log: 0, deadlines: 0, dead_letters: 0 };
  statements = 0;
  private readonly chunk: number;
  private readonly pauseMs: number;
  private started = false;

  constructor(
    private readonly inTransaction: InTransaction,
    private readonly before: number,
    private readonly options: PruneOptions,
  ) {
    this.chunk = Math.max(1, Math.floor(options.chunkSize ?? 500));
    this.pauseMs = options.pauseMs ?? 50;
  }

  /** Sent outbox rows: a row not sent yet stays whatever its age. */
  outbox(): Promise<boolean> {
    return this.byAge('outbox', (sql) => `sent_at IS NOT NULL AND sent_at < ${sql.escape(this.before)}`);
  }

  /**
   * Processed message ids, except those of a running saga (consumer `<sagaType>/<sagaId>`),
   * which dedupe still needs whatever their age. Walks the old ids in key order from a
   * cursor, so ids it keeps are never read twice.
   */
  async processedMessages(): Promise<boolean> {
    let cursor: { at: unknown; consumer: string; messageId: string } | null = null;
    for (;;) {
      if (!(await this.next())) return false;
      const found: number = await this.inTransaction(async (sql) => {
        const after = cursor
          ? ` AND (processed_at > ${sql.escape(cursor.at)} OR (processed_at = ${sql.escape(cursor.at)} AND (consumer > ${sql.escape(cursor.consumer)} OR (consumer = ${sql.escape(cursor.consumer)} AND message_id > ${sql.escape(cursor.messageId)}))))`
          : '';
        const rows = await sql.select<{ consumer: string; message_id: string; processed_at: unknown }>(
          `SELECT consumer, message_id, processed_at FROM processed_messages WHERE processed_at < ${sql.escape(this.before)}${after} ORDER BY processed_at, consumer, message_id LIMIT ${this.chunk}`,
        );
        if (rows.length === 0) return 0;
        const last = rows[rows.length - 1];
        cursor = { at: last.processed_at, consumer: last.consumer, messageId: last.message_id };
        const running = await this.runningConsumers(sql, rows.map((r) => r.consumer));
        const gone = rows.filter((r) => !running.has(r.consumer)).map((r) => [r.consumer, r.message_id]);
        for (const part of chunks(gone)) {
          this.deleted.processed_messages += await this.remove(sql, `DELETE FROM processed_messages WHERE (${sql.anyOf(['consumer', 'message_id'], part)}) AND processed_at < ${sql.escape(this.before)}`);
        }
        return rows.length;
      });
      if (found < this.chunk) return true;
    }
  }

  /**
   * Sagas that ended before the horizon (status not running, last change older), with
   * their log and deadlines, in one transaction per chunk: the instances are read locked
   * (MySQL), so nothing changes them between the read and the deletes. A chunk takes as
   * many sagas as their logs fit in `chunkSize` rows (at least one; a longer log is
   * deleted in ranges of `chunkSize` entries).
   */
  async endedSagas(): Promise<boolean> {
    for (;;) {
      if (!(await this.next())) return false;
      const more: boolean = await this.inTransaction(async (sql) => {
        const rows = await sql.select<{ saga_type: string; id: string; log_seq: unknown }>(
          `SELECT saga_type, id, log_seq FROM saga_instances WHERE status IN (${ENDED.map((s) => sql.escape(s)).join(', ')}) AND updated_at < ${sql.escape(this.before)} LIMIT ${this.chunk}${sql.forUpdate}`,
        );
        if (rows.length === 0) return false;
        const picked: { saga_type: string; id: string; log_seq: unknown }[] = [];
        let entries = 0;
        for (const row of rows) {
          const n = Number(row.log_seq);
          if (picked.length > 0 && entries + n > this.chunk) break;
          picked.push(row);
          entries += n;
        }
        const keys = picked.map((r) => [r.saga_type, r.id]);
        if (picked.length === 1 && entries > this.chunk) {
          const [{ saga_type, id }] = picked;
          for (let from = 0; from < entries; from += this.chunk) {
            this.deleted.saga_log += await this.remove(
              sql,
              `DELETE FROM saga_log WHERE saga_type = ${sql.escape(saga_type)} AND saga_id = ${sql.escape(id)} AND seq > ${from} AND seq <= ${from + this.chunk}`,
            );
          }
        }
        for (const part of chunks(keys)) {
          this.deleted.saga_log += await this.remove(sql, `DELETE FROM saga_log WHERE ${sql.anyOf(['saga_type', 'saga_id'], part)}`);
          this.deleted.deadlines += await this.remove(sql, `DELETE FROM deadlines WHERE ${sql.anyOf(['saga_type', 'saga_id'], part)}`);
          this.deleted.saga_instances += await this.remove(sql, `DELETE FROM saga_instances WHERE ${sql.anyOf(['saga_type', 'id'], part)}`);
        }
        return rows.length === this.chunk || picked.length < rows.length;
      });
      if (!more) return true;
    }
  }

  /** Dead letters an operator replayed or discarded before the horizon; open ones stay. */
  deadLetters(): Promise<boolean> {
    return this.byAge('dead_letters', (sql) => `status IN (${RESOLVED.map((s) => sql.escape(s)).join(', ')}) AND resolved_at IS NOT NULL AND resolved_at < ${sql.escape(this.before)}`);
  }

  /** Each table of `tables` that exists, by its time column. */
  async agedTables(tables: readonly AgedTable[]): Promise<boolean> {
    for (const { table, column } of tables) {
      if (!NAME.test(table) || !NAME.test(column)) throw new Error(`retention: "${table}.${column}" is not a plain table and column name`);
      if (!(await this.inTransaction((sql) => tableExists(sql, table)))) continue;
      this.deleted[table] = 0;
      if (!(await this.byAge(table, (sql) => `${column} < ${sql.escape(this.before)}`))) return false;
    }
    return true;
  }

  /** Deletes the rows of `table` that `where` matches, `chunk` rows per statement, until none is left. */
  private async byAge(table: string, where: (sql: Sql) => string): Promise<boolean> {
    for (;;) {
      if (!(await this.next())) return false;
      const n = await this.inTransaction((sql) => {
        const condition = where(sql);
        // SQLite has no DELETE … LIMIT (unless compiled with it): pick the rowids first.
        const statement = sql.mysql
          ? `DELETE FROM ${table} WHERE ${condition} LIMIT ${this.chunk}`
          : `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${condition} LIMIT ${this.chunk})`;
        return this.remove(sql, statement);
      });
      this.deleted[table] = (this.deleted[table] ?? 0) + n;
      if (n < this.chunk) return true;
    }
  }

  /** Which of these consumers are a running saga's (`<sagaType>/<sagaId>`). */
  private async runningConsumers(sql: Sql, consumers: string[]): Promise<Set<string>> {
    const keys = new Map<string, [string, string]>();
    for (const consumer of new Set(consumers)) {
      const slash = consumer.indexOf('/');
      if (slash > 0) keys.set(consumer, [consumer.slice(0, slash), consumer.slice(slash + 1)]);
    }
    const found = new Set<string>();
    for (const part of chunks([...keys.values()])) {
      const rows = await sql.select<{ saga_type: string; id: string }>(`SELECT saga_type, id FROM saga_instances WHERE status = 'running' AND (${sql.anyOf(['saga_type', 'id'], part)})`);
      for (const r of rows) found.add(`${r.saga_type}/${r.id}`.toLowerCase());
    }
    // Matched without case, as a case-insensitive collation matches: when in doubt, keep.
    return new Set([...keys.keys()].filter((consumer) => found.has(consumer.toLowerCase())));
  }

  private async remove(sql: Sql, statement: string): Promise<number> {
    this.statements++;
    return sql.change(statement);
  }

  /** Before each chunk: the pause after the previous one, then whether to go on. */
  private async next(): Promise<boolean> {
    if (this.started && this.pauseMs > 0 && !this.options.signal?.aborted) await sleep(this.pauseMs);
    this.started = true;
    return !this.options.signal?.aborted;
  }
}

async function tableExists(sql: Sql, table: string): Promise<boolean> {
  const [row] = await sql.select<{ n: number | string }>(
    sql.mysql
      ? `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${sql.escape(table)}`
      : `SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ${sql.escape(table)}`,
  );
  return Number(row?.n) > 0;
}

import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { ConcurrencyError } from '../runtime/errors.ts';
import { isUniqueViolation, translate } from './driver-errors.ts';

/** Most rows in one INSERT, and most keys in one `anyOf` (SQLite parses an OR chain as a tree ~1000 deep at most). */
const MAX_ROWS = 200;
/** Bytes of SQL after which an INSERT of many rows is split (MySQL's max_allowed_packet is 16 MiB or more). */
const MAX_SQL = 1 << 20;

export interface InsertOptions {
  /** On a duplicate key, overwrite these columns with the new row's values (an upsert on `key`). */
  upsert?: { key: readonly string[]; columns: readonly string[] };
}

/**
 * Plain SQL through Sequelize, for the hot path: no model building, validation or cloning,
 * and one statement for many rows. Values are escaped into the text by Sequelize's
 * escaping (as its replacements do); every statement still goes through `sequelize.query`,
 * so logging, hooks and error types are Sequelize's. The SQL is the subset SQLite and
 * MySQL/MariaDB share; the one place they differ (upserts) is here.
 *
 * Table names are written unquoted on purpose: Sequelize's SQLite dialect runs an extra
 * `PRAGMA table_info` for every SELECT whose table is quoted with backticks.
 *
 * @example
 * const sql = new Sql(sequelize, transaction);
 * await sql.insert('outbox', ['message_id', 'payload'], [['m-1', '{}'], ['m-2', '{}']]);
 * const rows = await sql.select<{ id: string }>(`SELECT id FROM saga_instances WHERE ${sql.anyOf(['saga_type', 'id'], [['reserva', 'a']])}`);
 */
export class Sql {
  readonly mysql: boolean;

  constructor(
    readonly sequelize: Sequelize,
    readonly transaction?: Transaction,
    /** A MySQL transaction run on one connection by the store itself (see `MysqlSession`). */
    readonly session?: MysqlSession,
  ) {
    this.mysql = sequelize.getDialect() === 'mysql';
  }

  /** ` FOR UPDATE` on MySQL; nothing on SQLite, where a transaction that read stale rows cannot commit writes anyway. */
  get forUpdate(): string {
    return this.mysql ? ' FOR UPDATE' : '';
  }

  escape(value: unknown): string {
    return this.sequelize.escape(value as string);
  }

  select<T extends object>(sql: string): Promise<T[]> {
    if (this.session) return this.rawQuery(sql, 1) as Promise<T[]>;
    return typed(this.sequelize.query<T>(sql, { type: QueryTypes.SELECT, transaction: this.transaction, raw: true }));
  }

  /** Runs an UPDATE or DELETE; resolves with the number of rows it matched (mysql2 connects with FOUND_ROWS). */
  async change(sql: string): Promise<number> {
    if (this.session) return Number(((await this.rawQuery(sql, 1)) as { affectedRows?: number }).affectedRows ?? 0);
    const type = /^\s*delete/i.test(sql) ? QueryTypes.BULKDELETE : QueryTypes.BULKUPDATE;
    return Number(await typed(this.sequelize.query(sql, { type, transaction: this.transaction })));
  }

  /** Inserts `rows` (values in the order of `columns`) in as few statements as the size limits allow, in order. */
  async insert(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[], options: InsertOptions = {}): Promise<void> {
    for (const sql of this.insertStatements(table, columns, rows, options)) await this.insert0(sql);
  }

  /** Runs one INSERT statement. */
  async insert0(sql: string): Promise<void> {
    if (this.session) return void (await this.rawQuery(sql, 1));
    await typed(this.sequelize.query(sql, { type: QueryTypes.INSERT, transaction: this.transaction }));
  }

  /** The INSERT statements of `insert`, not run. */
  insertStatements(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[], options: InsertOptions = {}): string[] {
    const head = `INSERT INTO ${table} (${columns.join(', ')}) VALUES `;
    const tail = options.upsert ? this.upsertClause(options.upsert.key, options.upsert.columns) : '';
    const statements: string[] = [];
    let values: string[] = [];
    let size = 0;
    for (const row of rows) {
      const tuple = `(${row.map((v) => this.escape(v)).join(', ')})`;
      if (values.length >= MAX_ROWS || (size > 0 && size + tuple.length > MAX_SQL)) {
        statements.push(head + values.join(', ') + tail);
        values = [];
        size = 0;
      }
      values.push(tuple);
      size += tuple.length;
    }
    if (values.length > 0) statements.push(head + values.join(', ') + tail);
    return statements;
  }

  /**
   * Statements to run together, in order: on MySQL/MariaDB in one round trip (one
   * multi-statement query on the transaction's connection), on SQLite one after the other.
   */
  batch(): StatementBatch {
    return new StatementBatch(this);
  }

  /**
   * Runs several SELECTs; resolves with the rows of each, in order. On MySQL/MariaDB they go
   * in one round trip on the transaction's connection.
   */
  async selectAll<T extends object>(statements: readonly string[]): Promise<T[][]> {
    if (statements.length === 0) return [];
    if (!this.raw() || statements.length === 1) {
      const results: T[][] = [];
      for (const q of statements) results.push(await this.select<T>(q));
      return results;
    }
    return (await this.rawQuery(statements.join(';\n'), statements.length)) as T[][];
  }

  /**
   * Sends `text` (`statements` statements) on the transaction's own connection; resolves with
   * the driver's result (an array of them for several statements). In a `MysqlSession` the
   * first call also starts the transaction, in the same round trip.
   */
  async rawQuery(text: string, statements: number): Promise<unknown> {
    const connection = this.raw()!;
    const begin = this.session !== undefined && !this.session.begun;
    if (begin) this.session!.begun = true;
    const sent = begin ? `START TRANSACTION;\n${text}` : text;
    const started = performance.now();
    const results = await new Promise<unknown>((resolve, reject) => {
      connection.query(sent, (error, results) => (error ? reject(translate(error)) : resolve(results)));
    });
    this.logged(sent, performance.now() - started);
    if (!begin) return results;
    const rest = (results as unknown[]).slice(1);
    return statements === 1 ? rest[0] : rest;
  }

  /** Sequelize's `logging` (with `benchmark`), told of each statement sent outside `sequelize.query`, as Sequelize would. */
  private logged(text: string, ms: number): void {
    const options = (this.sequelize as unknown as { options: { logging?: unknown; benchmark?: boolean } }).options;
    if (typeof options.logging !== 'function') return;
    const statements = text.split(';\n');
    for (const statement of statements) (options.logging as (message: string, ms: number) => void)(`Executed (raw): ${statement}`, ms / statements.length);
  }

  /** The transaction's mysql2 connection when statements may be sent together (MySQL in a transaction). */
  raw(): RawConnection | null {
    if (this.session) return this.session.connection;
    if (!this.mysql || !this.transaction) return null;
    const connection = (this.transaction as unknown as { connection?: RawConnection }).connection;
    return connection && typeof connection.query === 'function' && connection.config?.multipleStatements ? connection : null;
  }

  /** `(a = 1 AND b = 2)`: the row whose `columns` hold `values`. */
  match(columns: readonly string[], values: readonly unknown[]): string {
    return `(${columns.map((c, i) => `${c} = ${this.escape(values[i])}`).join(' AND ')})`;
  }

  /**
   * Rows matching any of `keys` (values of `columns`; at most `MAX_ROWS` of them, see
   * `chunks`), with the keys that share all but the last column grouped into one IN:
   * `(saga_type = 'reserva' AND id IN ('a', 'b'))`. Both dialects then search the primary
   * key; SQLite's planner may scan a whole key prefix for an OR of equal-prefix terms.
   */
  anyOf(columns: readonly string[], keys: readonly (readonly unknown[])[]): string {
    if (keys.length === 0) return '1 = 0';
    const prefix = columns.slice(0, -1);
    const groups = new Map<string, string[]>();
    for (const key of keys) {
      const where = prefix.map((c, i) => `${c} = ${this.escape(key[i])} AND `).join('');
      let last = groups.get(where);
      if (!last) groups.set(where, (last = []));
      last.push(this.escape(key[prefix.length]));
    }
    return [...groups].map(([where, last]) => `(${where}${columns[prefix.length]} IN (${last.join(', ')}))`).join(' OR ');
  }

  private upsertClause(key: readonly string[], columns: readonly string[]): string {
    if (this.mysql) return ` ON DUPLICATE KEY UPDATE ${columns.map((c) => `${c} = VALUES(${c})`).join(', ')}`;
    return ` ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(', ')}`;
  }
}

/**
 * A MySQL/MariaDB transaction the store runs itself on one pooled connection, so that its
 * START TRANSACTION travels with its first statement and its COMMIT with its last writes:
 * a message's transaction costs two round trips (reads, writes) instead of four or more.
 */
export class MysqlSession {
  /** START TRANSACTION was sent (with the first statement). */
  begun = false;
  /** COMMIT was sent (with the last writes, or alone). */
  committed = false;

  constructor(readonly connection: RawConnection) {}
}

/** The part of a mysql2 (callback API) connection that `rawQuery` uses. */
export interface RawConnection {
  query(sql: string, callback: (error: Error | null, results: unknown) => void): unknown;
  config?: { multipleStatements?: boolean };
}

interface Queued {
  sql: string;
  /** Called with the rows the statement changed (matched, for an UPDATE whose values differ). */
  check?: (rows: number) => void;
  /** What a unique violation of this statement means (SQLite, or MySQL when the statement runs alone). */
  onDuplicate?: () => Error;
  /** Sent in a round trip of its own, so that its unique violation is told apart from the others'. */
  alone?: boolean;
}

/**
 * Writes gathered and sent together: the writes a unit of work holds back, at commit. On
 * MySQL/MariaDB the whole batch is one multi-statement query, so a transaction's writes
 * cost one round trip whatever their number; the server stops at the first statement that
 * fails. A unique violation there is a `ConcurrencyError` (which statement hit it is not
 * known): the transaction is retried and its reads then see the row that got in first.
 *
 * @example
 * const batch = sql.batch();
 * batch.insert('saga_log', LOG_COLUMNS, rows);
 * batch.change('UPDATE saga_instances SET ... WHERE ... AND row_version = 3', (n) => { if (n !== 1) throw new ConcurrencyError('...'); });
 * await batch.run();
 */
export class StatementBatch {
  private readonly queued: Queued[] = [];

  constructor(private readonly sql: Sql) {}

  get size(): number {
    return this.queued.length;
  }

  insert(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[], options: InsertOptions & { onDuplicate?: () => Error; alone?: boolean } = {}): this {
    for (const sql of this.sql.insertStatements(table, columns, rows, options)) this.queued.push({ sql, onDuplicate: options.onDuplicate, alone: options.alone });
    return this;
  }

  /** An UPDATE or DELETE; `check` sees how many rows it changed. */
  change(sql: string, check?: (rows: number) => void): this {
    this.queued.push({ sql, check });
    return this;
  }

  /**
   * Runs the statements. `commit`: also ends the store's own transaction (`MysqlSession`):
   * its COMMIT goes in the same round trip unless a statement has a check to pass first.
   */
  async run(options: { commit?: boolean } = {}): Promise<void> {
    const queued = this.queued.splice(0);
    const session = options.commit ? this.sql.session : undefined;
    if (session && queued.length === 0 && !session.begun) return; // nothing read or written: nothing to commit
    if (session && !queued.some((q) => q.check)) {
      queued.push({ sql: 'COMMIT' });
      session.committed = true;
    }
    await this.send(queued);
    if (session && !session.committed && session.begun) {
      await this.sql.rawQuery('COMMIT', 1);
      session.committed = true;
    }
  }

  private async send(queued: Queued[]): Promise<void> {
    if (queued.length === 0) return;
    const alone = this.sql.raw() ? queued.findIndex((q) => q.alone) : -1;
    if (alone >= 0) {
      await this.send(queued.slice(0, alone));
      await this.one(queued[alone]);
      return this.send(queued.slice(alone + 1));
    }
    if (!this.sql.raw()) {
      for (const q of queued) await this.one(q);
      return;
    }
    if (queued.length === 1) return this.one(queued[0]);
    let results: unknown;
    try {
      results = await this.sql.rawQuery(queued.map((q) => q.sql).join(';\n'), queued.length);
    } catch (error) {
      if (isDuplicateEntry(error)) throw new ConcurrencyError(`a row this transaction writes was written concurrently: ${(error as Error).message}`, { cause: error });
      throw error;
    }
    const headers = Array.isArray(results) ? results : [results];
    queued.forEach((q, i) => q.check?.(Number((headers[i] as { affectedRows?: number })?.affectedRows ?? 0)));
  }

  /** One statement in a round trip of its own: its unique violation is its own error. */
  private async one(q: Queued): Promise<void> {
    try {
      const rows = /^\s*insert/i.test(q.sql) ? (await this.sql.insert0(q.sql), 0) : await this.sql.change(q.sql);
      q.check?.(rows);
    } catch (error) {
      if (q.onDuplicate && (isUniqueViolation(error) || isDuplicateEntry(error))) throw q.onDuplicate();
      throw error;
    }
  }
}

function isDuplicateEntry(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown; parent?: unknown } | undefined, depth = 0; e && depth < 4; depth++) {
    if (e.code === 'ER_DUP_ENTRY') return true;
    e = (e.cause ?? e.parent) as typeof e;
  }
  return false;
}

/** A query whose driver errors are the runtime's typed errors (unavailable, conflict, refused data). */
function typed<T>(query: Promise<T>): Promise<T> {
  return query.catch((error: unknown) => {
    throw translate(error);
  });
}

/**
 * `items` in slices of at most `MAX_ROWS` items (e.g. for `anyOf` lists), and of at most
 * `MAX_SQL` bytes by `size` when given (e.g. the JSON an UPDATE carries per row).
 */
export function chunks<T>(items: readonly T[], size?: (item: T) => number): T[][] {
  const out: T[][] = [];
  let part: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size?.(item) ?? 0;
    if (part.length >= MAX_ROWS || (part.length > 0 && bytes + n > MAX_SQL)) {
      out.push(part);
      part = [];
      bytes = 0;
    }
    part.push(item);
    bytes += n;
  }
  if (part.length > 0) out.push(part);
  return out;
}

import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { translate } from './driver-errors.ts';

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
    return typed(this.sequelize.query<T>(sql, { type: QueryTypes.SELECT, transaction: this.transaction, raw: true }));
  }

  /** Runs an UPDATE or DELETE; resolves with the number of rows it matched (mysql2 connects with FOUND_ROWS). */
  async change(sql: string): Promise<number> {
    const type = /^\s*delete/i.test(sql) ? QueryTypes.BULKDELETE : QueryTypes.BULKUPDATE;
    return Number(await typed(this.sequelize.query(sql, { type, transaction: this.transaction })));
  }

  /** Inserts `rows` (values in the order of `columns`) in as few statements as the size limits allow, in order. */
  async insert(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[], options: InsertOptions = {}): Promise<void> {
    const head = `INSERT INTO ${table} (${columns.join(', ')}) VALUES `;
    const tail = options.upsert ? this.upsertClause(options.upsert.key, options.upsert.columns) : '';
    let values: string[] = [];
    let size = 0;
    const flush = async () => {
      if (values.length === 0) return;
      const sql = head + values.join(', ') + tail;
      values = [];
      size = 0;
      await typed(this.sequelize.query(sql, { type: QueryTypes.INSERT, transaction: this.transaction }));
    };
    for (const row of rows) {
      const tuple = `(${row.map((v) => this.escape(v)).join(', ')})`;
      if (values.length >= MAX_ROWS || (size > 0 && size + tuple.length > MAX_SQL)) await flush();
      values.push(tuple);
      size += tuple.length;
    }
    await flush();
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

import { ConcurrencyError } from '../runtime/errors.ts';
import { chunks, type Sql, type StatementBatch } from './sql.ts';

/** A table whose rows are read and written whole, by a one-column primary key. */
export interface TableSpec<R extends object> {
  name: string;
  key: keyof R & string;
  columns: readonly (keyof R & string)[];
}

interface Entry<R> {
  row: R | null;
  /** Whether the row is in the database, so writing it is an update (else an insert). */
  stored: boolean;
  dirty: boolean;
}

/**
 * The rows of one table that a unit of work reads and changes, by primary key: read (and
 * on MySQL locked) for a whole batch in one statement, changed in memory, and written back
 * at commit as one INSERT for the new rows and one upsert for the changed ones.
 *
 * @example
 * const reservas = uow.rows(RESERVAS);
 * await reservas.prefetch(messages.map((m) => m.data.id_reserva));
 * const existing = await reservas.get('R-1');
 * if (existing) reservas.put({ ...existing, estado: 'aprobada' });
 */
export class TableRows<R extends object> {
  private readonly entries = new Map<string, Entry<R>>();

  constructor(
    private readonly sql: Sql,
    readonly spec: TableSpec<R>,
  ) {}

  /** Reads the rows of `keys` not read yet, in one statement per `MAX_ROWS` keys. */
  async prefetch(keys: readonly string[]): Promise<void> {
    const { sql, spec } = this;
    const wanted = [...new Set(keys)].filter((k) => !this.entries.has(k));
    for (const part of chunks(wanted)) {
      const rows = await sql.select<R>(`SELECT ${spec.columns.join(', ')} FROM ${spec.name} WHERE ${spec.key} IN (${part.map((k) => sql.escape(k)).join(', ')})${sql.forUpdate}`);
      for (const row of rows) if (!this.entries.has(this.keyOf(row))) this.entries.set(this.keyOf(row), { row, stored: true, dirty: false });
      // A key that a MySQL collation matched inexactly stays unknown: `get` reads it alone.
      if (rows.every((row) => part.includes(this.keyOf(row)))) for (const k of part) if (!this.entries.has(k)) this.entries.set(k, { row: null, stored: false, dirty: false });
    }
  }

  /** The row as this transaction sees it, or null. */
  async get(key: string): Promise<R | null> {
    let entry = this.entries.get(key);
    if (!entry) {
      const { sql, spec } = this;
      const [row] = await sql.select<R>(`SELECT ${spec.columns.join(', ')} FROM ${spec.name} WHERE ${spec.key} = ${sql.escape(key)}${sql.forUpdate}`);
      this.entries.set(key, (entry = { row: row ?? null, stored: !!row, dirty: false }));
    }
    return entry.row && { ...entry.row };
  }

  /** Sets the row of its key (inserted, or updated when it is stored); written by `flush`. */
  put(row: R): R {
    const key = this.keyOf(row);
    const entry = this.entries.get(key);
    if (entry) Object.assign(entry, { row: { ...row }, dirty: true });
    else this.entries.set(key, { row: { ...row }, stored: false, dirty: true });
    return row;
  }

  /** Writes the rows changed since the last flush. */
  async flush(): Promise<void> {
    const batch = this.sql.batch();
    this.queue(batch);
    await batch.run();
  }

  /** Queues the writes of the rows changed since the last flush or queue onto `batch` (sent with the transaction's other writes). */
  queue(batch: StatementBatch): void {
    const { spec } = this;
    const dirty = [...this.entries.values()].filter((e) => e.dirty);
    const values = (entries: Entry<R>[]) => entries.map((e) => spec.columns.map((c) => e.row![c]));
    // New rows as a plain INSERT: a row inserted concurrently is an error (and a retry), never overwritten.
    batch.insert(spec.name, spec.columns, values(dirty.filter((e) => !e.stored)), { onDuplicate: () => new ConcurrencyError(`a row of ${spec.name} was inserted concurrently`) });
    const changed = spec.columns.filter((c) => c !== spec.key);
    batch.insert(spec.name, spec.columns, values(dirty.filter((e) => e.stored)), { upsert: { key: [spec.key], columns: changed } });
    for (const e of dirty) Object.assign(e, { stored: true, dirty: false });
  }

  private keyOf(row: R): string {
    return String(row[this.spec.key]);
  }
}

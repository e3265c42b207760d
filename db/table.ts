import { DataTypes, Model, type ModelAttributeColumnOptions, type ModelStatic, type Sequelize } from 'sequelize';
import type { TableSpec } from './table-rows.ts';

/** One column: its SQL type (by dialect), whether it may be NULL, and the TypeScript type of its value (`T`). */
export interface Column<T> {
  sql: (dialect: string) => ModelAttributeColumnOptions['type'];
  nullable: boolean;
  primaryKey: boolean;
  autoIncrement: boolean;
  /** Only for the row type. */
  readonly value?: T;
}

const make = <T>(sql: Column<T>['sql']) => new ColumnBuilder<T>({ sql, nullable: false, primaryKey: false, autoIncrement: false });

class ColumnBuilder<T> implements Column<T> {
  readonly sql: Column<T>['sql'];
  readonly nullable: boolean;
  readonly primaryKey: boolean;
  readonly autoIncrement: boolean;
  declare readonly value?: T;
  constructor(c: Omit<Column<T>, 'value'>) {
    this.sql = c.sql;
    this.nullable = c.nullable;
    this.primaryKey = c.primaryKey;
    this.autoIncrement = c.autoIncrement;
  }
  /** NULL allowed. */
  orNull(): ColumnBuilder<T | null> {
    return new ColumnBuilder<T | null>({ ...this, nullable: true });
  }
  /** Part of the primary key. */
  key(): ColumnBuilder<T> {
    return new ColumnBuilder<T>({ ...this, primaryKey: true });
  }
  /** The database numbers new rows (and the row type leaves it optional for inserts made by hand). */
  serial(): ColumnBuilder<T> {
    return new ColumnBuilder<T>({ ...this, primaryKey: true, autoIncrement: true });
  }
}

/**
 * Column types, as the migrations create them.
 *
 * @example
 * defineTable('pagos_pagos', { id_reserva: column.id().key(), estado: column.string<'pagado' | 'revertido'>(32), monto: column.money() });
 */
export const column = {
  /** VARCHAR(64) by default: ids, correlation ids. */
  id: (length = 64) => make<string>(() => DataTypes.STRING(length)),
  string: <T extends string = string>(length: number) => make<T>(() => DataTypes.STRING(length)),
  text: () => make<string>(() => DataTypes.TEXT),
  /** JSON documents of any size: LONGTEXT on MySQL (TEXT stops at 64 KiB), TEXT on SQLite. */
  document: () => make<string>((dialect) => (dialect === 'mysql' ? DataTypes.TEXT('long') : DataTypes.TEXT)),
  int: () => make<number>(() => DataTypes.INTEGER),
  /** Epoch milliseconds (BIGINT; drivers may return it as a string, so read it through `Number`). */
  millis: () => make<number>(() => DataTypes.BIGINT),
  money: () => make<number>(() => DataTypes.DOUBLE),
};

/** A table's columns by name. */
export type Columns = Record<string, Column<unknown>>;

/** The row a table's columns describe. */
export type RowOf<C extends Columns> = { [K in keyof C]: C[K] extends Column<infer T> ? T : never };

/** A table described once: name, columns and their types; its column list, key, row type and Sequelize model come from it. */
export interface Table<C extends Columns> extends TableSpec<RowOf<C>> {
  readonly definition: C;
  /** The Sequelize attributes of its columns for `dialect`. */
  attributes(dialect: string): Record<string, ModelAttributeColumnOptions>;
  /** Its Sequelize model on `sequelize` (defined once per connection), for queries outside the message path. */
  model(sequelize: Sequelize): ModelStatic<Model<RowOf<C>, Partial<RowOf<C>>> & RowOf<C>>;
}

/**
 * Describes a table once. The migration that creates it stays as history; everything else
 * (the column list of multi-row INSERTs, the row type, the model, `uow.rows(TABLE)`) reads
 * this description.
 *
 * @example
 * export const PAGOS = defineTable('pagos_pagos', { id_reserva: column.id().key(), monto: column.money(), … });
 * export type PagoRow = RowOf<typeof PAGOS.definition>;
 * const pago = await PAGOS.model(sequelize).findByPk('R-1', { raw: true });
 */
export function defineTable<C extends Columns>(name: string, definition: C): Table<C> {
  const columns = Object.keys(definition) as (keyof C & string)[];
  const keys = columns.filter((c) => definition[c].primaryKey);
  const attributes = (dialect: string) =>
    Object.fromEntries(
      columns.map((c) => {
        const { sql, nullable, primaryKey, autoIncrement } = definition[c];
        return [c, { type: sql(dialect), allowNull: nullable, ...(primaryKey ? { primaryKey } : {}), ...(autoIncrement ? { autoIncrement } : {}) }];
      }),
    );
  const models = new WeakMap<Sequelize, ModelStatic<never>>();
  return {
    name,
    // Tables read by one key (participants'); a composite-key table's `key` is its first column.
    key: keys[0] ?? columns[0],
    columns,
    definition,
    attributes,
    model(sequelize) {
      let model = models.get(sequelize);
      if (!model) {
        model = sequelize.define(`${name}`, attributes(sequelize.getDialect()), { tableName: name, timestamps: false }) as never;
        models.set(sequelize, model);
      }
      return model as never;
    },
  };
}

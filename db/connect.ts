import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { Sequelize } from 'sequelize';
import sqlite3 from 'sqlite3';

/** The embedded default: a SQLite file under ./data. */
export const DEFAULT_DATABASE_URL = 'sqlite:./data/sagas.db';

export type Dialect = 'sqlite' | 'mysql';

export interface DatabaseConfig {
  dialect: Dialect;
  url: string;
  /** SQLite file, or `:memory:`. */
  storage?: string;
  database?: string;
}

/**
 * Reads a `DATABASE_URL`: `sqlite:./data/sagas.db`, `sqlite::memory:`,
 * `mysql://user:password@host:3306/db` (MySQL 8 or MariaDB; `mariadb://` is accepted too).
 */
export function parseDatabaseUrl(url: string): DatabaseConfig {
  if (url.startsWith('sqlite:')) {
    const storage = url.slice('sqlite:'.length).replace(/^\/\//, '') || ':memory:';
    return { dialect: 'sqlite', url, storage };
  }
  const parsed = new URL(url);
  if (parsed.protocol === 'mysql:' || parsed.protocol === 'mariadb:') {
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (!database) throw new Error(`DATABASE_URL ${redact(url)} names no database (e.g. mysql://root@127.0.0.1:3306/sagas)`);
    return { dialect: 'mysql', url: url.replace(/^mariadb:/, 'mysql:'), database };
  }
  throw new Error(`DATABASE_URL ${redact(url)}: unsupported scheme "${parsed.protocol}" (use sqlite: or mysql:)`);
}

/** The URL without its password, for messages and logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

// Sequelize opens one SQLite connection per transaction; give each a busy timeout so a
// writer waits for another instead of failing with SQLITE_BUSY at once.
class PatientDatabase extends sqlite3.Database {
  constructor(filename: string, mode?: number, callback?: (err: Error | null) => void) {
    super(filename, mode ?? sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, callback);
    this.configure('busyTimeout', 10_000);
  }
}
const patientSqlite = { ...sqlite3, Database: PatientDatabase };

/**
 * Opens Sequelize on a `DATABASE_URL`, creating the MySQL database or the SQLite folder
 * when missing.
 *
 * @example
 * const sequelize = await connect(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
 */
export async function connect(url: string, options: { poolMax?: number } = {}): Promise<Sequelize> {
  const config = parseDatabaseUrl(url);
  if (config.dialect === 'sqlite') {
    if (config.storage !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(config.storage!)), { recursive: true });
    const sequelize = new Sequelize({ dialect: 'sqlite', storage: config.storage, logging: false, dialectModule: patientSqlite });
    await sequelize.query('PRAGMA journal_mode=WAL');
    return sequelize;
  }
  await ensureMysqlDatabase(config);
  const sequelize = new Sequelize(config.url, {
    dialect: 'mysql',
    logging: false,
    pool: { max: options.poolMax ?? 10, min: 0, acquire: 10_000, idle: 10_000 },
    // multipleStatements: a transaction's writes go in one round trip (db/sql.ts StatementBatch);
    // values are always escaped into the text, never concatenated raw.
    dialectOptions: { supportBigNumbers: true, bigNumberStrings: false, connectTimeout: 5_000, multipleStatements: true },
    hooks: {
      // READ COMMITTED: the runtime checks versions itself (optimistic) and relies on no range
      // locks; REPEATABLE READ's gap locks on the outbox and deadline indexes only add deadlocks
      // between processes inserting and marking rows.
      afterConnect: (connection: unknown) =>
        new Promise<void>((resolve, reject) =>
          (connection as { query(sql: string, cb: (error: Error | null) => void): void }).query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', (error) => (error ? reject(error) : resolve())),
        ),
    },
  });
  await sequelize.authenticate();
  return sequelize;
}

async function ensureMysqlDatabase(config: DatabaseConfig): Promise<void> {
  const u = new URL(config.url);
  const connection = await mysql.createConnection({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    connectTimeout: 5_000,
  });
  try {
    await connection.query(`CREATE DATABASE IF NOT EXISTS \`${config.database!.replace(/`/g, '')}\` CHARACTER SET utf8mb4`);
  } finally {
    await connection.end();
  }
}

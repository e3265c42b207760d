import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import mysql from 'mysql2/promise';

/** Server of the MariaDB/MySQL tests (root, empty password by default). */
export const MYSQL_SERVER_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

export interface TestDatabase {
  name: 'sqlite' | 'mariadb';
  /** A new, empty database for one test; dropped by `cleanup`. */
  fresh(): Promise<string>;
  cleanup(): Promise<void>;
}

let counter = 0;

function sqlite(): TestDatabase {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-test-'));
  return {
    name: 'sqlite',
    async fresh() {
      return `sqlite:${path.join(dir, `t${++counter}.db`)}`;
    },
    async cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function mariadb(): TestDatabase {
  const created: string[] = [];
  const server = new URL(MYSQL_SERVER_URL);
  const admin = () =>
    mysql.createConnection({ host: server.hostname, port: Number(server.port || 3306), user: decodeURIComponent(server.username || 'root'), password: decodeURIComponent(server.password), connectTimeout: 3000 });
  return {
    name: 'mariadb',
    async fresh() {
      const name = `saga_test_${process.pid}_${++counter}`;
      const connection = await admin();
      try {
        await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await connection.end();
      }
      created.push(name);
      const base = MYSQL_SERVER_URL.replace(/\/$/, '');
      return `${base}/${name}`;
    },
    async cleanup() {
      if (created.length === 0) return;
      const connection = await admin();
      try {
        for (const name of created.splice(0)) await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await connection.end();
      }
    },
  };
}

async function mysqlAnswers(): Promise<string | null> {
  const server = new URL(MYSQL_SERVER_URL);
  try {
    const connection = await mysql.createConnection({ host: server.hostname, port: Number(server.port || 3306), user: decodeURIComponent(server.username || 'root'), password: decodeURIComponent(server.password), connectTimeout: 3000 });
    await connection.end();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Runs a suite against SQLite and against MariaDB/MySQL (`TEST_MYSQL_URL`). Without a
 * MariaDB server the MariaDB half is skipped locally and fails under `CI=true`.
 *
 * @example
 * eachDatabase((db) => { it('should ...', async () => { const url = await db.fresh(); ... }); });
 */
export function eachDatabase(suite: (db: TestDatabase) => void): void {
  for (const make of [sqlite, mariadb]) {
    const db = make();
    describe(`on ${db.name}`, function () {
      before(async function () {
        if (db.name !== 'mariadb') return;
        const problem = await mysqlAnswers();
        if (!problem) return;
        if (process.env.CI) throw new Error(`MariaDB/MySQL at ${MYSQL_SERVER_URL} is required in CI: ${problem}`);
        console.warn(`    (skipping MariaDB: ${problem}; set TEST_MYSQL_URL)`);
        this.skip();
      });
      after(() => db.cleanup());
      suite(db);
    });
  }
}

/**
 * A database of its own on the MariaDB/MySQL server, for suites that start processes on it.
 *
 * @example
 * const db = await freshMysqlDatabase('e2e'); ... await db.drop();
 */
export async function freshMysqlDatabase(label: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `saga_${label}_${process.pid}_${Date.now()}`;
  const server = new URL(MYSQL_SERVER_URL);
  const admin = () =>
    mysql.createConnection({ host: server.hostname, port: Number(server.port || 3306), user: decodeURIComponent(server.username || 'root'), password: decodeURIComponent(server.password), connectTimeout: 3000 });
  const problem = await mysqlAnswers();
  if (problem) throw new Error(`MariaDB/MySQL at ${MYSQL_SERVER_URL} is required: ${problem}`);
  return {
    url: `${MYSQL_SERVER_URL.replace(/\/$/, '')}/${name}`,
    drop: async () => {
      const connection = await admin();
      try {
        await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await connection.end();
      }
    },
  };
}

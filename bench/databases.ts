import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { redact } from '../db/connect.ts';

export type Engine = 'sqlite' | 'mariadb';

export interface BenchDatabase {
  engine: Engine;
  /** DATABASE_URL of the database the benchmark uses. */
  url: string;
  /** What it is, for the report. */
  where: string;
  /** Removes the database (file or MariaDB schema). */
  drop(): Promise<void>;
}

/** A fresh SQLite file in a new temp folder. */
export function sqliteDatabase(): BenchDatabase {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saga-bench-'));
  const file = path.join(dir, 'bench.db');
  return {
    engine: 'sqlite',
    url: `sqlite:${file}`,
    where: file,
    async drop() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function admin(serverUrl: string) {
  const server = new URL(serverUrl);
  return mysql.createConnection({
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username || 'root'),
    password: decodeURIComponent(server.password),
    connectTimeout: 3_000,
  });
}

/**
 * A fresh MariaDB/MySQL database `saga_bench_<pid>` on `serverUrl` (no database in the
 * URL), or the reason the server cannot be used.
 */
export async function mariadbDatabase(serverUrl: string): Promise<{ database: BenchDatabase; version: string } | { error: string }> {
  const name = `saga_bench_${process.pid}`;
  let version = '?';
  try {
    const connection = await admin(serverUrl);
    try {
      const [rows] = await connection.query('SELECT VERSION() AS v');
      version = String((rows as { v: string }[])[0]?.v ?? '?');
      await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
    } finally {
      await connection.end();
    }
  } catch (error) {
    return { error: `${redact(serverUrl)}: ${(error as Error).message || String(error)}` };
  }
  const base = serverUrl.replace(/\/+$/, '');
  const url = `${base}/${name}`;
  return {
    version,
    database: {
      engine: 'mariadb',
      url,
      where: redact(url),
      async drop() {
        const connection = await admin(serverUrl);
        try {
          await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
        } finally {
          await connection.end();
        }
      },
    },
  };
}

/** CPU time (ms) used so far by the local mariadbd/mysqld process, when /proc shows it. */
export function serverCpuMs(): number | null {
  try {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let comm: string;
      try {
        comm = fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      } catch {
        continue;
      }
      if (comm !== 'mariadbd' && comm !== 'mysqld') continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[11], fields[12] = utime, stime (fields 14 and 15 of proc(5)), in clock ticks (100/s).
      return (Number(fields[11]) + Number(fields[12])) * 10;
    }
  } catch {
    // no /proc
  }
  return null;
}

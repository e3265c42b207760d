import { QueryTypes, type Sequelize } from 'sequelize';
import * as sagaCore from './migrations/0001-saga-core.ts';
import * as participants from './migrations/0002-participants.ts';
import * as faultTolerance from './migrations/0003-fault-tolerance.ts';
import * as entry from './migrations/0004-entry.ts';
import * as retention from './migrations/0005-retention.ts';
import * as deadlineScan from './migrations/0006-deadline-scan.ts';
import * as replicas from './migrations/0007-replicas.ts';
import * as search from './migrations/0008-search.ts';
import * as traces from './migrations/0009-traces.ts';

/** Every migration, in order. Append new ones; never edit an applied one. */
export const MIGRATIONS = [
  { name: '0001-saga-core', up: sagaCore.up },
  { name: '0002-participants', up: participants.up },
  { name: '0003-fault-tolerance', up: faultTolerance.up },
  { name: '0004-entry', up: entry.up },
  { name: '0005-retention', up: retention.up },
  { name: '0006-deadline-scan', up: deadlineScan.up },
  { name: '0007-replicas', up: replicas.up },
  { name: '0008-search', up: search.up },
  { name: '0009-traces', up: traces.up },
];

/**
 * Applies the migrations not applied yet and records them in `schema_migrations`.
 * On MySQL, a named lock keeps processes that start together from racing.
 *
 * @example
 * const applied = await migrate(sequelize); // ['0001-saga-core', ...] on a new database
 */
export async function migrate(sequelize: Sequelize): Promise<string[]> {
  const mysql = sequelize.getDialect() === 'mysql';
  if (mysql) {
    // The lock belongs to one connection: hold one for the whole run.
    return sequelize.transaction(async (transaction) => {
      await sequelize.query("SELECT GET_LOCK('saga_runtime_migrations', 60)", { transaction });
      try {
        return await applyPending(sequelize, transaction);
      } finally {
        await sequelize.query("SELECT RELEASE_LOCK('saga_runtime_migrations')", { transaction });
      }
    });
  }
  return applyPending(sequelize);
}

async function applyPending(sequelize: Sequelize, transaction?: unknown): Promise<string[]> {
  const qi = sequelize.getQueryInterface();
  const options = transaction ? { transaction: transaction as never } : {};
  await sequelize.query(
    'CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR(191) NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)',
    options,
  );
  const rows = await sequelize.query<{ name: string }>('SELECT name FROM schema_migrations', { ...options, type: QueryTypes.SELECT });
  const done = new Set(rows.map((r) => r.name));
  const applied: string[] = [];
  for (const migration of MIGRATIONS) {
    if (done.has(migration.name)) continue;
    await migration.up(qi);
    await sequelize.query('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)', {
      ...options,
      replacements: [migration.name, Date.now()],
    });
    applied.push(migration.name);
  }
  return applied;
}

import { ConcurrencyError } from '../runtime/errors.ts';
import { isUniqueViolation } from './driver-errors.ts';
import type { SequelizeSagaStore, SequelizeUnitOfWork } from './sequelize-saga-store.ts';
import type { Sql } from './sql.ts';

/** The first answer given to one `Idempotency-Key` of one route (`scope`). */
export interface IdempotencyRecord {
  scope: string;
  key: string;
  /** Hash of the request that got the answer: the same key with another request is refused. */
  requestHash: string;
  /** The answer, as JSON data. */
  response: unknown;
  createdAt: number;
}

/** What `claimIdempotencyKey` found: the key claimed now (`claimed`), or the record of whoever claimed it first. */
export interface IdempotencyClaim {
  claimed: boolean;
  record: IdempotencyRecord;
}

interface IdempotencyRow {
  scope: string;
  idem_key: string;
  request_hash: string;
  response: string;
  created_at: number | string;
}

const COLUMNS = ['scope', 'idem_key', 'request_hash', 'response', 'created_at'];

/** Attempts of a claim that lost a race (another request inserted the key, or a deadlock). */
const MAX_ATTEMPTS = 10;

/**
 * Records `record` as the answer to its key, in one transaction with what `work` writes
 * (e.g. the outbox row of the command the request sends), unless the key has a record
 * already: then nothing is written and that record is returned. Of concurrent claims of
 * one key exactly one commits; the others fail on the primary key (on MySQL they wait
 * until the first commits), and are retried, so they return its record.
 *
 * @example
 * const { claimed, record } = await claimIdempotencyKey(store, { scope: 'POST /reservas', key, requestHash, response, createdAt: Date.now() }, (uow) => uow.enqueue([message]));
 * if (record.requestHash !== requestHash) throw new Error('key reused with another request');
 * return record.response; // the first answer, claimed now or before
 */
export async function claimIdempotencyKey(
  store: SequelizeSagaStore,
  record: IdempotencyRecord,
  work: (uow: SequelizeUnitOfWork) => Promise<void> = async () => {},
): Promise<IdempotencyClaim> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await store.transaction(async (uow) => {
        const existing = await findIdempotencyKey(uow.sql, record.scope, record.key);
        if (existing) return { claimed: false, record: existing };
        // Inserted now, not at commit: a concurrent claim of the key fails (or waits) here.
        await uow.sql.insert('idempotency_keys', COLUMNS, [[record.scope, record.key, record.requestHash, JSON.stringify(record.response), record.createdAt]]);
        await work(uow);
        return { claimed: true, record };
      });
    } catch (error) {
      const lostRace = isUniqueViolation(error) || error instanceof ConcurrencyError;
      if (!lostRace || attempt >= MAX_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
  }
}

/**
 * The record of a key, or null. Keys compare exactly (the column's collation is binary).
 *
 * @example
 * const record = await findIdempotencyKey(new Sql(sequelize), 'POST /reservas', 'pedido-42');
 */
export async function findIdempotencyKey(sql: Sql, scope: string, key: string): Promise<IdempotencyRecord | null> {
  const rows = await sql.select<IdempotencyRow>(`SELECT ${COLUMNS.join(', ')} FROM idempotency_keys WHERE ${sql.match(['scope', 'idem_key'], [scope, key])}`);
  const row = rows.find((r) => r.scope === scope && r.idem_key === key);
  if (!row) return null;
  return { scope: row.scope, key: row.idem_key, requestHash: row.request_hash, response: JSON.parse(row.response), createdAt: Number(row.created_at) };
}

import { ConnectionError, TimeoutError, UniqueConstraintError } from 'sequelize';
import { ConcurrencyError, RejectedByDatabaseError, SagaError, UnavailableError } from '../runtime/errors.ts';

/** Driver codes of a transaction that lost a race: run it again. */
const CONFLICT_CODES = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'SQLITE_BUSY', 'SQLITE_LOCKED']);

/** Driver codes of a database that cannot be reached or cannot work right now. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_QUERY_INTERRUPTED',
  'ER_CLIENT_INTERACTION_TIMEOUT',
  'ER_OPTION_PREVENTS_STATEMENT', // read-only during a failover
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_CANTOPEN',
]);

/** Driver codes of data the database refuses whatever happens: writing it again cannot succeed. */
const REJECTED_CODES = new Set([
  'ER_DATA_TOO_LONG',
  'ER_BAD_NULL_ERROR',
  'ER_TRUNCATED_WRONG_VALUE',
  'ER_TRUNCATED_WRONG_VALUE_FOR_FIELD',
  'ER_WARN_DATA_OUT_OF_RANGE',
  'ER_NO_DEFAULT_FOR_FIELD',
  'ER_NO_REFERENCED_ROW_2',
  'ER_ROW_IS_REFERENCED_2',
  'ER_NET_PACKET_TOO_LARGE',
  'SQLITE_TOOBIG',
  'SQLITE_MISMATCH',
]);

/** Messages of connection failures that some drivers raise without a code. */
const UNAVAILABLE_MESSAGES = [/connection is in closed state/i, /connection lost/i, /socket hang up/i, /cannot enqueue/i];

/**
 * A driver error as the runtime's typed errors: `ConcurrencyError` (a conflict: retry),
 * `UnavailableError` (the database cannot be reached: wait and retry as long as it takes),
 * `RejectedByDatabaseError` (the data itself is refused: terminal). Anything else is returned
 * as it was: unclassified, it is retried a bounded number of times, then treated as terminal.
 *
 * @example
 * try { await sequelize.query(sql); } catch (error) { throw translate(error); }
 */
export function translate(error: unknown): unknown {
  if (error instanceof SagaError) return error;
  const codes = driverCodes(error);
  const message = (error as Error)?.message ?? String(error);
  if (codes.some((c) => CONFLICT_CODES.has(c))) return new ConcurrencyError(`database conflict: ${message}`, { cause: error });
  if (codes.some((c) => REJECTED_CODES.has(c))) return new RejectedByDatabaseError(`the database refused the data: ${message}`, { cause: error });
  if (
    error instanceof ConnectionError ||
    error instanceof TimeoutError ||
    codes.some((c) => UNAVAILABLE_CODES.has(c)) ||
    isFatal(error) ||
    UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))
  ) {
    return new UnavailableError(`database unavailable: ${message}`, { cause: error });
  }
  return error;
}

/** The codes a driver error carries, on itself or on what Sequelize wrapped. */
function driverCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let e = error as { code?: unknown; parent?: unknown; original?: unknown } | undefined, depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string') codes.push(e.code);
    e = (e.parent ?? e.original) as typeof e;
  }
  return codes;
}

/** mysql2 marks errors after which the connection is unusable as `fatal`. */
function isFatal(error: unknown): boolean {
  const e = error as { fatal?: unknown; parent?: { fatal?: unknown }; original?: { fatal?: unknown } };
  return e?.fatal === true || e?.parent?.fatal === true || e?.original?.fatal === true;
}

/** Sequelize reports every SQLite constraint failure (NOT NULL too) as a unique violation. */
export function isUniqueViolation(error: unknown): boolean {
  if ((error as { code?: unknown })?.code === 'ER_DUP_ENTRY') return true; // a raw mysql2 error (the store's own transactions)
  if (!(error instanceof UniqueConstraintError)) return false;
  const message = String((error as { parent?: { message?: string } }).parent?.message ?? '');
  return !message.includes('SQLITE_CONSTRAINT') || message.includes('UNIQUE') || message.includes('PRIMARY KEY');
}

/** Runs `work`; a unique violation in it becomes `error()`. */
export async function onUniqueViolation<T>(work: () => Promise<T>, error: () => Error): Promise<T> {
  try {
    return await work();
  } catch (cause) {
    if (isUniqueViolation(cause)) throw error();
    throw cause;
  }
}

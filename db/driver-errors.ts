import { ConnectionError, TimeoutError, UniqueConstraintError } from 'sequelize';
import { ConcurrencyError, UnavailableError } from '../runtime/errors.ts';

/** Driver errors that mean "try again later" become typed retryable errors. */
export function translate(error: unknown): unknown {
  const code = (error as { parent?: { code?: string } })?.parent?.code;
  if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT' || code === 'SQLITE_BUSY') {
    return new ConcurrencyError(`database conflict: ${(error as Error).message}`, { cause: error });
  }
  if (error instanceof ConnectionError || error instanceof TimeoutError) {
    return new UnavailableError(`database unavailable: ${error.message}`, { cause: error });
  }
  return error;
}

/** Sequelize reports every SQLite constraint failure (NOT NULL too) as a unique violation. */
export function isUniqueViolation(error: unknown): boolean {
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

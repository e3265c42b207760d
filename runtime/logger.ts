/**
 * How the runtime and the services log: a plain callback, so the runtime depends on no
 * logging library. The composition roots pass one made from pino (`services/logger.ts`);
 * tests pass their own or `silent`.
 */

/** Most detailed first. A line without a level is `info`. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * What a line carries besides its message. Lines about a message name it with `service`,
 * `sagaType`, `sagaId`, `messageId` and `messageType`; an `error` that is an Error object is
 * written with its stack.
 */
export interface LogFields {
  level?: LogLevel;
  [field: string]: unknown;
}

/**
 * @example
 * log('outbox row failed; will retry', { level: 'warn', messageId, messageType, sagaId, error: (error as Error).message });
 */
export interface Log {
  (message: string, fields?: LogFields): void;
  /** Whether a line of `level` would be written (so a hot path builds no fields for nothing); unknown: assume it would. */
  enabled?(level: LogLevel): boolean;
}

/** Logs nothing. */
export const silent: Log = Object.assign(() => {}, { enabled: () => false });

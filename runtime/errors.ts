/**
 * Typed errors. `retryable` tells the caller whether the same input may succeed later
 * (transaction conflict, broker or database down) or never will (bad message, unknown
 * saga): retryable errors roll back and are waited out in place (see `classify`), terminal
 * ones are dead-lettered with their reason.
 */
export abstract class SagaError extends Error {
  abstract readonly retryable: boolean;
  /** A stable machine-readable code, also used as the HTTP error code. */
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A message or request that does not match its schema. */
export class ValidationError extends SagaError {
  readonly retryable = false;
  readonly code = 'invalid';
}

/** A message that names a saga instance that does not exist. */
export class UnknownSagaError extends SagaError {
  readonly retryable = false;
  readonly code = 'unknown_saga';
  constructor(readonly sagaId: string, detail = '') {
    super(`no saga instance "${sagaId}"${detail}`);
  }
}

/** A saga started with an id that is already taken. */
export class SagaAlreadyExistsError extends SagaError {
  readonly retryable = false;
  readonly code = 'saga_exists';
  constructor(readonly sagaType: string, readonly sagaId: string) {
    super(`saga ${sagaType}/${sagaId} already exists`);
  }
}

/** An instance (or a start request) names a machine version that is not registered. */
export class UnknownMachineVersionError extends SagaError {
  readonly retryable = false;
  readonly code = 'unknown_machine_version';
  constructor(readonly sagaType: string, readonly version: number | undefined, registered: number[]) {
    super(
      registered.length === 0
        ? `no saga machine "${sagaType}" is registered`
        : `saga machine "${sagaType}" has no version ${version}; registered: ${registered.join(', ')}`,
    );
  }
}

/** The machine threw while computing a transition (a bug in a guard or params builder). */
export class TransitionError extends SagaError {
  readonly retryable = false;
  readonly code = 'transition_failed';
}

/** Another handler updated the same saga first (optimistic version check). */
export class ConcurrencyError extends SagaError {
  readonly retryable = true;
  readonly code = 'conflict';
}

/** The database or the broker cannot be reached or refused the work for now. */
export class UnavailableError extends SagaError {
  readonly retryable = true;
  readonly code = 'unavailable';
}

/** No dead letter has that id (among those this process may see). */
export class UnknownDeadLetterError extends SagaError {
  readonly retryable = false;
  readonly code = 'unknown_dead_letter';
}

/** The dead letter was replayed or discarded already. */
export class DeadLetterResolvedError extends SagaError {
  readonly retryable = false;
  readonly code = 'dead_letter_resolved';
}

/**
 * The broker refused this message for good (too big for its frame or size limit, not
 * decodable): sending the same bytes again will fail again. Whoever publishes it should set
 * it aside (dead-letter it) and go on with the next message.
 *
 * @example
 * try { await transport.publish(topic, message); }
 * catch (error) { if (error instanceof MessageRejectedError) deadLetter(message, error.message); else throw error; }
 */
export class MessageRejectedError extends SagaError {
  readonly retryable = false;
  readonly code = 'message_rejected';
}

/**
 * The broker refused the connection's credentials (HTTP 401 or 403 on the WebSocket
 * upgrade, an authentication error of the native client): a missing, wrong or expired
 * `PULSAR_TOKEN`, or a role without permission. Terminal for the connection, not for any
 * message: no message is at fault, and the process should stop with this error rather
 * than retry or dead-letter what it was sending.
 *
 * @example
 * await transport.subscribe(options).catch((error) => { if (error instanceof BrokerAuthError) process.exit(1); throw error; });
 */
export class BrokerAuthError extends SagaError {
  readonly retryable = false;
  readonly code = 'broker_auth';
}

/** A command built by a transition is larger than a message may be (`LIMITS.messageBytes`). */
export class MessageTooLargeError extends SagaError {
  readonly retryable = false;
  readonly code = 'message_too_large';
}

/** The database refused the data itself (too long for its column, a NULL where none may be): writing it again cannot succeed. */
export class RejectedByDatabaseError extends SagaError {
  readonly retryable = false;
  readonly code = 'rejected_by_database';
}

/**
 * A second process of a service over a database that serves one process per service
 * (SQLite: one file, one writer). Terminal for the process: replicas need MySQL or MariaDB.
 */
export class ReplicaConflictError extends SagaError {
  readonly retryable = false;
  readonly code = 'replica_conflict';
}

/** A repair event the saga's current state does not accept (or its definition does not declare); `accepted` are those it would. */
export class RepairNotAcceptedError extends SagaError {
  readonly retryable = false;
  readonly code = 'repair_not_accepted';
  constructor(
    message: string,
    readonly accepted: readonly string[],
  ) {
    super(`${message}; accepted now: ${accepted.length ? accepted.join(', ') : 'none'}`);
  }
}

/** A request for an admin action without the admin token (or with no token configured). */
export class ForbiddenError extends SagaError {
  readonly retryable = false;
  readonly code = 'forbidden';
}

/** An error nobody classified that kept failing: after bounded attempts it is treated as terminal. */
export class RepeatedFailureError extends SagaError {
  readonly retryable = false;
  readonly code = 'failed';
  constructor(attempts: number, readonly last: unknown) {
    super(`failed ${attempts} times: ${(last as Error)?.message ?? String(last)}`, { cause: last });
  }
}

/**
 * How to treat a failure:
 * - `transient`: a typed retryable error (a dependency is unavailable, a transaction
 *   conflicted): wait and try again, for as long as it takes, without giving up the input;
 * - `terminal`: the input can never succeed: dead-letter it with the reason;
 * - `unknown`: nobody classified it: try a bounded number of times, then treat it as terminal.
 */
export type FailureKind = 'transient' | 'terminal' | 'unknown';

export function classify(error: unknown): FailureKind {
  if (error instanceof SagaError) return error.retryable ? 'transient' : 'terminal';
  return 'unknown';
}

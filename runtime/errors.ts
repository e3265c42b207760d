/**
 * Typed errors. `retryable` tells the caller whether the same input may succeed later
 * (transaction conflict, broker or database down) or never will (bad message, unknown
 * saga): retryable errors roll back and are retried or redelivered, terminal ones are
 * dead-lettered with their reason.
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

/** No registered saga consumes this message type. */
export class UnroutableMessageError extends SagaError {
  readonly retryable = false;
  readonly code = 'unroutable';
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

/** True when an error (ours or a driver's) is worth trying again. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof SagaError) return error.retryable;
  // Unknown errors (driver errors, timeouts) are retried: a poison message ends in the
  // dead-letter topic after the transport's redelivery limit, never silently dropped.
  return true;
}

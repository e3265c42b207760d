import type { Middleware } from 'koa';
import {
  ConcurrencyError,
  ForbiddenError,
  RepairNotAcceptedError,
  DeadLetterResolvedError,
  MessageTooLargeError,
  RejectedByDatabaseError,
  UnknownDeadLetterError,
  SagaAlreadyExistsError,
  UnavailableError,
  UnknownMachineVersionError,
  UnknownSagaError,
  ValidationError,
} from '../../runtime/errors.ts';
import type { Log } from '../../runtime/logger.ts';

/** An error that is an HTTP answer by itself (unknown route, body too large, wrong content type). */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string };
}

export interface ErrorHandlerOptions {
  /** Where unexpected errors are reported, at `error` with the Error under `err` (default `console.error`). */
  log?: Log;
}

type ErrorClass = abstract new (...args: never[]) => Error;

const STATUS_OF: [ErrorClass, number][] = [
  [ValidationError, 400],
  [UnknownMachineVersionError, 400],
  [UnknownSagaError, 404],
  [UnknownDeadLetterError, 404],
  [DeadLetterResolvedError, 409],
  [RepairNotAcceptedError, 409],
  [ForbiddenError, 403],
  [MessageTooLargeError, 413],
  [RejectedByDatabaseError, 422],
  [SagaAlreadyExistsError, 409],
  [ConcurrencyError, 409],
  [UnavailableError, 503],
];

/** Codes of the statuses Koa and @koa/router answer with themselves (no route, method not allowed, `ctx.throw`). */
const CODE_OF_STATUS: Record<number, string> = {
  400: 'invalid',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  501: 'not_implemented',
};

/**
 * Turns what a request throws into a status code and `{ "error": { "code", "message" } }`.
 * Typed saga errors keep their `code` and message; anything unexpected is a 500 with
 * "internal error", its stack logged. A request no route answered is a 404 in the same shape.
 *
 * @example
 * const app = new Koa();
 * app.use(errorHandler({ log: (m, f) => console.error(m, f) }));
 * app.use(router.routes());
 */
export function errorHandler(options: ErrorHandlerOptions = {}): Middleware {
  const log = options.log ?? ((message, fields) => console.error(message, fields ?? ''));
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.body == null && ctx.status >= 400) throw unanswered(ctx.status, ctx.method, ctx.path);
    } catch (error) {
      const { status, code, message } = toHttp(error);
      if (code === 'internal') {
        log('request failed', { level: 'error', method: ctx.method, path: ctx.path, err: error instanceof Error ? error : new Error(String(error)) });
      }
      ctx.status = status;
      ctx.body = { error: { code, message } } satisfies ErrorBody;
    }
  };
}

/** A status set without a body: 404 when no route matched, 405/501 from `router.allowedMethods()`. */
function unanswered(status: number, method: string, path: string): HttpError {
  if (status === 404) return new HttpError(404, 'not_found', `no route ${method} ${path}`);
  if (status === 405) return new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
  return new HttpError(status, CODE_OF_STATUS[status] ?? 'error', `${method} ${path} failed with status ${status}`);
}

function toHttp(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof HttpError) return { status: error.status, code: error.code, message: error.message };
  const match = STATUS_OF.find(([type]) => error instanceof type);
  if (match) return { status: match[1], code: (error as Error & { code: string }).code, message: (error as Error).message };
  // http-errors from Koa or the router: exposed ones are client errors meant to be shown.
  const status = (error as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500 && (error as { expose?: boolean }).expose) {
    return { status, code: CODE_OF_STATUS[status] ?? 'bad_request', message: (error as Error).message };
  }
  return { status: 500, code: 'internal', message: 'internal error' };
}

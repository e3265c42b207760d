import type { Context } from 'koa';
import { ValidationError } from '../../runtime/errors.ts';
import { HttpError } from './errors.ts';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Reads the request body as JSON. The content type must be JSON or absent; an empty body
 * is `undefined`.
 *
 * @throws ValidationError for malformed JSON (naming the problem), HttpError 415 for another
 * content type, HttpError 413 above `limit` bytes.
 * @example
 * router.post('/reservas', async (ctx) => {
 *   const body = await readJsonBody(ctx); // { id_cliente: 'c-1', monto: 100 }
 * });
 */
export async function readJsonBody(ctx: Context, limit = DEFAULT_BODY_LIMIT): Promise<unknown> {
  const type = ctx.get('content-type');
  if (type && !JSON_TYPE.test(type)) {
    throw new HttpError(415, 'unsupported_media_type', `request body must be application/json, got ${type}`);
  }
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw tooLarge(ctx, limit);
  const text = await readText(ctx, limit);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`request body is not valid JSON: ${(error as Error).message}`);
  }
}

function readText(ctx: Context, limit: number): Promise<string> {
  const req = ctx.req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData).off('end', onEnd).off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      stop();
      req.resume(); // discard the rest, so the 413 can still be written
      reject(tooLarge(ctx, limit));
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (error: Error) => {
      stop();
      reject(new ValidationError(`request body could not be read: ${error.message}`));
    };
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

function tooLarge(ctx: Context, limit: number): HttpError {
  // Do not read the rest: answer and close the connection.
  ctx.set('Connection', 'close');
  return new HttpError(413, 'payload_too_large', `request body is larger than ${limit} bytes`);
}

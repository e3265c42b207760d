import { ValidationError } from '../../runtime/errors.ts';

/**
 * A query parameter given at most once (`undefined` when absent or empty).
 *
 * @throws ValidationError when it is repeated
 * @example
 * const status = single(ctx.query.status, 'status');
 */
export function single(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) throw new ValidationError(`"${name}" must be given once`);
  return value === '' ? undefined : value;
}

/**
 * `?limit=`: an integer from 1 to 1000, or `undefined` for the route's default.
 *
 * @throws ValidationError
 * @example
 * const limit = parseLimit(single(ctx.query.limit, 'limit'));
 */
export function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationError('"limit" must be an integer from 1 to 1000');
  return limit;
}

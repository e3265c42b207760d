import type { Context, Middleware } from 'koa';
import { HttpError } from './errors.ts';

/** Methods that change state: a browser page of another site must not be able to send them. */
export const STATE_CHANGING_METHODS: readonly string[] = ['POST', 'PUT', 'PATCH', 'DELETE'];

/** JSON media types (`application/json`, `application/problem+json`, with parameters). */
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** Headers a page of an allowed origin may send, and read in answers. */
const ALLOWED_HEADERS = 'Content-Type, Idempotency-Key';
const EXPOSED_HEADERS = 'Location, Idempotent-Replayed, Deprecation, Warning';

export interface RequestGuardOptions {
  /** Origins besides the server's own whose pages may change state (`SAGA_ALLOWED_ORIGINS`), normalized. */
  allowedOrigins?: readonly string[];
}

/** Where the guard leaves the allowed origins for {@link refuseForeignOrigin}. */
const ALLOWED = 'requestGuard.allowedOrigins';

/**
 * Refuses requests a web page of another site could make a browser send (cross-site
 * request forgery), in front of every route:
 *
 * - a state-changing request (POST, PUT, PATCH, DELETE) from a foreign origin is 403
 *   `forbidden_origin`: its `Origin` names a host:port other than the request's `Host`, or
 *   `Sec-Fetch-Site` says `cross-site` or `same-site`, unless the `Origin` is allowed;
 * - a state-changing request whose `Content-Type` is not JSON is 415
 *   `unsupported_media_type`, with an empty body too: a page can send `text/plain` or a
 *   form without asking the server first, but not JSON;
 * - an allowed origin gets CORS answers (preflight and `Access-Control-Allow-Origin`), so
 *   its pages can call the API; any other origin gets none, so the browser keeps its
 *   pages from reading answers or sending JSON.
 *
 * Clients that are not browsers (curl, services) send no `Origin` and pass. Errors are
 * thrown as {@link HttpError}, so the error middleware answers `{ error: { code, message } }`.
 *
 * @example
 * app.use(errorHandler());
 * app.use(requestGuard({ allowedOrigins: config.allowedOrigins }));
 * // POST /reservas with Origin: https://evil.example -> 403 { error: { code: 'forbidden_origin', ... } }
 * // POST /reservas with Content-Type: text/plain      -> 415 { error: { code: 'unsupported_media_type', ... } }
 */
export function requestGuard(options: RequestGuardOptions = {}): Middleware {
  const allowed = new Set(options.allowedOrigins ?? []);
  return async (ctx, next) => {
    ctx.state[ALLOWED] = allowed;
    const origin = ctx.get('origin');
    const allowedOrigin = origin !== '' && allowed.has(origin);
    if (allowedOrigin) {
      ctx.vary('Origin');
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
      if (ctx.method === 'OPTIONS' && ctx.get('access-control-request-method')) {
        ctx.set('Access-Control-Allow-Methods', 'GET, HEAD, POST, PUT, PATCH, DELETE');
        ctx.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
        ctx.set('Access-Control-Max-Age', '600');
        ctx.status = 204;
        return;
      }
    }
    if (STATE_CHANGING_METHODS.includes(ctx.method)) {
      refuseForeignOrigin(ctx);
      const type = ctx.get('content-type');
      if (!JSON_TYPE.test(type)) {
        throw new HttpError(415, 'unsupported_media_type', `${ctx.method} needs Content-Type: application/json${type ? `, got ${type}` : ' (even with no body)'}`);
      }
    }
    await next();
  };
}

/**
 * Throws 403 `forbidden_origin` when a browser sent the request on behalf of a page of
 * another site (see {@link requestGuard}). `requestGuard` calls it for state-changing
 * methods; a route that changes state on GET (the deprecated `GET /prueba-*`) calls it
 * itself.
 *
 * @example
 * router.get('/prueba-pagar-reserva', async (ctx) => { refuseForeignOrigin(ctx); ... });
 */
export function refuseForeignOrigin(ctx: Context): void {
  const allowed: ReadonlySet<string> = ctx.state[ALLOWED] ?? new Set();
  const origin = ctx.get('origin');
  if (origin !== '' && allowed.has(origin)) return;
  if (origin !== '' && !sameHost(origin, ctx.get('host'))) {
    throw new HttpError(403, 'forbidden_origin', `requests from origin ${origin} are not accepted (SAGA_ALLOWED_ORIGINS lists the origins allowed besides this server's own)`);
  }
  const site = ctx.get('sec-fetch-site').toLowerCase();
  if (site === 'cross-site' || site === 'same-site') {
    throw new HttpError(403, 'forbidden_origin', `requests a page of another site sent (Sec-Fetch-Site: ${site}) are not accepted`);
  }
}

/** Whether `origin` (`http://host:port`) names the host:port the request was sent to (`Host`). */
function sameHost(origin: string, host: string): boolean {
  if (origin === 'null' || host === '') return false;
  try {
    const url = new URL(origin);
    // Host as the origin's scheme would write it: `example.com:80` is `example.com` for http.
    return url.host === new URL(`${url.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

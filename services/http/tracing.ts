import { context, SpanStatusCode } from '@opentelemetry/api';
import type Koa from 'koa';
import { SpanKind, startSpan, traceContextOf } from '../../runtime/tracing.ts';

/**
 * A server span per request, a child of the caller's `traceparent` header when it sends one,
 * and current while the request is handled: a saga it starts, and the messages it writes,
 * join the request's trace. Named by route (`POST /reservas`), never by id.
 *
 * @example
 * app.use(traceRequests('vuelos'));
 */
export function traceRequests(service: string): Koa.Middleware {
  return async (ctx, next) => {
    const parent = traceContextOf({ traceparent: ctx.get('traceparent'), tracestate: ctx.get('tracestate') });
    const { span, context: current } = startSpan(`${ctx.method} ${ctx.path}`, SpanKind.SERVER, parent, () => ({ 'http.request.method': ctx.method, 'url.path': ctx.path, 'service.name': service }));
    try {
      await context.with(current, next);
    } finally {
      const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      if (typeof route === 'string') {
        span.updateName(`${ctx.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', ctx.status);
      if (ctx.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  };
}

import { ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/**
 * Trace context in messages (W3C Trace Context, as the CloudEvents distributed-tracing
 * extension carries it: `traceparent` and `tracestate` in the envelope; the outbox relay
 * also sets them as message properties, naming its publish span).
 *
 * Spans go to whatever tracer provider the process registered (services/tracing.ts: OTLP
 * when `OTEL_EXPORTER_OTLP_ENDPOINT` is set); with none, they are not recorded and cost
 * next to nothing, but the context read from a message still passes on to what it causes.
 */

const propagator = new W3CTraceContextPropagator();
const getter = {
  keys: (carrier: TraceCarrier) => Object.keys(carrier),
  get: (carrier: TraceCarrier, key: string) => (key === 'traceparent' || key === 'tracestate' ? (carrier[key] ?? undefined) : undefined),
};
const setter = { set: (carrier: TraceCarrier, key: string, value: string) => void ((carrier as Record<string, string>)[key] = value) };

/** Where a trace context travels: an envelope, message properties, HTTP headers, a deadline row. */
export interface TraceCarrier {
  traceparent?: string | null;
  tracestate?: string | null;
}

/**
 * The runtime's tracer, from the provider registered now. Asked for at each span, not kept:
 * a provider registered after `trace.disable()` (tests, a restart of tracing) is a new global.
 */
function tracer(): Tracer {
  return trace.getTracer('xstate-saga-runtime');
}

/** The API's no-op provider: what a proxy delegates to while no provider is registered. */
const NO_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether a tracer provider is registered (spans may be recorded). False lets a hot path skip
 * reading a context only a recorded span would use.
 */
export function tracerRegistered(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider && provider.getDelegate() === NO_PROVIDER);
}

/** The context a carrier names (the root context when it names none, or a malformed one). */
export function traceContextOf(...carriers: (TraceCarrier | null | undefined)[]): Context {
  for (const carrier of carriers) {
    if (!carrier?.traceparent) continue;
    const context = propagator.extract(ROOT_CONTEXT, carrier, getter);
    if (trace.getSpanContext(context)) return context;
  }
  return ROOT_CONTEXT;
}

type TraceFields = { traceparent?: string; tracestate?: string };
/** Per input context, its fields: every message an input sends carries the same ones, formatted once. */
const fieldsOf = new WeakMap<Context, Readonly<TraceFields>>();
const idOf = new WeakMap<Context, string | null>();

/** `{ traceparent, tracestate? }` naming the span of `context`; `{}` when it has none. */
export function traceFieldsOf(context: Context): Readonly<TraceFields> {
  let fields = fieldsOf.get(context);
  if (!fields) {
    const carrier: TraceCarrier = {};
    propagator.inject(context, carrier, setter);
    fieldsOf.set(context, (fields = carrier as TraceFields));
  }
  return fields;
}

/** The trace id of the span of `context`, or null (kept per context: a transition's log entries all ask). */
export function traceIdIn(context: Context): string | null {
  let id = idOf.get(context);
  if (id === undefined) idOf.set(context, (id = traceIdOf(trace.getSpan(context))));
  return id;
}

/** `{ traceId }` of the span of `context` (or of `span`) for a log line; `{}` when there is none, so the logger's own stays. */
export function traceLogFields(of: Span | Context | undefined): { traceId?: string } {
  const id = of === undefined ? null : 'spanContext' in of ? traceIdOf(of) : traceIdIn(of);
  return id ? { traceId: id } : {};
}

/** The trace id of a span, or null for a span of no trace. */
function traceIdOf(span: Span | undefined): string | null {
  const context = span?.spanContext();
  return context && trace.isSpanContextValid(context) ? context.traceId : null;
}

/**
 * Starts a span as a child of `parent`, and answers it with the context it makes current
 * (what the messages it causes carry).
 *
 * @example
 * const { span, context } = startSpan('process ReservaPagada', SpanKind.CONSUMER, traceContextOf(envelope), () => ({ 'messaging.message.id': envelope.id }));
 * try { ... makeEnvelope(type, data, service, { trace: context }) ... } finally { endSpan(span); }
 */
export function startSpan(name: string, kind: SpanKind, parent: Context, attributes?: () => Attributes): { span: Span; context: Context } {
  const span = tracer().startSpan(name, { kind }, parent);
  // Built only for a span that is recorded: without tracing, the hot path makes no attribute objects.
  if (attributes && span.isRecording()) span.setAttributes(attributes());
  return { span, context: trace.setSpan(parent, span) };
}

/**
 * Runs `work` in a span of its own (see {@link startSpan}), ended when `work` settles: as
 * failed when it throws.
 *
 * @example
 * await inSpan(`pagos ${envelope.type}`, SpanKind.CONSUMER, traceContextOf(envelope), undefined, (context) => handle(envelope, context));
 */
export async function inSpan<T>(name: string, kind: SpanKind, parent: Context, attributes: (() => Attributes) | undefined, work: (context: Context, span: Span) => Promise<T>): Promise<T> {
  const { span, context } = startSpan(name, kind, parent, attributes);
  try {
    const value = await work(context, span);
    endSpan(span);
    return value;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
}

/** Ends `span`, as failed when `error` is given. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

/**
 * `"traceparent":"00-…"` read from a serialized envelope without parsing it whole: its first
 * occurrence, the envelope's own, since `makeEnvelope` writes it before `data`. (A message
 * written elsewhere, replayed from the dead letters, may name another: it only places a
 * span, and `traceContextOf` checks the format.)
 */
export function traceparentIn(payload: string): string | null {
  const key = '"traceparent":"';
  const at = payload.indexOf(key);
  if (at < 0) return null;
  const start = at + key.length;
  const end = payload.indexOf('"', start);
  return end > start && end - start <= 55 ? payload.slice(start, end) : null;
}

export { SpanKind };

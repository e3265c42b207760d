import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** Stops tracing, sending the spans still buffered first. */
export type StopTracing = () => Promise<void>;

/**
 * Turns tracing on for this process when the standard OpenTelemetry variables ask for it:
 * spans go over OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; headers from `OTEL_EXPORTER_OTLP_HEADERS`), batched
 * (`OTEL_BSP_*`), as service `OTEL_SERVICE_NAME` or `service`. With neither endpoint set, or
 * `OTEL_SDK_DISABLED=true`, nothing is registered and nothing is sent: the runtime's spans are
 * then not recorded, and the trace context of each message still passes on to what it causes.
 *
 * Registering also makes the W3C trace-context propagator and an AsyncLocalStorage context
 * manager global, so a request's span is current while it is handled.
 *
 * @example
 * // OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318 npm run service -- pagos
 * const stopTracing = startTracing('pagos');
 * // ... on shutdown
 * await stopTracing();
 */
export function startTracing(service: string, env: NodeJS.ProcessEnv = process.env): StopTracing {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint || env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return async () => {};
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || service, 'service.namespace': 'aeroalpes' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  return () => provider.shutdown();
}

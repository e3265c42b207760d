import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as the tests judge it, whichever way it was exported. */
export interface SeenSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** OTLP's numbering: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, unknown>;
}

export const SPAN_KIND = { internal: 1, server: 2, producer: 4, consumer: 5 } as const;

/**
 * An OTLP/HTTP receiver (JSON encoding, `POST /v1/traces`), as a collector would run it:
 * keeps every span it is sent.
 *
 * @example
 * const receiver = await OtlpReceiver.start();
 * env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
 */
export class OtlpReceiver {
  readonly spans: SeenSpan[] = [];
  /** Requests it could not read (a wrong encoding would show here, not as missing spans). */
  readonly refused: string[] = [];

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<OtlpReceiver> {
    let receiver: OtlpReceiver;
    const server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (request.method !== 'POST' || request.url !== '/v1/traces' || !String(request.headers['content-type']).startsWith('application/json')) {
          receiver.refused.push(`${request.method} ${request.url} ${request.headers['content-type']}`);
          response.writeHead(415).end();
          return;
        }
        try {
          receiver.spans.push(...otlpJsonSpans(JSON.parse(body)));
          response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch (error) {
          receiver.refused.push(`unreadable: ${(error as Error).message}`);
          response.writeHead(400).end();
        }
      });
    });
    receiver = new OtlpReceiver(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}

/** The spans of an OTLP `ExportTraceServiceRequest` in its JSON encoding (ids as hex). */
function otlpJsonSpans(request: { resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[] }): SeenSpan[] {
  const spans: SeenSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = attributesOf(resourceSpans.resource?.attributes);
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        spans.push({
          service: String(resource['service.name']),
          traceId: String(span.traceId),
          spanId: String(span.spanId),
          parentSpanId: span.parentSpanId ? String(span.parentSpanId) : null,
          name: String(span.name),
          kind: Number(span.kind),
          attributes: attributesOf(span.attributes as OtlpAttribute[] | undefined),
        });
      }
    }
  }
  return spans;
}

function attributesOf(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, value.stringValue ?? value.intValue ?? value.doubleValue ?? value.boolValue]));
}

/**
 * The message types along the causal path that ends at `last`: walking parent links up to
 * the root, the type of each message a publish span sent, oldest first. Fails if a parent
 * is missing (a link that does not follow the flow), but for `callerSpanId`: the span of a
 * caller outside the system, the root's parent.
 */
export function messagePathTo(spans: readonly SeenSpan[], last: SeenSpan, callerSpanId?: string): { types: string[]; root: SeenSpan; services: string[] } {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const types: string[] = [];
  const services: string[] = [];
  let span = last;
  for (;;) {
    services.unshift(span.service);
    if (span.kind === SPAN_KIND.producer) types.unshift(String(span.attributes['cloudevents.event_type']));
    if (!span.parentSpanId || span.parentSpanId === callerSpanId) return { types, root: span, services };
    const parent = byId.get(span.parentSpanId);
    if (!parent) throw new Error(`span "${span.name}" of ${span.service} has a parent ${span.parentSpanId} nobody exported`);
    span = parent;
  }
}

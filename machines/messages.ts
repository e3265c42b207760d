import * as z from 'zod';

/**
 * The AeroAlpes messages: CloudEvents-style envelopes, the Spanish message names the
 * tutorial uses, the topic of each message, and the schema of each payload (zod), defined
 * once: the TypeScript types ({@link Commands}, {@link Events}, {@link Envelope}), the
 * validation of what enters ({@link MessageCatalog.parse}) and the JSON Schema of each
 * message ({@link MessageCatalog.jsonSchemaOf}, the AsyncAPI document of `npm run asyncapi`)
 * derive from it.
 *
 * Pure: no I/O. The runtime calls {@link parseEnvelope} where a message enters the system.
 */

/**
 * Failure injection for demos and tests, carried in commands so every participant sees it:
 * the step that fails (`reserva`, `pago`, `gds`, `aprobacion`), a payment that never
 * answers (`timeout-pago`), or a GDS failure whose refund keeps failing (`revertir-pago`,
 * which ends in manual repair).
 */
export const SIMULATED_FAILURES = [
  'reserva',
  'pago',
  'gds',
  'aprobacion',
  'timeout-pago',
  'revertir-pago',
] as const;
export type SimulatedFailure = (typeof SIMULATED_FAILURES)[number];

/**
 * Most characters of each string field, so that every value fits the column that stores it
 * (ids in VARCHAR(64) columns, `estado` in VARCHAR(32)); other string fields get
 * `LIMITS.string`. A message over a limit is refused where it enters (400 at HTTP, a dead
 * letter with the reason on the message path) instead of failing in the database.
 */
export const FIELD_LIMITS: Readonly<Record<string, number>> = {
  id_correlacion: 64,
  id_reserva: 64,
  id_cliente: 64,
  id_pago: 64,
  estado: 32,
  motivo: 1000,
  simular_fallo: 32,
  servicio: 64,
};

export const LIMITS = {
  /** The envelope's `id`: processed ids, outbox and saga log keep it in VARCHAR(64). */
  messageId: 64,
  serviceName: 128,
  /** A string field without a limit of its own in {@link FIELD_LIMITS}. */
  string: 255,
  /** `itinerarios` as JSON: vuelos keeps it in a TEXT column (64 KiB on MySQL). */
  itinerariosBytes: 16 * 1024,
  /**
   * A whole envelope as JSON. The broker's WebSocket API carries it base64-encoded in a
   * frame of at most 1 MiB; this leaves room for that and for the frame's other fields.
   */
  messageBytes: 256 * 1024,
  /** W3C `traceparent` (version 00): always 55 characters. */
  traceparent: 55,
  /** W3C `tracestate`: at most 512 characters. */
  tracestate: 512,
} as const;

/** The most characters `field` may hold. */
export function maxLengthOf(field: string): number {
  return FIELD_LIMITS[field] ?? LIMITS.string;
}

// --- The building blocks of payload schemas ---------------------------------------------------

/**
 * A non-empty string field of at most {@link maxLengthOf}(`field`) characters (the column
 * that stores it).
 *
 * @example
 * z.object({ ...CORRELATED, motivo: text('motivo') })
 */
export function text(field: string) {
  return z.string().min(1).max(maxLengthOf(field));
}

/** A failure to simulate: one of {@link SIMULATED_FAILURES}. */
export const SIMULAR_FALLO = z.enum(SIMULATED_FAILURES);

/** Fields every saga message carries in `data` (`reserva_id` is taken for `id_reserva`, as the reference code spells it). */
export const CORRELATED = { id_correlacion: text('id_correlacion'), id_reserva: text('id_reserva') };
const CORRELATED_SCHEMA = z.object(CORRELATED);
export type Correlated = z.infer<typeof CORRELATED_SCHEMA>;

/**
 * The failure to simulate travels on with the events that start the next participant's
 * part in the choreographed saga, where no coordinator holds it.
 */
const PROPAGATED = z.object({ simular_fallo: SIMULAR_FALLO.optional() });
export type Propagated = z.infer<typeof PROPAGATED>;

/** A flight leg (`origen`, `destino`, `fecha` by convention): any JSON object. */
const ITINERARIO = z.looseObject({}).meta({ description: 'A flight leg: origen, destino, fecha by convention.' });
export type Itinerario = z.infer<typeof ITINERARIO>;

/** The legs of a reservation: at most `LIMITS.itinerariosBytes` bytes as JSON (vuelos keeps them in a TEXT column). */
const ITINERARIOS = z
  .array(ITINERARIO)
  .refine((legs) => Buffer.byteLength(JSON.stringify(legs)) <= LIMITS.itinerariosBytes, { message: `larger than ${LIMITS.itinerariosBytes} bytes as JSON` })
  .meta({ description: `At most ${LIMITS.itinerariosBytes} bytes as JSON.` });

/** Deadlines (ms) a new saga gets instead of the coordinator's defaults. */
const PLAZOS = z.looseObject({ paso: z.number().optional(), compensacion: z.number().optional(), compensacionMax: z.number().optional(), horizonte: z.number().optional() });

const MOTIVO = { motivo: text('motivo') };
const FALLO = PROPAGATED.shape;
/** An epoch in ms. */
const epoch = () => z.number().meta({ description: 'epoch ms' });

/** A message type described once: its topic and the zod schema of its payload (`data`). */
export interface MessageSpec {
  topic: string;
  schema: z.ZodObject;
}

/** The messages of a system, by kind: each command on a topic of its own, events on their service's topic. */
export interface MessageSpecs {
  commands: Readonly<Record<string, MessageSpec>>;
  events: Readonly<Record<string, MessageSpec>>;
}

// --- The AeroAlpes messages (domain.md) -------------------------------------------------------

const COMMANDS = {
  /** vuelos asks the coordinator to run the saga for a new reservation request. */
  IniciarReserva: {
    topic: 'comando-iniciar-reserva',
    schema: z.object({ ...CORRELATED, id_cliente: text('id_cliente'), monto: z.number(), monto_vat: z.number(), itinerarios: ITINERARIOS, ...FALLO, plazos: PLAZOS.optional() }),
  },
  CrearReserva: {
    topic: 'comando-crear-reserva',
    schema: z.object({ ...CORRELATED, id_cliente: text('id_cliente'), monto: z.number(), monto_vat: z.number(), itinerarios: ITINERARIOS, ...FALLO }),
  },
  AprobarReserva: { topic: 'comando-aprobar-reserva', schema: z.object({ ...CORRELATED, ...FALLO }) },
  CancelarReserva: { topic: 'comando-cancelar-reserva', schema: z.object({ ...CORRELATED, ...MOTIVO }) },
  PagarReserva: { topic: 'comando-pagar-reserva', schema: z.object({ ...CORRELATED, monto: z.number(), monto_vat: z.number(), ...FALLO }) },
  RevertirPago: { topic: 'comando-revertir-pago', schema: z.object({ ...CORRELATED, ...MOTIVO, ...FALLO }) },
  ConfirmarReserva: { topic: 'comando-confirmar-reserva', schema: z.object({ ...CORRELATED, ...FALLO }) },
  RevertirConfirmacion: { topic: 'comando-revertir-confirmacion', schema: z.object({ ...CORRELATED, ...MOTIVO }) },
} satisfies Record<string, MessageSpec>;

const reserva = <S extends z.ZodObject>(schema: S) => ({ topic: 'evento-reserva', schema });
const pago = <S extends z.ZodObject>(schema: S) => ({ topic: 'evento-pago', schema });
const gds = <S extends z.ZodObject>(schema: S) => ({ topic: 'evento-gds', schema });
const failed = () => z.object({ ...CORRELATED, ...MOTIVO });

const EVENTS = {
  ReservaCreada: reserva(z.object({ ...CORRELATED, ...FALLO, id_cliente: text('id_cliente'), estado: text('estado'), fecha_creacion: epoch(), monto: z.number(), monto_vat: z.number() })),
  CreacionReservaFallida: reserva(failed()),
  ReservaAprobada: reserva(z.object({ ...CORRELATED, estado: text('estado'), fecha_actualizacion: epoch() })),
  AprobacionReservaFallida: reserva(failed()),
  ReservaCancelada: reserva(z.object({ ...CORRELATED, estado: text('estado'), fecha_actualizacion: epoch() })),
  CancelacionReservaFallida: reserva(failed()),
  ReservaPagada: pago(z.object({ ...CORRELATED, ...FALLO, id_pago: text('id_pago'), monto: z.number(), monto_vat: z.number(), fecha_creacion: epoch() })),
  PagoFallido: pago(failed()),
  PagoRevertido: pago(z.object({ ...CORRELATED, id_pago: text('id_pago'), fecha_actualizacion: epoch() })),
  ReversionPagoFallida: pago(failed()),
  ReservaGDSConfirmada: gds(z.object({ ...CORRELATED, fecha_confirmacion: epoch() })),
  ConfirmacionFallida: gds(failed()),
  ConfirmacionGDSRevertida: gds(z.object({ ...CORRELATED, fecha_actualizacion: epoch() })),
  ReversionConfirmacionFallida: gds(failed()),
  /**
   * A participant of the choreographed saga gave up a compensation and stops for manual
   * repair (`servicio`: vuelos, pagos or gds): the tracker shows the saga failed.
   */
  ReparacionManualRequerida: { topic: 'evento-reparacion-manual', schema: z.object({ ...CORRELATED, servicio: text('servicio'), ...MOTIVO }) },
} satisfies Record<string, MessageSpec>;

/** The payload (`data`) of each AeroAlpes command, as its schema describes it. */
export type Commands = { [T in keyof typeof COMMANDS]: z.infer<(typeof COMMANDS)[T]['schema']> };
/** The payload (`data`) of each AeroAlpes event, as its schema describes it. */
export type Events = { [T in keyof typeof EVENTS]: z.infer<(typeof EVENTS)[T]['schema']> };

export type CommandType = keyof Commands;
export type EventType = keyof Events;
export type MessageType = CommandType | EventType;
export type Payload<T extends MessageType> = T extends CommandType
  ? Commands[T]
  : T extends EventType
    ? Events[T]
    : never;

// --- The envelope --------------------------------------------------------------------------

/** W3C trace context `traceparent`: version, trace id, parent span id, flags. */
export const TRACEPARENT_PATTERN = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The envelope's fields (CloudEvents style, as in the reference system), `data` left to the
 * schema of each type. `ingestion` defaults to `time` and `datacontenttype` to
 * `application/json` (a value of the wrong kind too); `traceparent` and `tracestate` are the
 * CloudEvents distributed-tracing extension (W3C trace context): a malformed one is dropped,
 * the message is not refused for it.
 */
const ENVELOPE_SHAPE = {
  id: z.string().min(1).max(LIMITS.messageId),
  time: epoch(),
  ingestion: epoch().optional().catch(undefined),
  specversion: z.literal('v1'),
  type: z.string().min(1),
  datacontenttype: z.string().optional().catch(undefined),
  service_name: z.string().min(1).max(LIMITS.serviceName),
  data: z.unknown(),
  traceparent: z.string().max(LIMITS.traceparent).regex(TRACEPARENT_PATTERN).optional().catch(undefined),
  tracestate: z.string().max(LIMITS.tracestate).optional().catch(undefined),
};

interface Defaulted {
  time: number;
  ingestion?: number;
  datacontenttype?: string;
  traceparent?: string;
  tracestate?: string;
}

/** The envelope as parsed: defaults filled in, and no `undefined` left where a malformed optional field was dropped. */
function completed<E extends Defaulted>(envelope: E): Omit<E, 'ingestion' | 'datacontenttype'> & { ingestion: number; datacontenttype: string } {
  envelope.ingestion ??= envelope.time;
  envelope.datacontenttype ??= 'application/json';
  if (envelope.traceparent === undefined) delete envelope.traceparent;
  if (envelope.tracestate === undefined) delete envelope.tracestate;
  return envelope as E & { ingestion: number; datacontenttype: string };
}

/** Any envelope, whatever its type: what is checked of a message whose type nobody described. */
const ENVELOPE = z.object(ENVELOPE_SHAPE).transform(completed);

/** The wire envelope (CloudEvents style, as in the reference system). */
export interface Envelope<T extends string = string, D = Record<string, unknown>> extends Omit<z.output<typeof ENVELOPE>, 'type' | 'data'> {
  type: T;
  data: D & { id_correlacion: string };
}

export type MessageOf<T extends MessageType> = Envelope<T, Payload<T>>;

/** The reference code spells `id_reserva` both ways: `reserva_id` is taken for it (a copy; the input is not modified). */
function aliasReservaId(data: unknown): unknown {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return data;
  const { reserva_id, ...rest } = data as Record<string, unknown>;
  if (rest.id_reserva !== undefined || typeof reserva_id !== 'string') return data;
  return { ...rest, id_reserva: reserva_id };
}

/**
 * The whole message of one type: the envelope with `type` fixed and `data` checked against
 * the payload's schema (fields the schema does not name are kept, as a tolerant reader).
 */
function wireSchemaOf(type: string, payload: z.ZodObject) {
  return z.object({ ...ENVELOPE_SHAPE, type: z.literal(type), data: z.preprocess(aliasReservaId, payload.loose()) }).transform(completed);
}

// --- Reasons ---------------------------------------------------------------------------------

/** What a value is, in a reason: its JSON kind, or NaN / Infinity. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return typeof value;
}

/** A value in a reason: short, and as JSON so that nothing in it reads as part of the reason. */
function shown(value: unknown): string {
  const json = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? JSON.stringify(value) : kindOf(value);
  return json.length > 40 ? `${json.slice(0, 37)}...` : json;
}

/** The message of each zod issue in a reason (those with a message of their own in the schema keep it). */
function messageOf(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected}, received ${kindOf(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'number') return issue.inclusive ? `must be at least ${issue.minimum}` : `must be greater than ${issue.minimum}`;
      return issue.origin === 'string' && issue.minimum === 1 ? 'must not be empty' : undefined;
    case 'too_big':
      return issue.origin === 'string' ? `longer than ${issue.maximum} characters` : undefined;
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${shown(issue.values[0])}, received ${shown(issue.input)}`
        : `must be one of ${issue.values.join(', ')}; received ${shown(issue.input)}`;
    default:
      return undefined;
  }
}

const PARSE_OPTIONS = { error: messageOf };

/** `data.itinerarios[0]`, `id`. */
function pathOf(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
}

/** `PagarReserva: data.monto: expected number, received string`; `envelope: id: longer than 64 characters`. */
function reasonOf(type: string | undefined, error: z.ZodError): string {
  const [issue] = error.issues;
  const where = issue.path.length === 0 ? 'envelope' : pathOf(issue.path);
  return issue.path[0] === 'data' && type !== undefined ? `${type}: ${where}: ${issue.message}` : `envelope: ${where}: ${issue.message}`;
}

export type ParseResult = { ok: true; envelope: Envelope } | { ok: false; reason: string };

/**
 * Validates `value` with a schema built from these building blocks, with the reasons messages
 * get: the first issue's field path (`''` for the value itself) and what is wrong with it.
 * For what enters by another door than a message (an HTTP body). Never throws.
 *
 * @example
 * check(z.object({ monto: z.number() }), { monto: '10' });
 * // -> { ok: false, path: 'monto', message: 'expected number, received string' }
 */
export function check<S extends z.ZodType>(schema: S, value: unknown): { ok: true; value: z.output<S> } | { ok: false; path: string; message: string } {
  const result = schema.safeParse(value, PARSE_OPTIONS);
  if (result.success) return { ok: true, value: result.data };
  const [issue] = result.error.issues;
  return { ok: false, path: pathOf(issue.path), message: issue.message };
}

/** A JSON Schema (draft-07) object, as {@link MessageCatalog.jsonSchemaOf} returns it. */
export type JsonSchema = { [keyword: string]: unknown };

// --- The catalog ---------------------------------------------------------------------------

interface Entry extends MessageSpec {
  command: boolean;
  /** The envelope of this type with its payload, compiled once. */
  wire: ReturnType<typeof wireSchemaOf>;
}

/**
 * The message types a process knows: topic and schema of each, and the validator of what
 * enters. A new step's messages join with {@link MessageCatalog.with}; a type described twice
 * is refused.
 *
 * @example
 * const messages = AEROALPES_MESSAGES.with({
 *   commands: { ReservarHotel: { topic: 'comando-reservar-hotel', schema: z.object({ ...CORRELATED, simular_fallo: SIMULAR_FALLO.optional() }) } },
 *   events: { HotelReservado: { topic: 'evento-hotel', schema: z.object(CORRELATED) } },
 * });
 * messages.parse(buffer); // { ok: true, envelope } or { ok: false, reason }
 */
export class MessageCatalog {
  private readonly specs: Map<string, Entry>;
  private readonly jsonSchemas = new Map<string, JsonSchema>();
  private readonly fields = new Map<string, Record<string, { type: string; required: boolean }>>();

  constructor(readonly declared: MessageSpecs) {
    this.specs = new Map();
    for (const [kind, specs] of [['commands', declared.commands], ['events', declared.events]] as const) {
      for (const [type, spec] of Object.entries(specs)) {
        if (this.specs.has(type)) throw new Error(`message type "${type}" is described twice`);
        // Compiled once: a valid message takes zod's generated fast path (faster than the
        // hand-written validator this replaced, bench/parse.ts); an invalid one falls back to the
        // parser, which names the fault.
        this.specs.set(type, { ...spec, command: kind === 'commands', wire: z.compile(wireSchemaOf(type, spec.schema)) });
      }
    }
  }

  /** This catalog and `more`. */
  with(more: MessageSpecs): MessageCatalog {
    return new MessageCatalog({ commands: { ...this.declared.commands, ...more.commands }, events: { ...this.declared.events, ...more.events } }).checkDisjoint(this, more);
  }

  has(type: unknown): type is string {
    return typeof type === 'string' && this.specs.has(type);
  }

  /** The topic of `type`. @throws Error for a type the catalog does not describe. */
  topicOf(type: string): string {
    return this.spec(type).topic;
  }

  /** The zod schema of the payload (`data`) of `type`. */
  schemaOf(type: string): z.ZodObject {
    return this.spec(type).schema;
  }

  /**
   * The JSON Schema (draft-07) of a whole `type` message: the envelope with its payload in
   * `data`. It describes what a sender must send: {@link parse} also takes `reserva_id` for
   * `id_reserva` (the schema says so with an `anyOf`), and drops a malformed `traceparent`,
   * `tracestate`, `ingestion` or `datacontenttype` where the schema refuses it. Limits zod
   * checks in code (the bytes of `itinerarios`) are left to the description.
   */
  jsonSchemaOf(type: string): JsonSchema {
    let schema = this.jsonSchemas.get(type);
    if (!schema) {
      schema = withReservaIdAlias(z.toJSONSchema(this.spec(type).wire, { io: 'input', target: 'draft-07' }) as JsonSchema);
      this.jsonSchemas.set(type, schema);
    }
    return structuredClone(schema);
  }

  /**
   * The payload fields of `type`: JSON type of each (`string`, `number`, `array`, `object`)
   * and whether it is required, from its schema.
   *
   * @example
   * AEROALPES_MESSAGES.fieldsOf('PagoFallido') // { id_correlacion: { type: 'string', required: true }, ..., motivo: { ... } }
   */
  fieldsOf(type: string): Record<string, { type: string; required: boolean }> {
    let fields = this.fields.get(type);
    if (!fields) {
      const data = z.toJSONSchema(this.spec(type).schema, { io: 'input', target: 'draft-07' }) as { properties: Record<string, { type?: string }>; required?: string[] };
      fields = Object.fromEntries(Object.entries(data.properties).map(([field, schema]) => [field, { type: schema.type ?? 'object', required: data.required?.includes(field) ?? false }]));
      this.fields.set(type, fields);
    }
    return structuredClone(fields);
  }

  isCommand(type: string): boolean {
    return this.spec(type).command;
  }

  /** Every type, commands first, in the order they were described. */
  types(): string[] {
    return [...this.specs.keys()];
  }

  /** The topics `types` are published on, each once, as `{ type: topic }` (a saga's `consumes` and `commands`). */
  topicsOf<T extends string>(types: Iterable<T>): Record<T, string> {
    return Object.fromEntries([...types].map((t) => [t, this.topicOf(t)])) as Record<T, string>;
  }

  /**
   * Validates a raw message (a JSON string, bytes or a parsed object) against the envelope
   * and the payload schema of its type. Never throws. The reason names the field at fault
   * by its path: `PagarReserva: data.monto: expected number, received string`.
   *
   * @example
   * const r = AEROALPES_MESSAGES.parse(buffer);
   * if (!r.ok) deadLetter(r.reason); else handle(r.envelope);
   */
  parse(raw: unknown): ParseResult {
    try {
      return this.validate(raw);
    } catch (error) {
      // Only an object handed in with a getter that throws gets here; bytes and JSON never do.
      return { ok: false, reason: `not a message: ${(error as Error)?.message ?? String(error)}` };
    }
  }

  private validate(raw: unknown): ParseResult {
    let value: unknown = raw;
    if (raw instanceof Uint8Array) value = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch (error) {
        return { ok: false, reason: `not JSON: ${(error as Error).message}` };
      }
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'envelope must be a JSON object' };
    const type = (value as { type?: unknown }).type;
    const spec = typeof type === 'string' ? this.specs.get(type) : undefined;
    if (!spec) {
      // The envelope's own faults come first; a well-formed envelope of a type nobody described is refused for that.
      const envelope = ENVELOPE.safeParse(value, PARSE_OPTIONS);
      return { ok: false, reason: envelope.success ? `unknown message type "${String(type)}"` : reasonOf(undefined, envelope.error) };
    }
    const parsed = spec.wire.safeParse(value, PARSE_OPTIONS);
    if (!parsed.success) return { ok: false, reason: reasonOf(type as string, parsed.error) };
    return { ok: true, envelope: parsed.data as Envelope };
  }

  private spec(type: string) {
    const spec = this.specs.get(type);
    if (!spec) throw new Error(`unknown message type "${type}": describe it in the message catalog (machines/messages.ts, or MessageCatalog.with)`);
    return spec;
  }

  private checkDisjoint(base: MessageCatalog, more: MessageSpecs): this {
    for (const type of [...Object.keys(more.commands), ...Object.keys(more.events)]) if (base.has(type)) throw new Error(`message type "${type}" is described twice`);
    return this;
  }
}

/**
 * The JSON Schema of a message says what {@link aliasReservaId} lets through: `data` needs
 * `id_reserva`, or else `reserva_id` with the same constraints.
 */
function withReservaIdAlias(schema: JsonSchema): JsonSchema {
  const data = (schema.properties as Record<string, JsonSchema>).data;
  const properties = data.properties as Record<string, JsonSchema>;
  const required = data.required as string[];
  if (!properties.id_reserva || !required.includes('id_reserva')) return schema;
  data.required = required.filter((field) => field !== 'id_reserva');
  data.anyOf = [
    { required: ['id_reserva'] },
    { required: ['reserva_id'], properties: { reserva_id: { ...properties.id_reserva, description: 'The reference code\'s spelling of id_reserva, taken for it when id_reserva is absent.' } } },
  ];
  return schema;
}

/** The AeroAlpes messages (domain.md): each described once, with its topic and payload schema. */
export const AEROALPES_MESSAGES = new MessageCatalog({
  commands: COMMANDS,
  events: EVENTS,
} satisfies { commands: Record<CommandType, MessageSpec>; events: Record<EventType, MessageSpec> });

/** Topic of every AeroAlpes message: commands have one topic each, events one per service. */
export const TOPICS = AEROALPES_MESSAGES.topicsOf(AEROALPES_MESSAGES.types()) as Record<MessageType, string>;

/** The payload schema (zod) of every AeroAlpes message type. */
export const SCHEMAS = Object.fromEntries(AEROALPES_MESSAGES.types().map((t) => [t, AEROALPES_MESSAGES.schemaOf(t)])) as { [T in MessageType]: T extends CommandType ? (typeof COMMANDS)[T]['schema'] : T extends EventType ? (typeof EVENTS)[T]['schema'] : never };

export const COMMAND_TYPES = AEROALPES_MESSAGES.types().filter((t) => AEROALPES_MESSAGES.isCommand(t)) as CommandType[];

/** The topics events travel on. */
export const EVENT_TOPICS = [...new Set(Object.values(AEROALPES_MESSAGES.declared.events).map((spec) => spec.topic))];

export function isMessageType(type: unknown): type is MessageType {
  return AEROALPES_MESSAGES.has(type);
}

/**
 * Validates a raw AeroAlpes message against the envelope and the payload schema of its type
 * ({@link MessageCatalog.parse} of {@link AEROALPES_MESSAGES}). Never throws.
 *
 * @example
 * const r = parseEnvelope(buffer);
 * if (!r.ok) deadLetter(r.reason); else handle(r.envelope);
 */
export function parseEnvelope(raw: unknown): ParseResult {
  return AEROALPES_MESSAGES.parse(raw);
}

/**
 * The AeroAlpes messages: CloudEvents-style envelopes, the Spanish message names the
 * tutorial uses, the topic of each message, and a dependency-free validator.
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

export interface Itinerario {
  origen?: string;
  destino?: string;
  fecha?: string;
  [field: string]: unknown;
}

/** Fields every saga message carries in `data`. */
export interface Correlated {
  id_correlacion: string;
  id_reserva: string;
}

export interface Commands {
  /** vuelos asks the coordinator to run the saga for a new reservation request. */
  IniciarReserva: Correlated & {
    id_cliente: string;
    monto: number;
    monto_vat: number;
    itinerarios: Itinerario[];
    simular_fallo?: SimulatedFailure;
    plazos?: { paso?: number; compensacion?: number };
  };
  CrearReserva: Correlated & {
    id_cliente: string;
    monto: number;
    monto_vat: number;
    itinerarios: Itinerario[];
    simular_fallo?: SimulatedFailure;
  };
  AprobarReserva: Correlated & { simular_fallo?: SimulatedFailure };
  CancelarReserva: Correlated & { motivo: string };
  PagarReserva: Correlated & { monto: number; monto_vat: number; simular_fallo?: SimulatedFailure };
  RevertirPago: Correlated & { motivo: string; simular_fallo?: SimulatedFailure };
  ConfirmarReserva: Correlated & { simular_fallo?: SimulatedFailure };
  RevertirConfirmacion: Correlated & { motivo: string };
}

/**
 * The failure to simulate travels on with the events that start the next participant's
 * part in the choreographed saga, where no coordinator holds it.
 */
export interface Propagated {
  simular_fallo?: SimulatedFailure;
}

export interface Events {
  ReservaCreada: Correlated & Propagated & {
    id_cliente: string;
    estado: string;
    fecha_creacion: number;
    monto: number;
    monto_vat: number;
  };
  CreacionReservaFallida: Correlated & { motivo: string };
  ReservaAprobada: Correlated & { estado: string; fecha_actualizacion: number };
  AprobacionReservaFallida: Correlated & { motivo: string };
  ReservaCancelada: Correlated & { estado: string; fecha_actualizacion: number };
  CancelacionReservaFallida: Correlated & { motivo: string };
  ReservaPagada: Correlated & Propagated & { id_pago: string; monto: number; monto_vat: number; fecha_creacion: number };
  PagoFallido: Correlated & { motivo: string };
  PagoRevertido: Correlated & { id_pago: string; fecha_actualizacion: number };
  ReversionPagoFallida: Correlated & { motivo: string };
  ReservaGDSConfirmada: Correlated & { fecha_confirmacion: number };
  ConfirmacionFallida: Correlated & { motivo: string };
  ConfirmacionGDSRevertida: Correlated & { fecha_actualizacion: number };
  ReversionConfirmacionFallida: Correlated & { motivo: string };
  /**
   * A participant of the choreographed saga gave up a compensation and stops for manual
   * repair (`servicio`: vuelos, pagos or gds): the tracker shows the saga failed.
   */
  ReparacionManualRequerida: Correlated & { servicio: string; motivo: string };
}

export type CommandType = keyof Commands;
export type EventType = keyof Events;
export type MessageType = CommandType | EventType;
export type Payload<T extends MessageType> = T extends CommandType
  ? Commands[T]
  : T extends EventType
    ? Events[T]
    : never;

/** The wire envelope (CloudEvents style, as in the reference system). */
export interface Envelope<T extends string = string, D = Record<string, unknown>> {
  id: string;
  time: number;
  ingestion: number;
  specversion: 'v1';
  type: T;
  datacontenttype: string;
  service_name: string;
  data: D & { id_correlacion: string };
}

export type MessageOf<T extends MessageType> = Envelope<T, Payload<T>>;

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
} as const;

/** The most characters `field` may hold. */
export function maxLengthOf(field: string): number {
  return FIELD_LIMITS[field] ?? LIMITS.string;
}

type FieldKind = 'string' | 'number' | 'array' | 'object';
/** Payload fields of a message type and their kinds; `?` marks optional ones. */
export type Schema = Record<string, FieldKind | `${FieldKind}?`>;

/** A message type described once: its topic and the fields of its payload. */
export interface MessageSpec {
  topic: string;
  schema: Schema;
}

/** The messages of a system, by kind: each command on a topic of its own, events on their service's topic. */
export interface MessageSpecs {
  commands: Readonly<Record<string, MessageSpec>>;
  events: Readonly<Record<string, MessageSpec>>;
}

/**
 * The message types a process knows: topic and schema of each, and the validator of what
 * enters. A new step's messages join with {@link MessageCatalog.with}; a type described twice
 * is refused.
 *
 * @example
 * const messages = AEROALPES_MESSAGES.with({
 *   commands: { ReservarHotel: { topic: 'comando-reservar-hotel', schema: { id_correlacion: 'string', id_reserva: 'string' } } },
 *   events: { HotelReservado: { topic: 'evento-hotel', schema: { id_correlacion: 'string', id_reserva: 'string' } } },
 * });
 * messages.parse(buffer); // { ok: true, envelope } or { ok: false, reason }
 */
export class MessageCatalog {
  private readonly specs: Map<string, MessageSpec & { command: boolean }>;

  constructor(readonly declared: MessageSpecs) {
    this.specs = new Map();
    for (const [kind, specs] of [['commands', declared.commands], ['events', declared.events]] as const) {
      for (const [type, spec] of Object.entries(specs)) {
        if (this.specs.has(type)) throw new Error(`message type "${type}" is described twice`);
        this.specs.set(type, { ...spec, command: kind === 'commands' });
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

  schemaOf(type: string): Schema {
    return this.spec(type).schema;
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
   * and the payload schema of its type. Never throws.
   *
   * @example
   * const r = AEROALPES_MESSAGES.parse(buffer);
   * if (!r.ok) deadLetter(r.reason); else handle(r.envelope);
   */
  parse(raw: unknown): ParseResult {
    return parseWith(this, raw);
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

const correlated: Schema = { id_correlacion: 'string', id_reserva: 'string' };
const withReason: Schema = { ...correlated, motivo: 'string' };
const failure = { simular_fallo: 'string?' } as const;
const reserva = (schema: Schema): MessageSpec => ({ topic: 'evento-reserva', schema });
const pago = (schema: Schema): MessageSpec => ({ topic: 'evento-pago', schema });
const gds = (schema: Schema): MessageSpec => ({ topic: 'evento-gds', schema });

/** The AeroAlpes messages (domain.md): each described once, with its topic and payload fields. */
export const AEROALPES_MESSAGES = new MessageCatalog({
  commands: {
    IniciarReserva: {
      topic: 'comando-iniciar-reserva',
      schema: { ...correlated, id_cliente: 'string', monto: 'number', monto_vat: 'number', itinerarios: 'array', ...failure, plazos: 'object?' },
    },
    CrearReserva: { topic: 'comando-crear-reserva', schema: { ...correlated, id_cliente: 'string', monto: 'number', monto_vat: 'number', itinerarios: 'array', ...failure } },
    AprobarReserva: { topic: 'comando-aprobar-reserva', schema: { ...correlated, ...failure } },
    CancelarReserva: { topic: 'comando-cancelar-reserva', schema: withReason },
    PagarReserva: { topic: 'comando-pagar-reserva', schema: { ...correlated, monto: 'number', monto_vat: 'number', ...failure } },
    RevertirPago: { topic: 'comando-revertir-pago', schema: { ...withReason, ...failure } },
    ConfirmarReserva: { topic: 'comando-confirmar-reserva', schema: { ...correlated, ...failure } },
    RevertirConfirmacion: { topic: 'comando-revertir-confirmacion', schema: withReason },
  },
  events: {
    ReservaCreada: reserva({ ...correlated, id_cliente: 'string', estado: 'string', fecha_creacion: 'number', monto: 'number', monto_vat: 'number', ...failure }),
    CreacionReservaFallida: reserva(withReason),
    ReservaAprobada: reserva({ ...correlated, estado: 'string', fecha_actualizacion: 'number' }),
    AprobacionReservaFallida: reserva(withReason),
    ReservaCancelada: reserva({ ...correlated, estado: 'string', fecha_actualizacion: 'number' }),
    CancelacionReservaFallida: reserva(withReason),
    ReservaPagada: pago({ ...correlated, id_pago: 'string', monto: 'number', monto_vat: 'number', fecha_creacion: 'number', ...failure }),
    PagoFallido: pago(withReason),
    PagoRevertido: pago({ ...correlated, id_pago: 'string', fecha_actualizacion: 'number' }),
    ReversionPagoFallida: pago(withReason),
    ReservaGDSConfirmada: gds({ ...correlated, fecha_confirmacion: 'number' }),
    ConfirmacionFallida: gds(withReason),
    ConfirmacionGDSRevertida: gds({ ...correlated, fecha_actualizacion: 'number' }),
    ReversionConfirmacionFallida: gds(withReason),
    ReparacionManualRequerida: { topic: 'evento-reparacion-manual', schema: { ...withReason, servicio: 'string' } },
  },
} satisfies { commands: Record<CommandType, MessageSpec>; events: Record<EventType, MessageSpec> });

/** Topic of every AeroAlpes message: commands have one topic each, events one per service. */
export const TOPICS = AEROALPES_MESSAGES.topicsOf(AEROALPES_MESSAGES.types()) as Record<MessageType, string>;

/** Required payload fields per AeroAlpes message type; `?` marks optional ones. */
export const SCHEMAS = Object.fromEntries(AEROALPES_MESSAGES.types().map((t) => [t, AEROALPES_MESSAGES.schemaOf(t)])) as Record<MessageType, Schema>;

export const COMMAND_TYPES = AEROALPES_MESSAGES.types().filter((t) => AEROALPES_MESSAGES.isCommand(t)) as CommandType[];

/** The topics events travel on. */
export const EVENT_TOPICS = [...new Set(Object.values(AEROALPES_MESSAGES.declared.events).map((spec) => spec.topic))];

export function isMessageType(type: unknown): type is MessageType {
  return AEROALPES_MESSAGES.has(type);
}

export type ParseResult = { ok: true; envelope: Envelope } | { ok: false; reason: string };

function kindOf(value: unknown): FieldKind | 'null' | 'undefined' | 'boolean' | 'other' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const t = typeof value;
  if (t === 'string' || t === 'number' || t === 'object' || t === 'undefined' || t === 'boolean') {
    return t === 'number' && !Number.isFinite(value as number) ? 'other' : t;
  }
  return 'other';
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

function parseWith(catalog: MessageCatalog, raw: unknown): ParseResult {
  let value: unknown = raw;
  if (raw instanceof Uint8Array) value = Buffer.from(raw).toString('utf8');
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (error) {
      return { ok: false, reason: `not JSON: ${(error as Error).message}` };
    }
  }
  if (kindOf(value) !== 'object') return { ok: false, reason: 'envelope must be a JSON object' };
  const env = value as Record<string, unknown>;
  for (const field of ['id', 'type', 'service_name'] as const) {
    if (typeof env[field] !== 'string' || env[field] === '') {
      return { ok: false, reason: `envelope field "${field}" must be a non-empty string` };
    }
  }
  if ((env.id as string).length > LIMITS.messageId) return { ok: false, reason: `envelope field "id" is longer than ${LIMITS.messageId} characters` };
  if ((env.service_name as string).length > LIMITS.serviceName) {
    return { ok: false, reason: `envelope field "service_name" is longer than ${LIMITS.serviceName} characters` };
  }
  if (kindOf(env.time) !== 'number') return { ok: false, reason: 'envelope field "time" must be a number (epoch ms)' };
  if (env.specversion !== 'v1') return { ok: false, reason: `unsupported specversion ${JSON.stringify(env.specversion)}` };
  if (!catalog.has(env.type)) return { ok: false, reason: `unknown message type "${String(env.type)}"` };
  if (kindOf(env.data) !== 'object') return { ok: false, reason: 'envelope field "data" must be an object' };

  const data = { ...(env.data as Record<string, unknown>) };
  if (data.id_reserva === undefined && typeof data.reserva_id === 'string') {
    data.id_reserva = data.reserva_id; // the reference code spells it both ways
    delete data.reserva_id;
  }
  for (const [field, spec] of Object.entries(catalog.schemaOf(env.type))) {
    const optional = spec.endsWith('?');
    const expected = spec.replace('?', '') as FieldKind;
    const actual = kindOf(data[field]);
    if (actual === 'undefined' && optional) continue;
    if (actual !== expected) {
      return { ok: false, reason: `${env.type}: field "data.${field}" must be ${expected}, got ${actual}` };
    }
    if (expected === 'string' && data[field] === '') {
      return { ok: false, reason: `${env.type}: field "data.${field}" must not be empty` };
    }
    if (expected === 'string' && (data[field] as string).length > maxLengthOf(field)) {
      return { ok: false, reason: `${env.type}: field "data.${field}" is longer than ${maxLengthOf(field)} characters` };
    }
  }
  if (Array.isArray(data.itinerarios) && Buffer.byteLength(JSON.stringify(data.itinerarios)) > LIMITS.itinerariosBytes) {
    return { ok: false, reason: `${env.type}: field "data.itinerarios" is larger than ${LIMITS.itinerariosBytes} bytes as JSON` };
  }
  if (typeof data.simular_fallo === 'string' && !(SIMULATED_FAILURES as readonly string[]).includes(data.simular_fallo)) {
    return { ok: false, reason: `${env.type}: field "data.simular_fallo" must be one of ${SIMULATED_FAILURES.join(', ')}` };
  }
  const envelope: Envelope = {
    id: env.id as string,
    time: env.time as number,
    ingestion: kindOf(env.ingestion) === 'number' ? (env.ingestion as number) : (env.time as number),
    specversion: 'v1',
    type: env.type,
    datacontenttype: typeof env.datacontenttype === 'string' ? env.datacontenttype : 'application/json',
    service_name: env.service_name as string,
    data: data as Envelope['data'],
  };
  return { ok: true, envelope };
}

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

/** Topic of every message: commands have one topic each, events one per service. */
export const TOPICS: Record<MessageType, string> = {
  IniciarReserva: 'comando-iniciar-reserva',
  CrearReserva: 'comando-crear-reserva',
  AprobarReserva: 'comando-aprobar-reserva',
  CancelarReserva: 'comando-cancelar-reserva',
  PagarReserva: 'comando-pagar-reserva',
  RevertirPago: 'comando-revertir-pago',
  ConfirmarReserva: 'comando-confirmar-reserva',
  RevertirConfirmacion: 'comando-revertir-confirmacion',
  ReservaCreada: 'evento-reserva',
  CreacionReservaFallida: 'evento-reserva',
  ReservaAprobada: 'evento-reserva',
  AprobacionReservaFallida: 'evento-reserva',
  ReservaCancelada: 'evento-reserva',
  CancelacionReservaFallida: 'evento-reserva',
  ReservaPagada: 'evento-pago',
  PagoFallido: 'evento-pago',
  PagoRevertido: 'evento-pago',
  ReversionPagoFallida: 'evento-pago',
  ReservaGDSConfirmada: 'evento-gds',
  ConfirmacionFallida: 'evento-gds',
  ConfirmacionGDSRevertida: 'evento-gds',
  ReversionConfirmacionFallida: 'evento-gds',
  ReparacionManualRequerida: 'evento-reparacion-manual',
};

export const EVENT_TOPICS = ['evento-reserva', 'evento-pago', 'evento-gds', 'evento-reparacion-manual'] as const;

export const COMMAND_TYPES: readonly CommandType[] = [
  'IniciarReserva',
  'CrearReserva',
  'AprobarReserva',
  'CancelarReserva',
  'PagarReserva',
  'RevertirPago',
  'ConfirmarReserva',
  'RevertirConfirmacion',
];

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
type Schema = Record<string, FieldKind | `${FieldKind}?`>;

const correlated: Schema = { id_correlacion: 'string', id_reserva: 'string' };
const withReason: Schema = { ...correlated, motivo: 'string' };
const failure = { simular_fallo: 'string?' } as const;

/** Required payload fields per message type; `?` marks optional ones. */
export const SCHEMAS: Record<MessageType, Schema> = {
  IniciarReserva: {
    ...correlated,
    id_cliente: 'string',
    monto: 'number',
    monto_vat: 'number',
    itinerarios: 'array',
    ...failure,
    plazos: 'object?',
  },
  CrearReserva: {
    ...correlated,
    id_cliente: 'string',
    monto: 'number',
    monto_vat: 'number',
    itinerarios: 'array',
    ...failure,
  },
  AprobarReserva: { ...correlated, ...failure },
  CancelarReserva: withReason,
  PagarReserva: { ...correlated, monto: 'number', monto_vat: 'number', ...failure },
  RevertirPago: { ...withReason, ...failure },
  ConfirmarReserva: { ...correlated, ...failure },
  RevertirConfirmacion: withReason,
  ReservaCreada: {
    ...correlated,
    id_cliente: 'string',
    estado: 'string',
    fecha_creacion: 'number',
    monto: 'number',
    monto_vat: 'number',
    ...failure,
  },
  CreacionReservaFallida: withReason,
  ReservaAprobada: { ...correlated, estado: 'string', fecha_actualizacion: 'number' },
  AprobacionReservaFallida: withReason,
  ReservaCancelada: { ...correlated, estado: 'string', fecha_actualizacion: 'number' },
  CancelacionReservaFallida: withReason,
  ReservaPagada: { ...correlated, id_pago: 'string', monto: 'number', monto_vat: 'number', fecha_creacion: 'number', ...failure },
  PagoFallido: withReason,
  PagoRevertido: { ...correlated, id_pago: 'string', fecha_actualizacion: 'number' },
  ReversionPagoFallida: withReason,
  ReservaGDSConfirmada: { ...correlated, fecha_confirmacion: 'number' },
  ConfirmacionFallida: withReason,
  ConfirmacionGDSRevertida: { ...correlated, fecha_actualizacion: 'number' },
  ReversionConfirmacionFallida: withReason,
  ReparacionManualRequerida: { ...withReason, servicio: 'string' },
};

export function isMessageType(type: unknown): type is MessageType {
  return typeof type === 'string' && Object.prototype.hasOwnProperty.call(SCHEMAS, type);
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
 * Validates a raw message (a JSON string, bytes or a parsed object) against the envelope
 * and the payload schema of its type. Never throws.
 *
 * @example
 * const r = parseEnvelope(buffer);
 * if (!r.ok) deadLetter(r.reason); else handle(r.envelope);
 */
export function parseEnvelope(raw: unknown): ParseResult {
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
  if (!isMessageType(env.type)) return { ok: false, reason: `unknown message type "${String(env.type)}"` };
  if (kindOf(env.data) !== 'object') return { ok: false, reason: 'envelope field "data" must be an object' };

  const data = { ...(env.data as Record<string, unknown>) };
  if (data.id_reserva === undefined && typeof data.reserva_id === 'string') {
    data.id_reserva = data.reserva_id; // the reference code spells it both ways
    delete data.reserva_id;
  }
  for (const [field, spec] of Object.entries(SCHEMAS[env.type])) {
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

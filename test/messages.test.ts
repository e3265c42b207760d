import { expect } from 'chai';
import {
  COMMAND_TYPES,
  EVENT_TOPICS,
  SCHEMAS,
  SIMULATED_FAILURES,
  TOPICS,
  parseEnvelope,
  type CommandType,
  type Envelope,
  type EventType,
  type MessageType,
  type ParseResult,
  type Payload,
} from '../machines/messages.ts';
import { reservaSaga } from '../machines/reserva.ts';
import { makeEnvelope } from '../runtime/envelope.ts';

const ids = { id_correlacion: 'c-1', id_reserva: 'R-1' };

/** A valid payload of every message type (typed: a field the interfaces require cannot be missing). */
const SAMPLES: { [T in MessageType]: Payload<T> } = {
  IniciarReserva: { ...ids, id_cliente: 'cliente-1', monto: 250, monto_vat: 47.5, itinerarios: [], plazos: { paso: 1000 } },
  CrearReserva: {
    ...ids,
    id_cliente: 'cliente-1',
    monto: 250,
    monto_vat: 47.5,
    itinerarios: [{ origen: 'BOG', destino: 'MDE', fecha: '2026-12-24' }],
    simular_fallo: 'pago',
  },
  AprobarReserva: { ...ids },
  CancelarReserva: { ...ids, motivo: 'pago rechazado' },
  PagarReserva: { ...ids, monto: 250, monto_vat: 47.5 },
  RevertirPago: { ...ids, motivo: 'gds caído', simular_fallo: 'revertir-pago' },
  ConfirmarReserva: { ...ids },
  RevertirConfirmacion: { ...ids, motivo: 'aprobación rechazada' },
  ReservaCreada: { ...ids, id_cliente: 'cliente-1', estado: 'PENDIENTE', fecha_creacion: 1, monto: 250, monto_vat: 47.5 },
  CreacionReservaFallida: { ...ids, motivo: 'sin cupo' },
  ReservaAprobada: { ...ids, estado: 'APROBADA', fecha_actualizacion: 2 },
  AprobacionReservaFallida: { ...ids, motivo: 'rechazada' },
  ReservaCancelada: { ...ids, estado: 'CANCELADA', fecha_actualizacion: 3 },
  CancelacionReservaFallida: { ...ids, motivo: 'no cancelable' },
  ReservaPagada: { ...ids, id_pago: 'P-1', monto: 250, monto_vat: 47.5, fecha_creacion: 4 },
  PagoFallido: { ...ids, motivo: 'fondos insuficientes' },
  PagoRevertido: { ...ids, id_pago: 'P-1', fecha_actualizacion: 5 },
  ReversionPagoFallida: { ...ids, motivo: 'banco caído' },
  ReservaGDSConfirmada: { ...ids, fecha_confirmacion: 6 },
  ConfirmacionFallida: { ...ids, motivo: 'gds caído' },
  ConfirmacionGDSRevertida: { ...ids, fecha_actualizacion: 7 },
  ReparacionManualRequerida: { ...ids, servicio: 'pagos', motivo: 'compensación agotada: RevertirPago' },
  ReversionConfirmacionFallida: { ...ids, motivo: 'gds caído' },
};

const MESSAGE_TYPES = Object.keys(SCHEMAS) as MessageType[];

/** A raw envelope object of `type` (valid with the default data), to break on purpose. */
function envelopeOf(type: MessageType, data: object = SAMPLES[type]): Record<string, unknown> {
  return { ...makeEnvelope(type, { ...(data as { id_correlacion: string }) }, 'test.service') };
}

/** A valid PagarReserva envelope with `changes` applied to its data. */
function pagarWith(changes: Record<string, unknown>): Record<string, unknown> {
  const env = envelopeOf('PagarReserva');
  return { ...env, data: { ...(env.data as object), ...changes } };
}

function accepted(result: ParseResult): Envelope {
  if (!result.ok) throw new Error(`expected the envelope to be accepted, it was rejected: ${result.reason}`);
  return result.envelope;
}

function reasonOf(result: ParseResult): string {
  if (result.ok) throw new Error(`expected a rejection, got an accepted ${result.envelope.type}`);
  return result.reason;
}

describe('parseEnvelope', () => {
  describe('accepts', () => {
    for (const type of MESSAGE_TYPES) {
      it(`should accept a valid ${type} envelope`, () => {
        const sent = makeEnvelope(type, { ...SAMPLES[type] }, 'test.service');
        const envelope = accepted(parseEnvelope(sent));
        expect(envelope).to.deep.equal(sent);
      });
    }

    it('should accept the envelope as a Buffer', () => {
      const sent = makeEnvelope('PagarReserva', { ...SAMPLES.PagarReserva }, 'test.service');
      const envelope = accepted(parseEnvelope(Buffer.from(JSON.stringify(sent), 'utf8')));
      expect(envelope).to.deep.equal(sent);
    });

    it('should accept the envelope as a Uint8Array', () => {
      const sent = makeEnvelope('ReservaPagada', { ...SAMPLES.ReservaPagada }, 'test.service');
      const envelope = accepted(parseEnvelope(new TextEncoder().encode(JSON.stringify(sent))));
      expect(envelope).to.deep.equal(sent);
    });

    it('should accept the envelope as a JSON string', () => {
      const sent = makeEnvelope('CrearReserva', { ...SAMPLES.CrearReserva }, 'test.service');
      const envelope = accepted(parseEnvelope(JSON.stringify(sent)));
      expect(envelope).to.deep.equal(sent);
    });

    it('should normalise data.reserva_id to data.id_reserva', () => {
      const { id_reserva, ...rest } = SAMPLES.ReservaCreada;
      const raw = envelopeOf('ReservaCreada', { ...rest, reserva_id: id_reserva });
      const envelope = accepted(parseEnvelope(JSON.stringify(raw)));
      expect(envelope.data).to.include({ id_reserva: 'R-1' });
      expect(envelope.data).to.not.have.property('reserva_id');
    });

    it('should not modify the object it was given', () => {
      const { id_reserva, ...rest } = SAMPLES.PagoFallido;
      const raw = envelopeOf('PagoFallido', { ...rest, reserva_id: id_reserva });
      const copy = structuredClone(raw);
      accepted(parseEnvelope(raw));
      expect(raw).to.deep.equal(copy);
    });

    it('should default ingestion to time and datacontenttype to application/json', () => {
      const { ingestion: _ingestion, datacontenttype: _type, ...raw } = envelopeOf('PagoFallido');
      const envelope = accepted(parseEnvelope(raw));
      expect(envelope.ingestion).to.equal(raw.time);
      expect(envelope.datacontenttype).to.equal('application/json');
    });

    it('should accept a message without its optional simular_fallo', () => {
      const { simular_fallo: _, ...data } = SAMPLES.CrearReserva;
      accepted(parseEnvelope(envelopeOf('CrearReserva', data)));
    });

    it('should keep payload fields the schema does not name (a tolerant reader)', () => {
      const envelope = accepted(parseEnvelope(pagarWith({ moneda: 'COP', detalle: { cuotas: 1 } })));
      expect(envelope.data).to.deep.include({ moneda: 'COP', detalle: { cuotas: 1 } });
    });

    it('should drop envelope fields it does not know', () => {
      const envelope = accepted(parseEnvelope({ ...envelopeOf('PagarReserva'), extra: 'x' }));
      expect(envelope).to.not.have.property('extra');
    });

    it('should take a malformed ingestion or datacontenttype for their defaults', () => {
      const envelope = accepted(parseEnvelope({ ...envelopeOf('PagoFallido'), ingestion: 'ayer', datacontenttype: 7 }));
      expect(envelope.ingestion).to.equal(envelope.time);
      expect(envelope.datacontenttype).to.equal('application/json');
    });

    for (const failure of SIMULATED_FAILURES) {
      it(`should accept simular_fallo "${failure}"`, () => {
        expect(accepted(parseEnvelope(pagarWith({ simular_fallo: failure }))).data).to.include({ simular_fallo: failure });
      });
    }
  });

  describe('trace context (CloudEvents distributed-tracing extension)', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

    it('should keep a valid traceparent and tracestate', () => {
      const sent = { ...envelopeOf('ReservaCreada'), traceparent, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' };
      const envelope = accepted(parseEnvelope(JSON.stringify(sent)));
      expect(envelope).to.include({ traceparent, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' });
      expect(envelope).to.deep.equal(sent);
    });

    it('should leave them out when the message has none', () => {
      const envelope = accepted(parseEnvelope(envelopeOf('ReservaCreada')));
      expect(envelope).to.not.have.any.keys('traceparent', 'tracestate');
    });

    for (const [label, bad] of [
      ['upper-case hex', traceparent.toUpperCase()],
      ['a short trace id', '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01'],
      ['a trailing field', `${traceparent}-00`],
      ['a number', 42],
      ['an empty string', ''],
    ] as const) {
      it(`should drop a traceparent with ${label}, not refuse the message`, () => {
        const envelope = accepted(parseEnvelope({ ...envelopeOf('ReservaCreada'), traceparent: bad, tracestate: 'a=b' }));
        expect(envelope).to.not.have.property('traceparent');
        expect(envelope.tracestate).to.equal('a=b');
        expect(envelope.data).to.deep.equal(SAMPLES.ReservaCreada);
      });
    }

    it('should drop a tracestate longer than 512 characters or not a string, and keep the traceparent', () => {
      for (const bad of ['a='.padEnd(513, 'x'), { a: 'b' }]) {
        const envelope = accepted(parseEnvelope({ ...envelopeOf('ReservaCreada'), traceparent, tracestate: bad }));
        expect(envelope).to.not.have.property('tracestate');
        expect(envelope.traceparent).to.equal(traceparent);
      }
    });
  });

  describe('rejects', () => {
    it('should reject a payload that is not JSON', () => {
      expect(reasonOf(parseEnvelope('{"id": '))).to.match(/^not JSON/);
      expect(reasonOf(parseEnvelope(Buffer.from('\u00ff garbage')))).to.match(/^not JSON/);
    });

    for (const [label, raw] of [
      ['an array', '[1, 2]'],
      ['a string', '"hola"'],
      ['a number', 42],
      ['null', 'null'],
      ['undefined', undefined],
    ] as const) {
      it(`should reject ${label} as not an object`, () => {
        expect(reasonOf(parseEnvelope(raw))).to.match(/must be a JSON object/);
      });
    }

    it('should reject an envelope without an id, naming the field', () => {
      const { id: _, ...raw } = envelopeOf('PagarReserva');
      expect(reasonOf(parseEnvelope(raw))).to.equal('envelope: id: expected string, received undefined');
    });

    it('should reject an envelope without an id before saying its type is unknown', () => {
      const { id: _, ...raw } = envelopeOf('PagarReserva');
      expect(reasonOf(parseEnvelope({ ...raw, type: 'ReservaTeletransportada' }))).to.equal('envelope: id: expected string, received undefined');
    });

    it('should reject an envelope with an empty type or service_name, naming the field', () => {
      expect(reasonOf(parseEnvelope({ ...envelopeOf('PagarReserva'), type: '' }))).to.equal('envelope: type: must not be empty');
      expect(reasonOf(parseEnvelope({ ...envelopeOf('PagarReserva'), service_name: '' }))).to.equal('envelope: service_name: must not be empty');
    });

    it('should reject an envelope id or service_name longer than its column, naming it', () => {
      expect(reasonOf(parseEnvelope({ ...envelopeOf('PagarReserva'), id: 'i'.repeat(65) }))).to.equal('envelope: id: longer than 64 characters');
      expect(reasonOf(parseEnvelope({ ...envelopeOf('PagarReserva'), service_name: 's'.repeat(129) }))).to.equal('envelope: service_name: longer than 128 characters');
    });

    it('should reject an envelope whose time is not a number', () => {
      expect(reasonOf(parseEnvelope({ ...envelopeOf('PagarReserva'), time: '2026-01-01' }))).to.equal('envelope: time: expected number, received string');
    });

    it('should reject an unsupported specversion, naming it', () => {
      expect(reasonOf(parseEnvelope({ ...envelopeOf('PagarReserva'), specversion: 'v2' }))).to.equal('envelope: specversion: expected "v1", received "v2"');
      expect(reasonOf(parseEnvelope({ ...envelopeOf('PagarReserva'), specversion: undefined }))).to.match(/^envelope: specversion: expected "v1", received undefined/);
    });

    it('should reject an unknown message type, naming it', () => {
      expect(reasonOf(parseEnvelope({ ...envelopeOf('PagarReserva'), type: 'ReservaTeletransportada' }))).to.match(
        /unknown message type "ReservaTeletransportada"/,
      );
    });

    it('should reject an inherited property name as an unknown message type', () => {
      expect(reasonOf(parseEnvelope({ ...envelopeOf('PagarReserva'), type: 'toString' }))).to.match(/unknown message type "toString"/);
    });

    for (const [label, data] of [
      ['an array', []],
      ['a string', 'data'],
      ['null', null],
      ['missing', undefined],
    ] as const) {
      it(`should reject data that is ${label}`, () => {
        expect(reasonOf(parseEnvelope({ ...envelopeOf('PagarReserva'), data }))).to.match(/^PagarReserva: data: expected object, received (array|string|null|undefined)$/);
      });
    }

    it('should reject a missing required field, naming data.<field>', () => {
      const { monto: _, ...data } = SAMPLES.PagarReserva;
      const reason = reasonOf(parseEnvelope(envelopeOf('PagarReserva', data)));
      expect(reason).to.equal('PagarReserva: data.monto: expected number, received undefined');
    });

    it('should reject a missing id_correlacion, naming data.id_correlacion', () => {
      const { id_correlacion: _, ...data } = SAMPLES.ReservaCreada;
      expect(reasonOf(parseEnvelope(envelopeOf('ReservaCreada', data)))).to.equal('ReservaCreada: data.id_correlacion: expected string, received undefined');
    });

    for (const [field, value, expected, actual] of [
      ['monto', '250', 'number', 'string'],
      ['monto_vat', null, 'number', 'null'],
      ['id_reserva', 7, 'string', 'number'],
      ['monto', Number.NaN, 'number', 'NaN'],
      ['monto', Number.POSITIVE_INFINITY, 'number', 'Infinity'],
    ] as const) {
      it(`should reject data.${field} = ${String(value)}, naming the field's path and both kinds`, () => {
        const reason = reasonOf(parseEnvelope(pagarWith({ [field]: value })));
        expect(reason).to.equal(`PagarReserva: data.${field}: expected ${expected}, received ${actual}`);
      });
    }

    it('should reject a list field that is not an array, naming data.itinerarios', () => {
      const reason = reasonOf(parseEnvelope(envelopeOf('CrearReserva', { ...SAMPLES.CrearReserva, itinerarios: { origen: 'BOG' } })));
      expect(reason).to.equal('CrearReserva: data.itinerarios: expected array, received object');
    });

    it('should reject a flight leg that is not an object, naming its index in the path', () => {
      const reason = reasonOf(parseEnvelope(envelopeOf('CrearReserva', { ...SAMPLES.CrearReserva, itinerarios: [{ origen: 'BOG' }, 'MDE'] })));
      expect(reason).to.equal('CrearReserva: data.itinerarios[1]: expected object, received string');
    });

    it('should reject itinerarios over their size in JSON, naming data.itinerarios', () => {
      const reason = reasonOf(parseEnvelope(envelopeOf('CrearReserva', { ...SAMPLES.CrearReserva, itinerarios: [{ nota: 'x'.repeat(17 * 1024) }] })));
      expect(reason).to.equal('CrearReserva: data.itinerarios: larger than 16384 bytes as JSON');
    });

    it('should reject a nested field of the wrong kind, naming its whole path', () => {
      const reason = reasonOf(parseEnvelope(envelopeOf('IniciarReserva', { ...SAMPLES.IniciarReserva, plazos: { paso: '1s' } })));
      expect(reason).to.equal('IniciarReserva: data.plazos.paso: expected number, received string');
    });

    it('should reject an empty required string, naming the field', () => {
      const reason = reasonOf(parseEnvelope(pagarWith({ id_reserva: '' })));
      expect(reason).to.equal('PagarReserva: data.id_reserva: must not be empty');
    });

    it('should reject a string field longer than its column, naming the field', () => {
      expect(reasonOf(parseEnvelope(pagarWith({ id_correlacion: 'c'.repeat(65) })))).to.equal('PagarReserva: data.id_correlacion: longer than 64 characters');
      expect(reasonOf(parseEnvelope(envelopeOf('PagoFallido', { ...SAMPLES.PagoFallido, motivo: 'm'.repeat(1001) })))).to.equal('PagoFallido: data.motivo: longer than 1000 characters');
    });

    it('should reject an unknown simular_fallo, naming data.simular_fallo and the values it may take', () => {
      const reason = reasonOf(parseEnvelope(pagarWith({ simular_fallo: 'meteorito' })));
      expect(reason).to.equal(`PagarReserva: data.simular_fallo: must be one of ${SIMULATED_FAILURES.join(', ')}; received "meteorito"`);
    });

    it('should reject a simular_fallo that is not a string, naming data.simular_fallo', () => {
      const reason = reasonOf(parseEnvelope(pagarWith({ simular_fallo: true })));
      expect(reason).to.include('PagarReserva: data.simular_fallo: must be one of').and.include('received true');
    });

    it('should refuse, not throw, an object whose field throws when read', () => {
      const raw = { ...envelopeOf('PagarReserva') };
      Object.defineProperty(raw, 'id', { enumerable: true, get: () => { throw new Error('boom'); } });
      expect(reasonOf(parseEnvelope(raw))).to.equal('not a message: boom');
    });

    it('should keep a long value out of the reason', () => {
      const reason = reasonOf(parseEnvelope(pagarWith({ simular_fallo: 'x'.repeat(5000) })));
      expect(reason.length).to.be.below(200);
    });
  });
});

describe('message catalogue', () => {
  it('should give every message type in SCHEMAS a topic in TOPICS, and no other', () => {
    const missing = MESSAGE_TYPES.filter((type) => typeof TOPICS[type] !== 'string' || TOPICS[type] === '');
    expect(missing, 'message types without a topic').to.deep.equal([]);
    expect(Object.keys(TOPICS).sort()).to.deep.equal([...MESSAGE_TYPES].sort());
  });

  it('should put every event on one of EVENT_TOPICS and every command on a topic of its own', () => {
    const commands = MESSAGE_TYPES.filter((t) => (COMMAND_TYPES as readonly string[]).includes(t)) as CommandType[];
    const events = MESSAGE_TYPES.filter((t) => !(COMMAND_TYPES as readonly string[]).includes(t)) as EventType[];
    expect(Object.keys(reservaSaga.commands).every((c) => commands.includes(c as CommandType))).to.equal(true);
    for (const event of events) expect(EVENT_TOPICS as readonly string[], event).to.include(TOPICS[event]);
    const commandTopics = commands.map((c) => TOPICS[c]);
    expect(new Set(commandTopics).size, 'distinct command topics').to.equal(commands.length);
    for (const topic of commandTopics) expect(EVENT_TOPICS as readonly string[]).to.not.include(topic);
  });

  it('should route the reservation saga\'s commands and consumed events to their TOPICS', () => {
    for (const [type, topic] of Object.entries({ ...reservaSaga.commands, ...reservaSaga.consumes })) {
      expect(topic, type).to.equal(TOPICS[type as MessageType]);
    }
  });
});

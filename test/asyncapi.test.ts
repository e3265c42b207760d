import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, DiagnosticSeverity, type AsyncAPIDocumentInterface } from '@asyncapi/parser';
// The AsyncAPI parser's own JSON Schema validator (draft-07 by default), already in node_modules.
import { Ajv, type ErrorObject } from 'ajv';
import { expect } from 'chai';
import { AEROALPES_MESSAGES, type MessageType } from '../machines/messages.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import { AEROALPES } from '../services/catalog.ts';
import { asyncApiDocument, main, renderAsyncApi, rolesOf } from '../tools/asyncapi.ts';
import { EVENT_DATA } from './support/event-samples.ts';
import { HOTEL_APPLICATION, HOTEL_STEPS } from './support/hotel.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };

/** Parses an AsyncAPI document with the official parser; fails on any error-severity diagnostic. */
async function parsed(text: string): Promise<AsyncAPIDocumentInterface> {
  const { document, diagnostics } = await new Parser().parse(text);
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`);
  expect(errors, 'error diagnostics').to.deep.equal([]);
  expect(document, 'a document').to.not.equal(undefined);
  return document!;
}

/** `service.action` of every operation on `type`, with its styles: `{ 'pagos.receive': ['orchestration', 'choreography'] }`. */
function whoHandles(document: AsyncAPIDocumentInterface, type: string): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (const operation of document.operations().all()) {
    if (!operation.messages().all().some((m) => m.name() === type)) continue;
    const json = operation.json() as { 'x-service': string; 'x-styles': string[] };
    found[`${json['x-service']}.${operation.action()}`] = json['x-styles'];
  }
  return found;
}

const BOTH = ['orchestration', 'choreography'];

/** A schema as the parser hands it back, without the ids it adds (`x-parser-schema-id`). */
function withoutParserIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutParserIds);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'x-parser-schema-id').map(([key, v]) => [key, withoutParserIds(v)]));
}

describe('npm run asyncapi (tools/asyncapi.ts)', function () {
  this.timeout(60_000);
  let document: AsyncAPIDocumentInterface;

  before(async () => {
    document = await parsed(renderAsyncApi());
  });

  it('should write an AsyncAPI 3.0.0 document titled and versioned as package.json', () => {
    expect(document.version()).to.equal('3.0.0');
    expect(document.info().title()).to.equal(pkg.name);
    expect(document.info().version()).to.equal(pkg.version);
  });

  it('should make every topic of machines/messages.ts a channel addressed by the topic name', () => {
    const topics = [...new Set(AEROALPES_MESSAGES.types().map((t) => AEROALPES_MESSAGES.topicOf(t)))];
    expect(document.channels().all().map((c) => c.address()).sort()).to.deep.equal([...topics].sort());
    for (const type of AEROALPES_MESSAGES.types()) {
      const channel = document.channels().all().find((c) => c.address() === AEROALPES_MESSAGES.topicOf(type))!;
      expect(channel.messages().all().map((m) => m.name()), `${type} on its topic`).to.include(type);
    }
  });

  it('should describe every message type with its payload: the JSON Schema of its envelope and data, from zod', () => {
    const messages = document.components().messages().all();
    expect(messages.map((m) => m.name()).sort()).to.deep.equal([...AEROALPES_MESSAGES.types()].sort());
    for (const message of messages) {
      const type = message.name()!;
      const payload = message.payload()!;
      expect(payload.type(), type).to.equal('object');
      expect(Object.keys(payload.properties() ?? {}), type).to.include.members(['id', 'type', 'service_name', 'data', 'traceparent', 'tracestate']);
      expect(payload.properties()!.type.const(), type).to.equal(type);
      const { $schema: _, ...expected } = AEROALPES_MESSAGES.jsonSchemaOf(type);
      expect(withoutParserIds(payload.json()), type).to.deep.equal(expected);
    }
  });

  it('should name PagarReserva sent by the coordinator (orchestration) and by pagos\' own part (choreography), and received by pagos in both', () => {
    expect(whoHandles(document, 'PagarReserva')).to.deep.equal({
      'coordinator.send': ['orchestration'],
      'pagos.send': ['choreography'],
      'pagos.receive': BOTH,
    });
  });

  it('should name ReservaCreada sent by vuelos and received by the coordinator, and by vuelos\' and pagos\' parts in choreography', () => {
    expect(whoHandles(document, 'ReservaCreada')).to.deep.equal({
      'vuelos.send': BOTH,
      // orchestration: the reserva saga; choreography: the tracker
      'coordinator.receive': BOTH,
      'vuelos.receive': ['choreography'],
      'pagos.receive': ['choreography'],
    });
  });

  it('should name IniciarReserva sent by vuelos\' POST /reservas, received by the coordinator\'s starter or vuelos\' own part', () => {
    expect(whoHandles(document, 'IniciarReserva')).to.deep.equal({ 'vuelos.send': BOTH, 'coordinator.receive': ['orchestration'], 'vuelos.receive': ['choreography'] });
  });

  it('should name notificaciones as a receiver of the outcomes it e-mails, and a sender of nothing', () => {
    const operations = document.operations().all().filter((o) => (o.json() as { 'x-service': string })['x-service'] === 'notificaciones');
    expect(operations.map((o) => `${o.action()} ${o.messages().all()[0].name()}`).sort()).to.deep.equal(['receive CreacionReservaFallida', 'receive ReservaAprobada', 'receive ReservaCancelada']);
  });

  it('should give every message a sender and a receiver, and every service of services/catalog.ts an operation', () => {
    const roles = rolesOf();
    for (const type of AEROALPES_MESSAGES.types()) {
      expect(roles.some((r) => r.type === type && r.action === 'send'), `${type} has a sender`).to.equal(true);
      expect(roles.some((r) => r.type === type && r.action === 'receive'), `${type} has a receiver`).to.equal(true);
    }
    expect([...new Set(roles.map((r) => r.service))].sort()).to.deep.equal(AEROALPES.services.map((s) => s.name).sort());
  });

  it('should follow the application it is given: a new step\'s topics, messages and service', async () => {
    const hotel = await parsed(renderAsyncApi({ application: HOTEL_APPLICATION, steps: HOTEL_STEPS.steps as never }));
    expect(hotel.channels().all().map((c) => c.address())).to.include.members(['comando-reservar-hotel', 'comando-liberar-hotel', 'evento-hotel']);
    expect(whoHandles(hotel, 'ReservarHotel')).to.deep.equal({ 'coordinator.send': ['orchestration'], 'hotel.send': ['choreography'], 'hotel.receive': BOTH });
    expect(whoHandles(hotel, 'HotelReservado')).to.deep.include({ 'hotel.send': BOTH, 'coordinator.receive': BOTH });
  });

  it('should print the document to standard output', async () => {
    let printed = '';
    expect(main([], (text) => (printed += text))).to.equal(0);
    expect(printed).to.equal(renderAsyncApi());
    expect(main(['--out'], () => {}, () => {})).to.equal(1);
  });

  it('should write asyncapi.yaml into the folder given with --out, run as `npm run asyncapi`', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'asyncapi-'));
    try {
      const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile('npm', ['run', '--silent', 'asyncapi', '--', '--out', dir], { cwd: root }, (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr })),
      );
      expect(code, stderr).to.equal(0);
      const written = await parsed(fs.readFileSync(path.join(dir, 'asyncapi.yaml'), 'utf8'));
      expect(written.channels().all().length).to.equal(document.channels().all().length);
      expect(written.operations().all().map((o) => o.id())).to.deep.equal(document.operations().all().map((o) => o.id()));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('message JSON Schemas (MessageCatalog.jsonSchemaOf)', () => {
  const ajv = new Ajv({ allErrors: false });
  const validators = new Map(AEROALPES_MESSAGES.types().map((type) => [type, ajv.compile(AEROALPES_MESSAGES.jsonSchemaOf(type))]));
  const ids = { id_correlacion: 'c-1', id_reserva: 'R-1' };
  const valid = (type: MessageType, data: object) => ({ ...makeEnvelope(type, data as { id_correlacion: string }, 'test.service') });

  /** Both agree on `message` of `type`; returns whether they accepted it and, if not, parse's reason and the schema's errors. */
  function judge(type: MessageType, message: Record<string, unknown>): { accepted: boolean; reason?: string; errors?: ErrorObject[] } {
    const validate = validators.get(type)!;
    const bySchema = validate(message);
    const byParse = AEROALPES_MESSAGES.parse(message);
    expect(bySchema, `JSON Schema and parse agree on ${JSON.stringify(message).slice(0, 300)}: parse says ${byParse.ok ? 'ok' : byParse.reason}`).to.equal(byParse.ok);
    return { accepted: byParse.ok, ...(byParse.ok ? {} : { reason: byParse.reason, errors: validate.errors ?? [] }) };
  }

  it('should accept what parse accepts: a valid message of every event type', () => {
    for (const [type, data] of Object.entries(EVENT_DATA)) expect(judge(type as MessageType, valid(type as MessageType, data)).accepted, type).to.equal(true);
  });

  it('should accept what parse accepts: fields the schema does not name, reserva_id for id_reserva, a trace context', () => {
    const pagar = valid('PagarReserva', { ...ids, monto: 10, monto_vat: 0 });
    expect(judge('PagarReserva', { ...pagar, data: { ...pagar.data, moneda: 'COP' } }).accepted).to.equal(true);
    expect(judge('PagarReserva', { ...pagar, data: { id_correlacion: 'c-1', reserva_id: 'R-1', monto: 10, monto_vat: 0 } }).accepted).to.equal(true);
    expect(judge('PagarReserva', { ...pagar, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'a=b' }).accepted).to.equal(true);
    const iniciar = valid('IniciarReserva', { ...ids, id_cliente: 'c', monto: 1, monto_vat: 0, itinerarios: [{ origen: 'BOG' }], simular_fallo: 'pago', plazos: { paso: 100 } });
    expect(judge('IniciarReserva', iniciar).accepted).to.equal(true);
  });

  it('should refuse what parse refuses, at the same path: a missing id_reserva', () => {
    const { id_reserva: _, ...data } = EVENT_DATA.PagoFallido;
    const verdict = judge('PagoFallido', valid('PagoFallido', data));
    expect(verdict.reason).to.equal('PagoFallido: data.id_reserva: expected string, received undefined');
    expect(verdict.errors!.map((e) => `${e.instancePath} ${e.keyword}`).join('; ')).to.match(/\/data (required|anyOf)/);
  });

  for (const [label, type, change, path] of [
    ['a number given as a string', 'PagarReserva', { monto: '10' }, 'data.monto'],
    ['an empty id', 'PagarReserva', { id_correlacion: '' }, 'data.id_correlacion'],
    ['an id longer than its column', 'PagarReserva', { id_reserva: 'r'.repeat(65) }, 'data.id_reserva'],
    ['an unknown simular_fallo', 'PagarReserva', { simular_fallo: 'meteorito' }, 'data.simular_fallo'],
    ['a reserva_id that is not a string, without id_reserva', 'PagarReserva', { id_reserva: undefined, reserva_id: 7 }, 'data.id_reserva'],
    ['a flight leg that is not an object', 'CrearReserva', { itinerarios: ['BOG'] }, 'data.itinerarios[0]'],
    ['a nested field of the wrong kind', 'IniciarReserva', { plazos: { paso: 'pronto' } }, 'data.plazos.paso'],
  ] as const) {
    it(`should refuse what parse refuses, at the same path: ${label}`, () => {
      const base: Record<MessageType, object> = {
        ...EVENT_DATA,
        PagarReserva: { ...ids, monto: 10, monto_vat: 0 },
        CrearReserva: { ...ids, id_cliente: 'c', monto: 1, monto_vat: 0, itinerarios: [] },
        IniciarReserva: { ...ids, id_cliente: 'c', monto: 1, monto_vat: 0, itinerarios: [] },
      } as Record<MessageType, object>;
      const data = JSON.parse(JSON.stringify({ ...base[type], ...change })) as object;
      const verdict = judge(type, valid(type, data));
      expect(verdict.accepted).to.equal(false);
      expect(verdict.reason).to.match(new RegExp(`^${type}: ${path.replace(/[.[\]]/g, '\\$&')}: `));
      const pointer = `/${path.replace(/\[(\d+)\]/g, '.$1').split('.').join('/')}`;
      expect(verdict.errors!.map((e) => e.instancePath), 'the JSON Schema names the same field').to.satisfy((paths: string[]) => paths.some((p) => p !== '' && (p === pointer || pointer.startsWith(`${p}/`) || p.startsWith(pointer))));
    });
  }

  it('should refuse what parse refuses in the envelope: a missing id, an unsupported specversion, another type', () => {
    const pagar = valid('PagarReserva', { ...ids, monto: 10, monto_vat: 0 }) as Record<string, unknown>;
    const { id: _, ...noId } = pagar;
    expect(judge('PagarReserva', noId).reason).to.equal('envelope: id: expected string, received undefined');
    expect(judge('PagarReserva', { ...pagar, specversion: 'v2' }).reason).to.equal('envelope: specversion: expected "v1", received "v2"');
    expect(validators.get('PagarReserva')!({ ...pagar, type: 'RevertirPago' }), 'the schema of one type refuses another').to.equal(false);
  });

  it('should be the payload of its message in the AsyncAPI document', () => {
    const doc = asyncApiDocument();
    for (const type of AEROALPES_MESSAGES.types()) {
      const { $schema: _, ...schema } = AEROALPES_MESSAGES.jsonSchemaOf(type);
      expect(doc.components.schemas[type], type).to.deep.equal(schema);
    }
  });
});

import type { Connection, RowDataPacket } from 'mysql2/promise';
import { keyOfClientId, type Reservation } from './client.ts';
import type { DlqFinding } from './dlq-audit.ts';
import { CLIENT_SAGA_TYPE, EXPECTED, PARTS, SAGA_TYPE, type Scenario, type Style } from './expectations.ts';
import type { Poison } from './poison.ts';

/** How many things broke one invariant, by kind, with a few examples (saga ids and what was wrong). */
export interface Finding {
  count: number;
  byKind: Record<string, number>;
  examples: string[];
}

/** The invariants of one style's run. Each is 0 when the system did its job. */
export interface Invariants {
  /** Accepted reservations (202) with no saga at all. */
  lost: Finding;
  /** Sagas whose status (orchestrated saga, or the choreography tracker) is not the one their injected failure implies, running included. */
  wrongStatus: Finding;
  /** Choreography: participants' own parts (vuelos-reserva, pagos-reserva, gds-reserva) that exist when they should not, are missing, or ended otherwise. */
  partsWrong: Finding;
  /** An effect applied twice: more than one charge or refund of a payment, a second saga, reservation or charge for one Idempotency-Key, two rows of one participant for one saga. */
  effectsTwice: Finding;
  /** An effect the saga's outcome does not justify: a refund without a charge, a refund, GDS reversal or cancellation of a saga that is not compensated, a saga of no reservation of the run. */
  effectsUnwarranted: Finding;
  /** A participant's own state (vuelos reservation, payment, GDS confirmation) other than the scenario implies. */
  participantsWrong: Finding;
  /** Notices per reservation other than exactly the one its outcome sends (or none). */
  notificationsWrong: Finding;
  /** Outbox rows never published. */
  unsentOutbox: Finding;
  /** `dead_letters` rows the run did not provoke, plus messages in broker DLQ topics that never became a row. */
  unexplainedDeadLetters: Finding;
  /** Each provoked malformed message must be exactly one dead letter. */
  provokedDeadLetters: Finding;
  /** `GET /sagas/:id` on the coordinator disagrees with the database or fails. */
  httpMismatch: Finding;
}

/** What the checks read, for the report. */
export interface Observed {
  sagasInDatabase: number;
  /** Sagas of the run whose reservation the client never saw accepted (it gave up, yet a saga started). */
  unacknowledgedSagas: number;
  /** Latest `updated_at` of a finished saga of the run. */
  lastFinishedAt: number | null;
  byStatus: Record<string, number>;
  brokerDlq: DlqFinding[];
}

export interface CheckInput {
  style: Style;
  db: Connection;
  reservations: Reservation[];
  poison: Poison[];
  dlq: DlqFinding[];
  /** The coordinator's base URL (GET /sagas/:id), or null to skip the HTTP cross-check. */
  coordinatorUrl: string | null;
}

class Collector {
  private readonly findings = new Map<keyof Invariants, Finding>();

  add(invariant: keyof Invariants, kind: string, example: string): void {
    const finding = this.get(invariant);
    finding.count++;
    finding.byKind[kind] = (finding.byKind[kind] ?? 0) + 1;
    if (finding.examples.length < 12) finding.examples.push(example);
  }

  /** `count` occurrences of one kind at once, with their examples. */
  addMany(invariant: keyof Invariants, kind: string, count: number, examples: string[]): void {
    const finding = this.get(invariant);
    finding.count += count;
    finding.byKind[kind] = (finding.byKind[kind] ?? 0) + count;
    finding.examples.push(...examples.slice(0, Math.max(0, 12 - finding.examples.length)));
  }

  get(invariant: keyof Invariants): Finding {
    let finding = this.findings.get(invariant);
    if (!finding) {
      finding = { count: 0, byKind: {}, examples: [] };
      this.findings.set(invariant, finding);
    }
    return finding;
  }

  result(): Invariants {
    const names: (keyof Invariants)[] = ['lost', 'wrongStatus', 'partsWrong', 'effectsTwice', 'effectsUnwarranted', 'participantsWrong', 'notificationsWrong', 'unsentOutbox', 'unexplainedDeadLetters', 'provokedDeadLetters', 'httpMismatch'];
    return Object.fromEntries(names.map((n) => [n, this.get(n)])) as unknown as Invariants;
  }
}

interface InstanceRow {
  saga_type: string;
  id: string;
  status: string;
  state_value: string;
  snapshot: string | null;
  updated_at: number;
}

interface VueloRow {
  id_reserva: string;
  id_correlacion: string;
  id_cliente: string;
  estado: string;
}
interface PagoRow {
  id_reserva: string;
  id_correlacion: string;
  estado: string;
  cargos: number;
  reembolsos: number;
}
interface GdsRow {
  id_reserva: string;
  id_correlacion: string;
  estado: string;
  fecha_creacion: number;
  fecha_actualizacion: number;
}

/** vuelos' effect: the reservation's state; a cancellation of a reservation never created (no customer) is a tombstone, no effect. */
function vuelosEffect(row: VueloRow | undefined): string | null {
  if (!row || (row.estado === 'cancelada' && row.id_cliente === '')) return null;
  return row.estado;
}

/** pagos' effect as `estado cargos/reembolsos`; a refund of nothing charged (0/0) is a tombstone, no effect. */
function pagosEffect(row: PagoRow | undefined): string | null {
  if (!row || (Number(row.cargos) === 0 && Number(row.reembolsos) === 0)) return null;
  return `${row.estado} ${Number(row.cargos)}/${Number(row.reembolsos)}`;
}

/** The GDS effect; a reversal written when nothing was confirmed (created and updated at once) is a tombstone, no effect. */
function gdsEffect(row: GdsRow | undefined): string | null {
  if (!row || (row.estado === 'revertida' && Number(row.fecha_creacion) === Number(row.fecha_actualizacion))) return null;
  return row.estado;
}

const CLIENT_ID = /"id_cliente":"(k-[0-9a-f-]{36})"/;
const short = (id: string) => id.slice(0, 8);

async function rows<T>(db: Connection, sql: string): Promise<T[]> {
  const [result] = await db.query<RowDataPacket[]>(sql);
  return result as unknown as T[];
}

async function columns(db: Connection, table: string): Promise<Set<string>> {
  const found = await rows<{ Field: string }>(db, `SHOW COLUMNS FROM \`${table}\``);
  return new Set(found.map((c) => c.Field));
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

/**
 * Checks the invariants of one style's run by reading its database directly (and the
 * coordinator's `GET /sagas/:id`), against the domain's expectations (expectations.ts).
 *
 * A saga belongs to the run by its `id_cliente` (`k-<Idempotency-Key>`), so sagas started by
 * a retry that was not recognised as one are found and counted too.
 *
 * @example
 * const { invariants } = await checkInvariants({ style: 'orchestration', db, reservations, poison, dlq, coordinatorUrl });
 */
export async function checkInvariants(input: CheckInput): Promise<{ invariants: Invariants; observed: Observed }> {
  const { style, db } = input;
  const out = new Collector();
  const byKey = new Map(input.reservations.map((r) => [r.key, r]));
  const acceptedIds = new Map(input.reservations.filter((r) => r.accepted).map((r) => [r.accepted!.id_correlacion, r]));

  // --- sagas -------------------------------------------------------------------------
  const instances = await rows<InstanceRow>(db, 'SELECT saga_type, id, status, state_value, snapshot, updated_at FROM saga_instances');
  const byType = groupBy(instances, (i) => i.saga_type);
  const of = (type: string) => new Map((byType.get(type) ?? []).map((i) => [i.id, i]));
  const sagas = of(SAGA_TYPE[style]);
  const clientSagas = of(CLIENT_SAGA_TYPE[style]);
  const parts = Object.fromEntries(PARTS.map((p) => [p, of(p)])) as Record<(typeof PARTS)[number], Map<string, InstanceRow>>;

  // Which reservation each saga belongs to: its id_cliente names the key.
  const keyOfSaga = new Map<string, string>();
  for (const instance of clientSagas.values()) {
    const match = instance.snapshot ? CLIENT_ID.exec(instance.snapshot) : null;
    const key = match ? keyOfClientId(match[1]) : null;
    if (key) keyOfSaga.set(instance.id, key);
  }
  for (const [id, r] of acceptedIds) if (!keyOfSaga.has(id)) keyOfSaga.set(id, r.key);

  const runSagaIds = new Set<string>([...sagas.keys(), ...clientSagas.keys(), ...acceptedIds.keys()]);
  const scenarioOf = new Map<string, Scenario>();
  let unacknowledged = 0;
  for (const id of runSagaIds) {
    const key = keyOfSaga.get(id);
    const reservation = key ? byKey.get(key) : undefined;
    if (!reservation) {
      const instance = sagas.get(id) ?? clientSagas.get(id);
      out.add('effectsUnwarranted', 'saga of no reservation of this run', `${id}: ${instance?.saga_type} ${instance?.status} with id_cliente of no reservation this run made`);
      continue;
    }
    scenarioOf.set(id, reservation.scenario);
    if (!reservation.accepted) unacknowledged++;
  }

  // Lost: a 202 and no trace of the saga anywhere.
  for (const [id, r] of acceptedIds) {
    const anywhere = instances.some((i) => i.id === id);
    if (!anywhere) out.add('lost', r.scenario, `${id} (${r.scenario}, key ${short(r.key)}): accepted at ${new Date(r.accepted!.at).toISOString()}, no saga instance of any type`);
  }

  // Status: every saga of the run, the one its injected failure implies.
  for (const [id, scenario] of scenarioOf) {
    if (acceptedIds.has(id) && !instances.some((i) => i.id === id)) continue; // counted as lost
    const expected = EXPECTED[scenario].status;
    const saga = sagas.get(id);
    const actual = saga?.status ?? 'missing';
    if (actual !== expected) {
      out.add('wrongStatus', `${scenario}: ${expected} -> ${actual}`, `${id} (${scenario}): expected ${expected}, is ${actual}${saga ? ` in ${saga.state_value}` : ` (no ${SAGA_TYPE[style]} instance)`}`);
    }
    if (style === 'choreography') {
      for (const part of PARTS) {
        const allowed = EXPECTED[scenario].parts[part];
        const instance = parts[part].get(id);
        if (!allowed && instance) out.add('partsWrong', `${scenario}: ${part} exists`, `${id} (${scenario}): ${part} should never start, is ${instance.status} in ${instance.state_value}`);
        if (allowed && !instance) out.add('partsWrong', `${scenario}: ${part} missing`, `${id} (${scenario}): no ${part} instance`);
        if (allowed && instance && !allowed.includes(instance.status as never)) {
          out.add('partsWrong', `${scenario}: ${part} ${instance.status}`, `${id} (${scenario}): ${part} is ${instance.status} in ${instance.state_value}, expected ${allowed.join(' or ')}`);
        }
      }
    }
  }

  // --- effects -----------------------------------------------------------------------
  const reservas = await rows<VueloRow>(db, 'SELECT id_reserva, id_correlacion, id_cliente, estado FROM vuelos_reservas');
  const pagos = await rows<PagoRow>(db, 'SELECT id_reserva, id_correlacion, estado, cargos, reembolsos FROM pagos_pagos');
  const gds = await rows<GdsRow>(db, 'SELECT id_reserva, id_correlacion, estado, fecha_creacion, fecha_actualizacion FROM gds_confirmaciones');
  const reservasBy = groupBy(reservas, (r) => r.id_correlacion);
  const pagosBy = groupBy(pagos, (p) => p.id_correlacion);
  const gdsBy = groupBy(gds, (g) => g.id_correlacion);
  const statusOf = (id: string) => sagas.get(id)?.status ?? 'missing';

  for (const [id, list] of reservasBy) if (list.length > 1) out.add('effectsTwice', 'vuelos: two reservations for one saga', `${id}: ${list.length} vuelos_reservas rows`);
  for (const [id, list] of pagosBy) if (list.length > 1) out.add('effectsTwice', 'pagos: two payments for one saga', `${id}: ${list.length} pagos_pagos rows`);
  for (const [id, list] of gdsBy) if (list.length > 1) out.add('effectsTwice', 'gds: two confirmations for one saga', `${id}: ${list.length} gds_confirmaciones rows`);
  for (const p of pagos) {
    const cargos = Number(p.cargos);
    const reembolsos = Number(p.reembolsos);
    if (cargos > 1) out.add('effectsTwice', 'charged more than once', `${p.id_correlacion}: cargos ${cargos}`);
    if (reembolsos > 1) out.add('effectsTwice', 'refunded more than once', `${p.id_correlacion}: reembolsos ${reembolsos}`);
    if (reembolsos > cargos) out.add('effectsUnwarranted', 'refund without a charge', `${p.id_correlacion}: cargos ${cargos}, reembolsos ${reembolsos}`);
    if (reembolsos > 0 && statusOf(p.id_correlacion) !== 'compensated') {
      out.add('effectsUnwarranted', 'refund of a saga that is not compensated', `${p.id_correlacion} (${scenarioOf.get(p.id_correlacion) ?? '?'}): refunded, saga ${statusOf(p.id_correlacion)}`);
    }
  }
  for (const g of gds) {
    if (gdsEffect(g) === 'revertida' && statusOf(g.id_correlacion) !== 'compensated') {
      out.add('effectsUnwarranted', 'GDS reversal of a saga that is not compensated', `${g.id_correlacion} (${scenarioOf.get(g.id_correlacion) ?? '?'}): confirmation reverted, saga ${statusOf(g.id_correlacion)}`);
    }
  }
  for (const r of reservas) {
    if (vuelosEffect(r) === 'cancelada' && statusOf(r.id_correlacion) !== 'compensated') {
      out.add('effectsUnwarranted', 'cancellation of a saga that is not compensated', `${r.id_correlacion} (${scenarioOf.get(r.id_correlacion) ?? '?'}): reservation cancelled, saga ${statusOf(r.id_correlacion)}`);
    }
  }

  // Per Idempotency-Key: one saga, one reservation, one charge at most.
  const sagasOfKey = groupBy([...keyOfSaga.entries()].filter(([id]) => clientSagas.has(id) || sagas.has(id)), ([, key]) => key);
  for (const [key, list] of sagasOfKey) {
    if (list.length > 1) {
      const ids = list.map(([id]) => id);
      out.add('effectsTwice', 'second saga for one Idempotency-Key', `key ${short(key)} (${byKey.get(key)?.scenario}): ${ids.length} sagas ${ids.map(short).join(', ')} [${ids.map(statusOf).join(', ')}]`);
      const charges = ids.reduce((sum, id) => sum + (pagosBy.get(id) ?? []).reduce((s, p) => s + Number(p.cargos), 0), 0);
      if (charges > 1) out.add('effectsTwice', 'charged more than once for one Idempotency-Key', `key ${short(key)}: ${charges} charges over sagas ${ids.map(short).join(', ')}`);
    }
  }
  const reservasOfKey = groupBy(reservas.filter((r) => r.id_cliente.startsWith('k-')), (r) => r.id_cliente);
  for (const [client, list] of reservasOfKey) {
    if (list.length > 1) out.add('effectsTwice', 'second vuelos reservation for one Idempotency-Key', `key ${short(client.slice(2))}: ${list.length} reservations (${list.map((r) => `${short(r.id_correlacion)} ${r.estado}`).join(', ')})`);
  }

  // Each participant's effects, as the scenario implies (a tombstone is no effect).
  for (const [id, scenario] of scenarioOf) {
    const expected = EXPECTED[scenario];
    const vuelos = vuelosEffect(reservasBy.get(id)?.[0]);
    if (vuelos !== expected.vuelos) out.add('participantsWrong', `${scenario}: vuelos ${vuelos ?? 'none'}`, `${id} (${scenario}, ${statusOf(id)}): vuelos reservation ${vuelos ?? 'none'}, expected ${expected.vuelos ?? 'none'}`);
    const pago = pagosEffect(pagosBy.get(id)?.[0]);
    const expectedPago = expected.pagos ? `${expected.pagos.estado} ${expected.pagos.cargos}/${expected.pagos.reembolsos}` : null;
    if (pago !== expectedPago) out.add('participantsWrong', `${scenario}: pagos ${pago ?? 'none'}`, `${id} (${scenario}, ${statusOf(id)}): payment ${pago ?? 'none'} (estado cargos/reembolsos), expected ${expectedPago ?? 'none'}`);
    const confirmacion = gdsEffect(gdsBy.get(id)?.[0]);
    if (confirmacion !== expected.gds) out.add('participantsWrong', `${scenario}: gds ${confirmacion ?? 'none'}`, `${id} (${scenario}, ${statusOf(id)}): GDS ${confirmacion ?? 'none'}, expected ${expected.gds ?? 'none'}`);
  }

  // --- notifications -----------------------------------------------------------------
  const notices = await rows<{ id_correlacion: string; tipo: string }>(db, 'SELECT id_correlacion, tipo FROM notificaciones');
  const noticesBy = groupBy(notices, (n) => n.id_correlacion);
  for (const [id, scenario] of scenarioOf) {
    const sent = (noticesBy.get(id) ?? []).map((n) => n.tipo).sort();
    const expected = [...EXPECTED[scenario].notifications].sort();
    if (sent.join() !== expected.join()) {
      const kind = sent.length > expected.length ? 'more than one notice' : sent.length < expected.length ? 'notice missing' : 'wrong notice';
      out.add('notificationsWrong', `${scenario}: ${kind}`, `${id} (${scenario}, ${statusOf(id)}): sent [${sent.join(', ')}], expected [${expected.join(', ')}]`);
    }
  }
  for (const [id, list] of noticesBy) {
    if (!scenarioOf.has(id)) out.add('notificationsWrong', 'notice for no saga of the run', `${id}: [${list.map((n) => n.tipo).join(', ')}]`);
  }

  // --- outbox, dead letters ----------------------------------------------------------
  const unsent = await rows<{ saga_type: string; saga_id: string; topic: string; created_at: number }>(db, 'SELECT saga_type, saga_id, topic, created_at FROM outbox WHERE sent_at IS NULL ORDER BY seq');
  for (const row of unsent) out.add('unsentOutbox', `${row.saga_type} -> ${row.topic}`, `${row.saga_id}: ${row.saga_type} -> ${row.topic}, written ${new Date(Number(row.created_at)).toISOString()}`);

  const deadLetterColumns = await columns(db, 'dead_letters');
  const deadLetters = await rows<{ id: number; code: string; reason: string; type: string | null; topic: string | null; saga_id: string | null; payload: string | null; source?: string }>(
    db,
    `SELECT id, code, reason, type, topic, saga_id, payload${deadLetterColumns.has('source') ? ', source' : ''} FROM dead_letters ORDER BY id`,
  );
  const provokedCount = new Map(input.poison.map((p) => [p.marker, 0]));
  const markerIn = (text: string | null) => input.poison.find((p) => text?.includes(p.marker))?.marker;
  for (const row of deadLetters) {
    const marker = markerIn(row.payload);
    if (marker) {
      provokedCount.set(marker, provokedCount.get(marker)! + 1);
      continue;
    }
    out.add('unexplainedDeadLetters', `${row.code}${row.source ? ` (${row.source})` : ''}`, `#${row.id} ${row.code} ${row.type ?? '-'} saga ${row.saga_id ?? '-'} on ${row.topic ?? '-'}: ${row.reason.slice(0, 160)}`);
  }
  // Broker DLQ topics: a message there is a dead letter; if it never became a row, nobody sees it.
  // (Rows consumed from there, source broker-dlq, were counted above.)
  const fromBroker = deadLetters.filter((d) => d.source === 'broker-dlq').length;
  const inBroker = input.dlq.flatMap((d) => d.peeked.map((p) => ({ ...p, topic: d.topic })));
  const provokedInBroker = inBroker.filter((p) => markerIn(p.body));
  for (const p of provokedInBroker) {
    const marker = markerIn(p.body)!;
    if (fromBroker === 0) out.add('provokedDeadLetters', 'provoked message in a broker DLQ topic only', `${marker}: in broker ${p.topic}, no dead_letters row`);
  }
  // Which DLQ messages became rows cannot be told apart; with none at all, every provoked one there is unseen.
  const provokedUnseen = fromBroker === 0 ? provokedInBroker.length : 0;
  const unseen = Math.max(0, input.dlq.reduce((sum, d) => sum + d.messages, 0) - fromBroker - provokedUnseen);
  if (unseen > 0) {
    const examples = inBroker.filter((p) => !markerIn(p.body)).map((p) => `broker ${p.topic}: ${p.what} (from ${p.from})`);
    out.addMany('unexplainedDeadLetters', 'in a broker DLQ topic, never a dead_letters row', unseen, examples);
  }
  for (const [marker, count] of provokedCount) {
    const inBrokerOnly = fromBroker === 0 && provokedInBroker.some((p) => markerIn(p.body) === marker);
    if (count !== 1 && !inBrokerOnly) out.add('provokedDeadLetters', count === 0 ? 'provoked message not dead-lettered' : 'provoked message dead-lettered more than once', `${marker}: ${count} dead letters, expected 1`);
  }

  // --- the coordinator's view --------------------------------------------------------
  if (input.coordinatorUrl) {
    const ids = [...acceptedIds.keys()].filter((id) => sagas.has(id));
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(
        ids.slice(i, i + 8).map(async (id) => {
          try {
            const response = await fetch(`${input.coordinatorUrl}/sagas/${id}`, { signal: AbortSignal.timeout(10_000) });
            const body = (await response.json()) as { status?: string; type?: string };
            if (response.status !== 200) out.add('httpMismatch', `GET answered ${response.status}`, `${id}: GET /sagas/${id} answered ${response.status}`);
            else if (body.status !== statusOf(id) || body.type !== SAGA_TYPE[style]) out.add('httpMismatch', 'status differs', `${id}: GET says ${body.type} ${body.status}, database ${SAGA_TYPE[style]} ${statusOf(id)}`);
          } catch (error) {
            out.add('httpMismatch', 'GET failed', `${id}: ${(error as Error).message}`);
          }
        }),
      );
    }
  }

  const runSagas = [...scenarioOf.keys()].map((id) => sagas.get(id)).filter((s): s is InstanceRow => !!s);
  const finished = runSagas.filter((s) => s.status !== 'running').map((s) => Number(s.updated_at));
  const byStatus: Record<string, number> = {};
  for (const s of runSagas) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
  return {
    invariants: out.result(),
    observed: {
      sagasInDatabase: sagas.size,
      unacknowledgedSagas: unacknowledged,
      lastFinishedAt: finished.length ? Math.max(...finished) : null,
      byStatus,
      brokerDlq: input.dlq,
    },
  };
}

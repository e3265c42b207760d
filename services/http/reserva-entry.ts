import { createHash, randomUUID } from 'node:crypto';
import type { ReservaInput } from '../../machines/reserva.ts';
import { claimIdempotencyKey } from '../../db/idempotency-keys.ts';
import type { SequelizeSagaStore, SequelizeUnitOfWork } from '../../db/sequelize-saga-store.ts';
import { ValidationError } from '../../runtime/errors.ts';
import { plazosOf, type Config } from '../config.ts';
import { HttpError } from './errors.ts';
import type { ReservaRequest } from './routes-reservas.ts';

/** Where `POST /reservas` keeps its idempotency keys (`idempotency_keys.scope`). */
export const RESERVAS_SCOPE = 'POST /reservas';

/** Most characters of an `Idempotency-Key` (the column holds 128). */
export const IDEMPOTENCY_KEY_MAX = 128;

/** The answer to an accepted reservation request. */
export interface ReservaAnswer {
  status: number;
  body: { id_correlacion: string; id_reserva: string };
}

export interface Accepted extends ReservaAnswer {
  /** True when this is the stored answer to an earlier request with the same key. */
  replayed: boolean;
}

export interface ReservaEntryOptions {
  store: SequelizeSagaStore;
  config: Pick<Config, 'plazoPasoMs' | 'plazoCompensacionMs' | 'plazoCompensacionMaxMs' | 'horizonteCompensacionMs'>;
  /**
   * Writes what starts the saga in the transaction that records the key (vuelos as a
   * process: the `IniciarReserva` outbox row), so both commit or neither does.
   */
  record?: (uow: SequelizeUnitOfWork, input: ReservaInput) => Promise<void>;
  /**
   * Runs after that commit, and again for a replayed key with the first request's ids
   * (`replayed`): it must treat a saga that exists already as started (the all-in-one
   * process starts the saga here; vuelos kicks its outbox relay).
   */
  start?: (input: ReservaInput, how: { replayed: boolean }) => Promise<void>;
  clock?: () => number;
}

/**
 * The entry of a reservation request: gives it its ids (`id_correlacion`, the saga's id,
 * and `id_reserva`) and starts its saga, once per `Idempotency-Key`.
 *
 * Without a key each request starts a new saga. With one, the first request records its
 * answer under the key (with a hash of the request) before the saga starts; a request with
 * the same key and the same fields gets that answer again (`replayed`), and its saga is
 * started if the first attempt stopped between the two; the same key with other fields is
 * a 409 `idempotency_key_reused`. Concurrent requests with one key start one saga.
 *
 * @example
 * const entry = new ReservaEntry({ store, config, start: (input) => startSagaOnce(input) });
 * const first = await entry.accept(request, 'pedido-42');  // { status: 202, body: { id_correlacion, ... }, replayed: false }
 * const again = await entry.accept(request, 'pedido-42');  // the same body, replayed: true
 */
export class ReservaEntry {
  private readonly clock: () => number;

  constructor(private readonly options: ReservaEntryOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /**
   * @throws HttpError 409 `idempotency_key_reused` when the key answered another request
   */
  async accept(request: ReservaRequest, idempotencyKey?: string): Promise<Accepted> {
    const { store, config, record, start } = this.options;
    const input: ReservaInput = {
      ...request,
      id_correlacion: randomUUID(),
      id_reserva: randomUUID(),
      plazos: plazosOf(config),
    };
    const answer: ReservaAnswer = { status: 202, body: { id_correlacion: input.id_correlacion, id_reserva: input.id_reserva } };
    if (idempotencyKey === undefined) {
      if (record) await store.transaction((uow) => record(uow, input));
      await start?.(input, { replayed: false });
      return { ...answer, replayed: false };
    }
    const requestHash = hashRequest(request);
    const claim = await claimIdempotencyKey(store, { scope: RESERVAS_SCOPE, key: idempotencyKey, requestHash, response: answer, createdAt: this.clock() }, (uow) =>
      record ? record(uow, input) : Promise.resolve(),
    );
    if (claim.record.requestHash !== requestHash) {
      throw new HttpError(409, 'idempotency_key_reused', `Idempotency-Key "${idempotencyKey}" was used for another request; use a new key for a new reservation`);
    }
    const first = claim.record.response as ReservaAnswer;
    await start?.({ ...input, ...first.body }, { replayed: !claim.claimed });
    return { ...first, replayed: !claim.claimed };
  }
}

/**
 * Reads the `Idempotency-Key` header: absent is `undefined`; otherwise 1 to 128 visible
 * ASCII characters (a UUID, say).
 *
 * @throws ValidationError naming the header
 * @example
 * parseIdempotencyKey(ctx.headers['idempotency-key']); // 'pedido-42'
 */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new ValidationError('"Idempotency-Key" must be given once');
  if (!/^[\x21-\x7e]+$/.test(header) || header.length > IDEMPOTENCY_KEY_MAX) {
    throw new ValidationError(`"Idempotency-Key" must be 1 to ${IDEMPOTENCY_KEY_MAX} visible ASCII characters`);
  }
  return header;
}

/** SHA-256 of the request's fields as canonical JSON (keys sorted), so key order and spacing do not matter. */
export function hashRequest(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

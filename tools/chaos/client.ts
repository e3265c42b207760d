import { randomUUID } from 'node:crypto';
import type { Scenario } from './expectations.ts';

/** One reservation as the client asked for it and what it was answered. */
export interface Reservation {
  /** Order of creation in the run (probes included). */
  n: number;
  /** `Idempotency-Key` of every attempt; `id_cliente` is `k-<key>`, so sagas can be grouped by it. */
  key: string;
  scenario: Scenario;
  probe: boolean;
  firstSentAt: number;
  attempts: { at: number; outcome: string; ms: number }[];
  /** The 202 answer, when one attempt got it. */
  accepted: { id_correlacion: string; id_reserva: string; at: number } | null;
  /** Why the client stopped without a 202 (a 4xx, or the attempts ran out). */
  gaveUp: string | null;
}

export interface ClientOptions {
  /** vuelos' base URL, read at each attempt (a restarted vuelos keeps its port). */
  url: () => string;
  maxAttempts?: number;
  attemptTimeoutMs?: number;
  /** First backoff; doubled per attempt up to `maxBackoffMs`, with jitter. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * The `id_cliente` a reservation with this key carries.
 *
 * @example
 * clientIdOf('0f8e…'); // 'k-0f8e…'
 */
export function clientIdOf(key: string): string {
  return `k-${key}`;
}

/**
 * The key a saga's `id_cliente` names, or null when it is not one of ours.
 *
 * @example
 * keyOfClientId('k-0f8e…'); // '0f8e…'
 */
export function keyOfClientId(idCliente: string): string | null {
  return idCliente.startsWith('k-') ? idCliente.slice(2) : null;
}

/**
 * A client that behaves like a real one: each reservation carries an `Idempotency-Key`, and
 * a connection error, a timeout or a 5xx is retried with the same key and the same body,
 * with backoff, a bounded number of times. A 4xx is final.
 *
 * @example
 * const client = new ReservationClient({ url: () => cluster.url('vuelos') });
 * const r = client.create('gds'); await client.submit(r); r.accepted?.id_correlacion;
 */
export class ReservationClient {
  private n = 0;
  private readonly options: Required<ClientOptions>;

  constructor(options: ClientOptions) {
    this.options = { maxAttempts: 8, attemptTimeoutMs: 10_000, backoffMs: 500, maxBackoffMs: 8_000, ...options };
  }

  /** A new reservation of `scenario` (not sent yet). */
  create(scenario: Scenario, probe = false): Reservation {
    return { n: ++this.n, key: randomUUID(), scenario, probe, firstSentAt: 0, attempts: [], accepted: null, gaveUp: null };
  }

  /** The body every attempt of `reservation` sends, byte for byte. */
  body(reservation: Reservation): string {
    return JSON.stringify({
      id_cliente: clientIdOf(reservation.key),
      monto: 320,
      monto_vat: 60.8,
      itinerarios: [{ origen: 'BOG', destino: 'CTG' }],
      ...(reservation.scenario === 'none' ? {} : { simular_fallo: reservation.scenario }),
    });
  }

  /** Posts until a 202, a 4xx, or the attempts run out; fills `accepted` or `gaveUp`. */
  async submit(reservation: Reservation): Promise<Reservation> {
    const body = this.body(reservation);
    reservation.firstSentAt = Date.now();
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      const at = Date.now();
      let outcome: string;
      try {
        const response = await fetch(`${this.options.url()}/reservas`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': reservation.key },
          body,
          signal: AbortSignal.timeout(this.options.attemptTimeoutMs),
        });
        const text = await response.text();
        outcome = String(response.status);
        reservation.attempts.push({ at, outcome, ms: Date.now() - at });
        if (response.status === 202) {
          const ids = JSON.parse(text) as { id_correlacion: string; id_reserva: string };
          reservation.accepted = { id_correlacion: ids.id_correlacion, id_reserva: ids.id_reserva, at: Date.now() };
          return reservation;
        }
        if (response.status < 500) {
          reservation.gaveUp = `${response.status} ${text.slice(0, 200)}`;
          return reservation;
        }
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        outcome = (error as Error).name === 'TimeoutError' ? 'timeout' : (cause ?? (error as Error).message);
        reservation.attempts.push({ at, outcome, ms: Date.now() - at });
      }
      if (attempt === this.options.maxAttempts) break;
      const backoff = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, backoff / 2 + Math.random() * (backoff / 2)));
    }
    reservation.gaveUp = `no 202 in ${this.options.maxAttempts} attempts (${reservation.attempts.map((a) => a.outcome).join(', ')})`;
    return reservation;
  }
}

import type { ReservationClient, Reservation } from './client.ts';
import { SCENARIOS, type Scenario } from './expectations.ts';

/** A small seeded generator (mulberry32), so a run's mix and fault targets can be replayed with `--seed`. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles `items` in place (Fisher-Yates) with `random`. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Picks scenarios in proportion to `mix`. */
export function scenarioPicker(mix: Record<Scenario, number>, random: () => number): () => Scenario {
  const total = SCENARIOS.reduce((sum, s) => sum + mix[s], 0);
  return () => {
    let x = random() * total;
    for (const s of SCENARIOS) {
      x -= mix[s];
      if (x < 0) return s;
    }
    return 'none';
  };
}

/**
 * Reservations posted at a steady rate with a bounded number in flight (a reservation is
 * in flight from its first attempt until its 202 or until the client gives up), until
 * `stop()`.
 *
 * @example
 * const load = new Load(client, { rate: 5, maxInFlight: 20, pick });
 * load.start(); await load.acceptedAtLeast(100); await load.stop();
 */
export class Load {
  readonly reservations: Reservation[] = [];
  private inFlight = new Set<Promise<unknown>>();
  private running = false;
  private loop: Promise<void> | null = null;
  private accepted = 0;
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(
    private readonly client: ReservationClient,
    private readonly options: { rate: number; maxInFlight: number; pick: () => Scenario },
  ) {}

  get acceptedCount(): number {
    return this.accepted;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Resolves once `n` reservations were accepted. */
  acceptedAtLeast(n: number): Promise<void> {
    if (this.accepted >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Stops posting new reservations and waits for those in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all(this.inFlight);
  }

  private async run(): Promise<void> {
    const interval = 1000 / this.options.rate;
    let next = Date.now();
    while (this.running) {
      while (this.running && this.inFlight.size >= this.options.maxInFlight) await Promise.race(this.inFlight);
      if (!this.running) break;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      // A steady rate, not a burst to catch up after the client was blocked.
      next = Math.max(next + interval, Date.now());
      if (!this.running) break;
      const reservation = this.client.create(this.options.pick());
      this.reservations.push(reservation);
      const sent: Promise<unknown> = this.client.submit(reservation).then((r) => {
        this.inFlight.delete(sent);
        if (r.accepted) {
          this.accepted++;
          this.waiters = this.waiters.filter((w) => (this.accepted >= w.n ? (w.resolve(), false) : true));
        }
      });
      this.inFlight.add(sent);
    }
  }
}

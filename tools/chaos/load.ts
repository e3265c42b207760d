import type { ReservationClient, Reservation } from './client.ts';
import { SCENARIOS, type Scenario } from './expectations.ts';

/**
 * A small seeded generator (mulberry32), so a run's mix and fault targets can be replayed with `--seed`.
 *
 * @example
 * const random = seeded(42); random(); // 0.6011037519201636, every time
 */
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

/**
 * Shuffles `items` in place (Fisher-Yates) with `random`.
 *
 * @example
 * shuffle(['coordinator', 'vuelos', 'pagos'], seeded(1));
 */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * Picks scenarios in proportion to `mix`.
 *
 * @example
 * const pick = scenarioPicker({ none: 4, reserva: 1, pago: 1, gds: 1, aprobacion: 1, 'timeout-pago': 1, 'revertir-pago': 1 }, seeded(1));
 * pick(); // 'none' four times as often as each failure
 */
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
 * Reservations posted at a steady rate with a bounded number in flight, until `stop()`. A
 * reservation is in flight from its first attempt until its saga finished (`finished`
 * says so), the client gave up posting it, or `maxWaitMs` passed since it was accepted (the
 * client stops waiting for a saga that does not end): when the system slows down, the load
 * waits instead of piling up work.
 *
 * @example
 * const load = new Load(client, { rate: 5, maxInFlight: 30, pick, finished: async (ids) => new Set(ids) });
 * load.start(); await load.acceptedAtLeast(100); await load.stop();
 */
export class Load {
  readonly reservations: Reservation[] = [];
  /** Posting now (attempts and retries). */
  private posting = new Set<Promise<unknown>>();
  /** Accepted, saga not finished yet: id_correlacion -> accepted at. */
  private waiting = new Map<string, number>();
  private running = false;
  private loop: Promise<void> | null = null;
  private watcher: NodeJS.Timeout | null = null;
  private accepted = 0;
  private waiters: { n: number; resolve: () => void }[] = [];
  private slotFreed: (() => void) | null = null;

  constructor(
    private readonly client: ReservationClient,
    private readonly options: {
      rate: number;
      maxInFlight: number;
      pick: () => Scenario;
      /** Which of these sagas (id_correlacion) have finished. */
      finished: (ids: string[]) => Promise<Set<string>>;
      /** How long the client waits for an accepted saga to finish (default 60 s). */
      maxWaitMs?: number;
    },
  ) {}

  get acceptedCount(): number {
    return this.accepted;
  }

  get inFlightCount(): number {
    return this.posting.size + this.waiting.size;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
    this.watcher = setInterval(() => void this.watch(), 500);
  }

  /** Resolves once `n` reservations were accepted. */
  acceptedAtLeast(n: number): Promise<void> {
    if (this.accepted >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Stops posting new reservations and waits for those being posted (not for their sagas). */
  async stop(): Promise<void> {
    this.running = false;
    this.free();
    await this.loop;
    await Promise.all(this.posting);
    if (this.watcher) clearInterval(this.watcher);
    this.watcher = null;
  }

  private free(): void {
    const wake = this.slotFreed;
    this.slotFreed = null;
    wake?.();
  }

  private async watch(): Promise<void> {
    if (this.waiting.size === 0) return;
    const maxWait = this.options.maxWaitMs ?? 60_000;
    const now = Date.now();
    for (const [id, at] of this.waiting) if (now - at > maxWait) this.waiting.delete(id);
    try {
      const done = await this.options.finished([...this.waiting.keys()]);
      for (const id of done) this.waiting.delete(id);
    } catch {
      // asked again on the next tick
    }
    if (this.inFlightCount < this.options.maxInFlight) this.free();
  }

  private async run(): Promise<void> {
    const interval = 1000 / this.options.rate;
    let next = Date.now();
    while (this.running) {
      while (this.running && this.inFlightCount >= this.options.maxInFlight) await new Promise<void>((resolve) => (this.slotFreed = resolve));
      if (!this.running) break;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      // A steady rate, not a burst to catch up after the client was blocked.
      next = Math.max(next + interval, Date.now());
      if (!this.running) break;
      const reservation = this.client.create(this.options.pick());
      this.reservations.push(reservation);
      const sent: Promise<unknown> = this.client.submit(reservation).then((r) => {
        this.posting.delete(sent);
        if (r.accepted) {
          this.waiting.set(r.accepted.id_correlacion, r.accepted.at);
          this.accepted++;
          this.waiters = this.waiters.filter((w) => (this.accepted >= w.n ? (w.resolve(), false) : true));
        }
        if (this.inFlightCount < this.options.maxInFlight) this.free();
      });
      this.posting.add(sent);
    }
  }
}

import type { TransportAvailability } from './ports.ts';

type Listener = (state: TransportAvailability) => void;

/**
 * Whether a transport reaches its broker, from the state of its parts (sockets, producers,
 * consumers): available while none of them is down. Listeners hear each change once.
 *
 * @example
 * const availability = new AvailabilityMonitor();
 * availability.down(socket, 'consumer evento-pago: closed (1006)'); // listeners: { available: false, reason }
 * availability.up(socket);                                           // listeners: { available: true }
 */
export class AvailabilityMonitor {
  private readonly downParts = new Map<unknown, string>();
  private readonly listeners = new Set<Listener>();
  private available = true;

  /** The current state. */
  get state(): TransportAvailability {
    return this.available ? { available: true } : { available: false, reason: this.reason() };
  }

  /** `part` lost the broker (for `reason`). */
  down(part: unknown, reason: string): void {
    this.downParts.set(part, reason);
    this.update();
  }

  /** `part` reaches the broker again. */
  up(part: unknown): void {
    if (this.downParts.delete(part)) this.update();
  }

  /** `part` is gone (closed on purpose): it no longer counts either way. */
  forget(part: unknown): void {
    this.up(part);
  }

  /** Adds a listener; one added while the broker is lost hears so at once. Returns its removal. */
  watch(listener: Listener): () => void {
    this.listeners.add(listener);
    if (!this.available) listener(this.state);
    return () => void this.listeners.delete(listener);
  }

  private reason(): string | undefined {
    const reasons = [...this.downParts.values()];
    if (reasons.length === 0) return undefined;
    return reasons.length === 1 ? reasons[0] : `${reasons[0]} (and ${reasons.length - 1} more)`;
  }

  private update(): void {
    const available = this.downParts.size === 0;
    if (available === this.available) return;
    this.available = available;
    const state = this.state;
    for (const listener of [...this.listeners]) {
      try {
        listener(state);
      } catch {
        // a listener's failure is its own
      }
    }
  }
}

/**
 * The handlers a consumer has running, so it can wait for them to settle: on drain, a
 * consumer takes no new message and waits until this is empty (or a timeout runs out).
 *
 * @example
 * const inFlight = new InFlight<string>();
 * inFlight.add(messageId); handle(message).finally(() => inFlight.delete(messageId));
 * const settled = await inFlight.idle(10_000); // false: some were still running
 */
export class InFlight<T> {
  private readonly running = new Set<T>();
  private waiters: (() => void)[] = [];

  get size(): number {
    return this.running.size;
  }

  add(item: T): void {
    this.running.add(item);
  }

  delete(item: T): void {
    this.running.delete(item);
    if (this.running.size === 0) this.waiters.splice(0).forEach((wake) => wake());
  }

  /** Resolves true once nothing is running, false when `timeoutMs` ran out first. */
  async idle(timeoutMs: number): Promise<boolean> {
    if (this.running.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const settled = new Promise<boolean>((resolve) => this.waiters.push(() => resolve(true)));
    const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const done = await Promise.race([settled, expired]);
    clearTimeout(timer);
    return done;
  }
}

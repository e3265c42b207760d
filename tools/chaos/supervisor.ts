import { SERVICE_NAMES, type ServiceName } from '../../services/config.ts';
import type { ServiceCluster } from '../cluster/service-cluster.ts';

/** A restart the supervisor made because a service was gone without being killed on purpose. */
export interface SupervisedRestart {
  name: ServiceName;
  at: number;
  attempts: number;
  ms: number;
  error?: string;
}

/**
 * Restarts a service process that died on its own (a crash during an outage, say), as a
 * process manager (`restart: unless-stopped`) would. The chaos faults `hold` a service while
 * they kill and restart it themselves.
 *
 * @example
 * const supervisor = new Supervisor(cluster); supervisor.start();
 * await supervisor.hold('pagos', async () => { await cluster.kill('pagos', 'SIGKILL'); await cluster.restart('pagos'); });
 */
export class Supervisor {
  readonly restarts: SupervisedRestart[] = [];
  private readonly busy = new Set<ServiceName>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly cluster: ServiceCluster,
    private readonly log: (line: string) => void = () => {},
  ) {}

  start(): void {
    this.timer = setInterval(() => this.check(), 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Runs `work` with `name` out of the supervisor's hands. */
  async hold<T>(name: ServiceName, work: () => Promise<T>): Promise<T> {
    while (this.busy.has(name)) await new Promise((resolve) => setTimeout(resolve, 100));
    this.busy.add(name);
    try {
      return await work();
    } finally {
      this.busy.delete(name);
    }
  }

  /** Resolves once no service is being restarted. */
  async idle(): Promise<void> {
    while (this.busy.size > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }

  private check(): void {
    for (const name of SERVICE_NAMES) {
      if (this.busy.has(name) || this.cluster.pid(name) !== null) continue;
      const at = Date.now();
      this.log(`supervisor: ${name} is not running (crashed); restarting it`);
      void this.hold(name, async () => {
        try {
          const attempts = await this.cluster.restart(name);
          this.restarts.push({ name, at, attempts, ms: Date.now() - at });
        } catch (error) {
          this.restarts.push({ name, at, attempts: -1, ms: Date.now() - at, error: (error as Error).message.slice(0, 300) });
        }
      });
    }
  }
}

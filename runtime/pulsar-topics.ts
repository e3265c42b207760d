import { BrokerAuthError, UnavailableError } from './errors.ts';
import type { Log } from './logger.ts';

export interface PartitionedTopicsOptions {
  /** Partitions of each topic (`PULSAR_PARTITIONS`); 0 keeps topics non-partitioned and this does nothing. */
  partitions: number;
  /** The broker's admin (web service) URL, e.g. `http://127.0.0.1:8080`. */
  adminUrl: string;
  tenant: string;
  namespace: string;
  token?: string;
  timeoutMs?: number;
  /** How long a topic another process is creating may take to show its partitions (default 5 s). */
  settleMs?: number;
  log?: Log;
}

/**
 * Makes each topic a partitioned topic before either Pulsar driver produces to it or
 * subscribes to it, through the admin REST API (`PUT …/partitions`), once per topic and
 * process. Messages are keyed by `id_correlacion`, and a keyed message goes to the
 * partition of its key's hash, so one saga's messages stay on one partition, in order, while
 * the topic spreads over the brokers of a cluster.
 *
 * Replicas starting together may ask at once: one creates the topic, and the others make sure
 * its partitions exist before they use it (a partition opened while the broker is still
 * creating it can refuse consumers until the client times out).
 *
 * A topic that already exists keeps its partitions: more or fewer than asked is logged and
 * used (adding partitions moves keys between them: do it between runs). A topic that exists
 * non-partitioned (used before `PULSAR_PARTITIONS` was set) cannot be used partitioned: the
 * publish or subscribe fails with an `UnavailableError` naming the fix, so the outbox keeps
 * the message until an operator deletes or renames the topic.
 *
 * @example
 * const topics = new PartitionedTopics({ partitions: 4, adminUrl: 'http://127.0.0.1:8080', tenant: 'public', namespace: 'default' });
 * await topics.ensure('comando-pagar-reserva'); // persistent://public/default/comando-pagar-reserva, 4 partitions
 */
export class PartitionedTopics {
  private readonly done = new Map<string, Promise<void>>();

  constructor(private readonly options: PartitionedTopicsOptions) {}

  get enabled(): boolean {
    return this.options.partitions > 0;
  }

  /** Resolves once `topic` (short name) is partitioned; a failure is retried on the next call. */
  ensure(topic: string): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    let pending = this.done.get(topic);
    if (!pending) {
      pending = this.create(topic);
      this.done.set(topic, pending);
      pending.catch(() => this.done.get(topic) === pending && this.done.delete(topic));
    }
    return pending;
  }

  private async create(topic: string): Promise<void> {
    const { partitions } = this.options;
    const url = this.topicUrl(topic);
    const created = await this.admin(`${url}/partitions`, { method: 'PUT', body: String(partitions) });
    // The broker answers a creation once every partition exists.
    if (created.ok) return;
    if (created.status !== 409) throw new UnavailableError(`cannot create partitioned topic ${topic}: HTTP ${created.status} ${await created.text()}`);
    const found = await this.partitionsOf(topic);
    if (found !== partitions) this.options.log?.('pulsar: topic has other partitions than PULSAR_PARTITIONS; using them', { level: 'warn', topic, partitions: found, asked: partitions });
    // Another process may still be creating the partitions. A consumer or producer that opens a
    // partition meanwhile races that creation in the broker (BadVersionException), and the
    // partition then refuses it until the client gives up. So the partitions are made to exist
    // first: the broker creates the missing ones and tolerates those created concurrently.
    // A refusal only leaves that race open (the topic exists): logged, and the topic used.
    const missed = await this.admin(`${url}/createMissedPartitions`, { method: 'POST' }).then(
      async (answer) => (answer.ok ? null : `HTTP ${answer.status} ${await answer.text()}`),
      (error: Error) => error.message,
    );
    if (missed) this.options.log?.('pulsar: could not make sure every partition of the topic exists; using it', { level: 'warn', topic, error: missed });
  }

  /**
   * The partitions of a topic the broker said exists. Right after another process created
   * it the broker may not show it yet (404): asked again until `settleMs`.
   */
  private async partitionsOf(topic: string): Promise<number> {
    const { tenant, namespace, partitions, settleMs = 5_000 } = this.options;
    const until = Date.now() + settleMs;
    for (let wait = 50; ; wait = Math.min(wait * 2, 500)) {
      const existing = await this.admin(`${this.topicUrl(topic)}/partitions`, { method: 'GET' });
      if (existing.ok) {
        const found = Number(((await existing.json()) as { partitions?: number }).partitions ?? 0);
        if (found > 0) return found;
        throw new UnavailableError(
          `topic ${tenant}/${namespace}/${topic} exists without partitions, but PULSAR_PARTITIONS=${partitions}: delete the topic (once drained) or unset PULSAR_PARTITIONS`,
        );
      }
      if (existing.status !== 404) throw new UnavailableError(`cannot read the partitions of topic ${topic}: HTTP ${existing.status}`);
      if (Date.now() >= until) throw new UnavailableError(`cannot read the partitions of topic ${topic}: the broker said it exists, then HTTP 404 for ${settleMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  private topicUrl(topic: string): string {
    const { adminUrl, tenant, namespace } = this.options;
    return `${adminUrl.replace(/\/$/, '')}/admin/v2/persistent/${tenant}/${namespace}/${encodeURIComponent(topic)}`;
  }

  private async admin(url: string, init: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(url, {
        ...init,
        headers: { 'content-type': 'application/json', ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}) },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      throw new UnavailableError(`the Pulsar admin API at ${this.options.adminUrl} does not answer: ${(error as Error).message}`, { cause: error });
    }
    if (response.status === 401 || response.status === 403) throw new BrokerAuthError(`the Pulsar admin API refused the credentials (HTTP ${response.status}): creating partitioned topics needs a role allowed to, or create them beforehand`);
    return response;
  }
}

/**
 * The admin URL for a driver URL: an http(s) URL as is; for `pulsar://host:6650` the web
 * service on port 8080 of that host (`pulsar+ssl://host:6651`: https on 8443).
 */
export function adminUrlOf(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return url.replace(/\/$/, '');
  const secure = parsed.protocol === 'pulsar+ssl:';
  return `${secure ? 'https' : 'http'}://${parsed.hostname}:${secure ? 8443 : 8080}`;
}

/**
 * The short name of a topic, whatever its partitions: one name per topic in labels and dead
 * letters.
 *
 * @example
 * shortTopic('persistent://public/default/evento-pago-partition-1'); // 'evento-pago'
 */
export function shortTopic(topic: string): string {
  return topic.slice(topic.lastIndexOf('/') + 1).replace(/-partition-\d+$/, '');
}

import { subscriptionsOf } from '../../services/process.ts';

/**
 * The broker's dead-letter topics (`<subscription>-DLQ`, where a consumer's message goes
 * after its redeliveries ran out). A message there that nobody turns into a `dead_letters`
 * row is lost from every operator's view; the audit counts them.
 *
 * Before any service starts, the audit subscribes (`chaos-audit`, never acknowledging) to
 * the DLQ topic of every subscription the services use, so at the end its backlog is the
 * number of messages that ever went there, whoever else reads the topic.
 */

/** Every durable subscription the services open, in either style (from the service catalog). */
export const SUBSCRIPTIONS = subscriptionsOf();

const AUDIT = 'chaos-audit';

export interface DlqFinding {
  topic: string;
  messages: number;
  /** Each message read back (up to `PEEK_LIMIT` per topic): the envelope's type and `id_correlacion`, or the raw start of what is not one. */
  peeked: { what: string; body: string; from: string }[];
  /** A few of them as text: `<type> <id_correlacion> (from <topic>)`. */
  examples: string[];
}

/** Most messages read back per DLQ topic (the rest are only counted). */
const PEEK_LIMIT = 500;

/**
 * @example
 * const audit = new DlqAudit(pulsarUrl, namespace); await audit.prepare(); ... const found = await audit.collect();
 */
export class DlqAudit {
  constructor(
    private readonly pulsarUrl: string,
    private readonly namespace: string,
  ) {}

  private topicUrl(topic: string): string {
    return `${this.pulsarUrl}/admin/v2/persistent/public/${this.namespace}/${encodeURIComponent(topic)}`;
  }

  /** Creates each DLQ topic and the audit's subscription on it, at its beginning. */
  async prepare(): Promise<void> {
    for (const subscription of SUBSCRIPTIONS) {
      const topic = `${subscription}-DLQ`;
      const created = await fetch(this.topicUrl(topic), { method: 'PUT' });
      if (!created.ok && created.status !== 409) throw new Error(`cannot create ${topic}: ${created.status} ${await created.text()}`);
      const subscribed = await fetch(`${this.topicUrl(topic)}/subscription/${AUDIT}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ledgerId: -1, entryId: -1, partitionIndex: -1 }) });
      if (!subscribed.ok && subscribed.status !== 409) throw new Error(`cannot subscribe to ${topic}: ${subscribed.status} ${await subscribed.text()}`);
    }
  }

  /** The DLQ topics holding messages (the audited ones by backlog; any other `-DLQ` topic by its stats). */
  async collect(): Promise<DlqFinding[]> {
    const listed = await fetch(`${this.pulsarUrl}/admin/v2/namespaces/public/${this.namespace}/topics`);
    const topics = ((await listed.json()) as string[]).map((t) => t.slice(t.lastIndexOf('/') + 1)).filter((t) => t.endsWith('-DLQ'));
    const findings: DlqFinding[] = [];
    for (const topic of topics) {
      const stats = (await (await fetch(`${this.topicUrl(topic)}/stats`)).json()) as { msgInCounter?: number; subscriptions?: Record<string, { msgBacklog?: number }> };
      const audited = stats.subscriptions?.[AUDIT];
      const messages = audited ? (audited.msgBacklog ?? 0) : (stats.msgInCounter ?? 0);
      if (messages === 0) continue;
      const peeked: DlqFinding['peeked'] = [];
      for (let position = 1; audited && position <= Math.min(messages, PEEK_LIMIT); position++) {
        const peek = await fetch(`${this.topicUrl(topic)}/subscription/${AUDIT}/position/${position}`);
        if (!peek.ok) break;
        let from = '?';
        try {
          const properties = JSON.parse(peek.headers.get('X-Pulsar-PROPERTY') ?? '{}') as { REAL_TOPIC?: string };
          if (properties.REAL_TOPIC) from = properties.REAL_TOPIC.slice(properties.REAL_TOPIC.lastIndexOf('/') + 1);
        } catch {
          // no properties
        }
        const body = await peek.text();
        let what = body.slice(0, 120);
        try {
          const envelope = JSON.parse(body) as { type?: string; data?: { id_correlacion?: string } };
          what = `${envelope.type} ${envelope.data?.id_correlacion}`;
        } catch {
          // not an envelope: keep the raw start
        }
        peeked.push({ what, body, from });
      }
      const examples = peeked.slice(0, 5).map((p) => `${p.what} (from ${p.from})`);
      findings.push({ topic, messages, peeked, examples });
    }
    return findings;
  }
}

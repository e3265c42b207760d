import { AEROALPES_MESSAGES, type MessageCatalog } from '../machines/messages.ts';
import { shortTopic } from './pulsar-topics.ts';
import { withRetries } from './batch-transaction.ts';
import type { Health } from './health.ts';
import type { Delivery, SagaStore, Subscription, Transport } from './ports.ts';
import type { Log } from './logger.ts';

export interface BrokerDeadLetterOptions {
  transport: Transport;
  store: SagaStore;
  /** The subscription whose dead-letter topic (`<subscription>-DLQ`) is read. */
  subscription: string;
  /** The message types of this process (default the AeroAlpes ones). */
  messages?: MessageCatalog;
  health?: Health;
  /** Stops waiting out a database outage (on shutdown). */
  signal?: AbortSignal;
  clock?: () => number;
  log?: Log;
}

/** The dead-letter topic the transports use for a subscription. */
export function deadLetterTopicOf(subscription: string): string {
  return `${subscription}-DLQ`;
}

/**
 * Reads back what the broker moved to a subscription's dead-letter topic (a message it
 * delivered `maxRedeliveries` times without an acknowledgement, e.g. because every
 * attempt crashed the process) into `dead_letters`, with its reason, so no message ends in
 * a topic nobody reads. Each is recorded once (by message id), then acknowledged.
 *
 * @example
 * const dlq = await recordBrokerDeadLetters({ transport, store, subscription: 'sagas' });
 * // ... on shutdown
 * await dlq.close();
 */
export function recordBrokerDeadLetters(options: BrokerDeadLetterOptions): Promise<Subscription> {
  const { transport, store, subscription } = options;
  const clock = options.clock ?? Date.now;
  const topic = deadLetterTopicOf(subscription);
  const record = async (delivery: Delivery) => {
    const messages = options.messages ?? AEROALPES_MESSAGES;
    const parsed = messages.parse(delivery.payload);
    const envelope = parsed.ok ? parsed.envelope : null;
    const origin = delivery.properties?.REAL_TOPIC ?? null;
    const original = origin ? shortTopic(origin) : envelope ? messages.topicOf(envelope.type) : null;
    const dedupe = envelope?.id ?? delivery.properties?.ORIGIN_MESSAGE_ID ?? null;
    const consumer = `dlq:${subscription}`;
    await withRetries(
      () =>
        store.transaction(async (uow) => {
          if (dedupe) {
            if (await uow.seen(consumer, dedupe)) return;
            await uow.remember(consumer, dedupe, clock());
          }
          await uow.deadLetter({
            source: 'broker-dlq',
            consumer: subscription,
            messageId: envelope?.id ?? null,
            type: envelope?.type ?? null,
            topic: original,
            key: delivery.key,
            sagaId: envelope?.data.id_correlacion ?? null,
            code: 'redelivery_exhausted',
            reason: `delivered to ${subscription} ${delivery.redeliveryCount + 1} times or more without an acknowledgement; the broker moved it to ${topic}`,
            payload: delivery.payload,
            at: clock(),
          });
        }),
      { health: options.health, signal: options.signal, log: options.log },
    );
    options.log?.('recorded a message from the broker dead-letter topic', {
      level: 'error',
      consumer: subscription,
      messageId: envelope?.id ?? null,
      messageType: envelope?.type ?? null,
      sagaId: envelope?.data.id_correlacion ?? null,
      topic,
      originalTopic: original,
    });
  };
  return transport.subscribe({ topics: [topic], subscription: `${subscription}-dead-letters`, handler: record });
}

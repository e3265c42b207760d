import { randomUUID } from 'node:crypto';
import type { Transaction } from 'sequelize';
import { parseEnvelope, TOPICS, type Envelope, type EventType, type Events } from '../../machines/messages.ts';
import type { SequelizeSagaStore, SequelizeUnitOfWork } from '../../db/sequelize-saga-store.ts';
import { makeEnvelope } from '../../runtime/envelope.ts';
import type { OutboxRelay } from '../../runtime/outbox-relay.ts';
import type { Delivery, Subscription, Transport } from '../../runtime/ports.ts';

/** An event a participant answers with. */
export type Reply = { [T in EventType]: { type: T; data: Events[T] } }[EventType];

export interface ParticipantDeps {
  store: SequelizeSagaStore;
  relay: OutboxRelay;
  clock?: () => number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * A service of the saga (vuelos, pagos, gds, notificaciones). Each command is applied in
 * one transaction with the service's own tables, its id remembered (so redeliveries are
 * answered once), and the reply events put in the outbox; the delivery is acknowledged
 * after the commit.
 */
export abstract class Participant {
  abstract readonly name: string;
  abstract readonly serviceName: string;
  /** Topics this participant consumes. */
  abstract readonly topics: readonly string[];
  protected readonly clock: () => number;
  protected readonly log: NonNullable<ParticipantDeps['log']>;
  private subscription: Subscription | null = null;

  constructor(protected readonly deps: ParticipantDeps) {
    this.clock = deps.clock ?? Date.now;
    this.log = deps.log ?? (() => {});
  }

  /** Applies one message to the service's own state; returns the events to publish. */
  protected abstract apply(message: Envelope, transaction: Transaction): Promise<Reply[]>;

  async listen(transport: Transport): Promise<void> {
    this.subscription = await transport.subscribe({
      topics: this.topics,
      subscription: this.name,
      handler: (delivery) => this.deliver(delivery),
    });
  }

  async close(): Promise<void> {
    await this.subscription?.close();
    this.subscription = null;
  }

  /** Handles one delivery; resolves after its effects and replies are committed. */
  async deliver(delivery: Delivery): Promise<void> {
    const parsed = parseEnvelope(delivery.payload);
    const now = this.clock();
    await this.deps.store.transaction(async (uow: SequelizeUnitOfWork) => {
      if (!parsed.ok) {
        await uow.deadLetter({ messageId: null, type: null, topic: delivery.topic, sagaId: null, code: 'invalid', reason: `${this.name}: ${parsed.reason}`, payload: delivery.payload, at: now });
        return;
      }
      const message = parsed.envelope;
      if (await uow.seen(this.name, message.id)) return;
      await uow.remember(this.name, message.id, now);
      const replies = await this.apply(message, uow.transaction);
      await uow.enqueue(
        replies.map((reply) => {
          const envelope = makeEnvelope(reply.type, reply.data, this.serviceName, { id: randomUUID(), now });
          return {
            messageId: envelope.id,
            sagaType: this.name,
            sagaId: reply.data.id_correlacion,
            topic: TOPICS[reply.type],
            key: reply.data.id_correlacion,
            payload: JSON.stringify(envelope),
            createdAt: now,
          };
        }),
      );
    });
    this.deps.relay.kick();
  }
}

/** A payload `parseEnvelope` validated against its type's schema. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Validated = { id_correlacion: string; id_reserva: string } & Record<string, any>;

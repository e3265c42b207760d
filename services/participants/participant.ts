import { randomUUID } from 'node:crypto';
import type { Context } from '@opentelemetry/api';
import type Router from '@koa/router';
import { AEROALPES_MESSAGES, type Envelope, type Events, type MessageCatalog, type ParseResult, type SimulatedFailure } from '../../machines/messages.ts';
import type { SequelizeSagaStore } from '../../db/sequelize-saga-store.ts';
import type { SequelizeUnitOfWork } from '../../db/sequelize-unit-of-work.ts';
import { makeEnvelope } from '../../runtime/envelope.ts';
import type { OutboxRelay } from '../../runtime/outbox-relay.ts';
import { transactEach } from '../../runtime/batch-transaction.ts';
import { Batcher } from '../../runtime/batcher.ts';
import { recordBrokerDeadLetters } from '../../runtime/broker-dead-letters.ts';
import { refusedMessage } from '../../runtime/dead-letters.ts';
import { SagaError } from '../../runtime/errors.ts';
import type { Health } from '../../runtime/health.ts';
import type { SagaMetrics } from '../../runtime/metrics.ts';
import { inSpan, SpanKind, traceContextOf, traceLogFields } from '../../runtime/tracing.ts';
import type { Delivery, Subscription, Transport, UnitOfWork } from '../../runtime/ports.ts';
import { silent, type Log, type LogFields } from '../../runtime/logger.ts';

/** Any event a participant answers with. */
export type AnyReply = { type: string; data: { id_correlacion: string } };

/** An event a participant answers with (of `E`, by default the AeroAlpes events). */
export type Reply<E = Events> = { [T in keyof E & string]: { type: T; data: E[T] & { id_correlacion: string } } }[keyof E & string];

export interface ParticipantDeps {
  store: SequelizeSagaStore;
  relay: OutboxRelay;
  clock?: () => number;
  log?: Log;
  /** Most deliveries applied in one transaction (default 64). */
  maxBatch?: number;
  /**
   * Test mode of this process: honour `simular_fallo` in the messages it receives (default
   * off: a message asking for a simulated failure is handled as if it did not).
   */
  testMode?: boolean;
  /** What the process knows of its database and broker, shared by its parts. */
  health?: Health;
  /** The message types of this process (default the AeroAlpes ones). */
  messages?: MessageCatalog;
  /** Where it counts its transactions (`GET /metrics`). */
  metrics?: SagaMetrics;
}

/**
 * A service of the saga (vuelos, pagos, gds, notificaciones): most are declared as their
 * command handlers over their own table (`declareParticipant`, ./declare.ts). Each command is applied in
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
  protected readonly messages: MessageCatalog;
  private subscriptions: Subscription[] = [];
  private readonly batcher: Batcher<Received, void>;
  /** Aborted on close: stops waiting out an outage. */
  private readonly stopping = new AbortController();

  constructor(protected readonly deps: ParticipantDeps) {
    this.clock = deps.clock ?? Date.now;
    this.log = deps.log ?? silent;
    this.messages = deps.messages ?? AEROALPES_MESSAGES;
    this.batcher = new Batcher(
      (received) =>
        transactEach(deps.store, received, (uow, r) => this.applyDelivery(uow as SequelizeUnitOfWork, r), {
          log: this.log,
          health: deps.health,
          signal: this.stopping.signal,
          observer: deps.metrics?.transactions(this.name),
          // Outages are waited out; only what can never succeed is dead-lettered.
          onTerminal: (uow, r, error) => this.deadLetter(uow, r, error instanceof SagaError ? error.code : 'error', (error as Error)?.message ?? String(error)),
          onCommit: () => deps.relay.kick(),
          prefetch: async (uow, batch) => {
            const messages = batch.flatMap(({ parsed }) => (parsed.ok ? [parsed.envelope] : []));
            await uow.prefetch({ processed: messages.map((m) => ({ consumer: this.name, messageId: m.id })) });
            await this.prefetch(uow as SequelizeUnitOfWork, messages);
          },
        }),
      deps.maxBatch ?? 64,
    );
  }

  /** Message types this participant acts on; others are acknowledged without a transaction. */
  abstract readonly handles: readonly string[];

  /**
   * Applies one message to the service's own state (its tables through `uow.rows`, written
   * at commit with the rest of the batch); returns the events to publish.
   */
  protected abstract apply(message: Envelope, uow: SequelizeUnitOfWork): Promise<AnyReply[]>;

  /** Its HTTP endpoints (reads of its own state), on the process's router. */
  routes(_router: Router): void {}

  /** Reads ahead, for a batch, the rows `apply` will read (one statement instead of one per message). */
  protected async prefetch(_uow: SequelizeUnitOfWork, _messages: Envelope[]): Promise<void> {}

  /** Subscribes to its topics, and to the broker's dead-letter topic of its subscription. */
  async listen(transport: Transport): Promise<void> {
    this.subscriptions.push(
      await transport.subscribe({
        topics: this.topics,
        subscription: this.name,
        handler: (delivery) => this.deliver(delivery),
      }),
    );
    const { store, health, clock, log } = this.deps;
    this.subscriptions.push(await recordBrokerDeadLetters({ transport, store, subscription: this.name, messages: this.messages, health, signal: this.stopping.signal, clock, log }));
  }

  /** Lets the deliveries in flight commit and be acknowledged (for at most `drainMs`), then stops consuming. */
  async close(drainMs = 10_000): Promise<void> {
    const subscriptions = this.subscriptions.splice(0);
    await Promise.all(subscriptions.map((s) => s.drain(drainMs)));
    this.stopping.abort();
    await Promise.all(subscriptions.map((s) => s.close()));
  }

  /**
   * Handles one delivery; resolves after its effects and replies are committed (with the
   * other deliveries of its batch), so the transport acknowledges only then.
   */
  async deliver(delivery: Delivery): Promise<void> {
    const parsed = this.messages.parse(delivery.payload);
    if (parsed.ok && !this.handles.includes(parsed.envelope.type)) return; // not ours: ack, no transaction
    return this.batcher.submit({ delivery, parsed });
  }

  /** Applies one delivery in a span of its own, a child of the one that published it; its replies carry the span on. */
  private applyDelivery(uow: SequelizeUnitOfWork, received: Received): Promise<void> {
    const { parsed, delivery } = received;
    const envelope = parsed.ok ? parsed.envelope : null;
    const attributes = () => ({
      'messaging.system': 'pulsar',
      'messaging.operation.type': 'process',
      'messaging.destination.name': delivery.topic,
      'messaging.consumer.group.name': this.name,
      ...(envelope ? { 'messaging.message.id': envelope.id, 'cloudevents.event_type': envelope.type, 'saga.id': envelope.data.id_correlacion } : {}),
    });
    return inSpan(`${this.name} ${envelope?.type ?? 'invalid message'}`, SpanKind.CONSUMER, traceContextOf(delivery.properties, envelope), attributes, async (trace, span) => {
      const now = this.clock();
      if (!parsed.ok) return this.deadLetter(uow, received, 'invalid', parsed.reason, trace);
      const message = this.deps.testMode ? parsed.envelope : withoutSimulatedFailure(parsed.envelope, this.log, this.name);
      if (await uow.seen(this.name, message.id)) return;
      await uow.remember(this.name, message.id, now);
      const replies = await this.apply(message, uow);
      await uow.enqueue(
        replies.map((reply) => {
          const envelope = makeEnvelope(reply.type, reply.data, this.serviceName, { id: randomUUID(), now, trace });
          return {
            messageId: envelope.id,
            sagaType: this.name,
            sagaId: reply.data.id_correlacion,
            topic: this.messages.topicOf(reply.type),
            key: reply.data.id_correlacion,
            payload: JSON.stringify(envelope),
            createdAt: now,
          };
        }),
      );
      if (this.log.enabled?.('debug') ?? true) this.log('message applied', { level: 'debug', consumer: this.name, messageId: message.id, messageType: message.type, sagaId: message.data.id_correlacion, ...traceLogFields(span) });
    });
  }

  /** What a log line about `message` names: this service (the owner of its outbox rows, their saga type), the saga and the message. */
  protected about(message: Envelope | null): LogFields {
    return aboutMessage(this.name, message);
  }

  /** Records a delivery that can never be applied, with its reason; it is then acknowledged. */
  private async deadLetter(uow: UnitOfWork, { delivery, parsed }: Received, code: string, reason: string, trace?: Context): Promise<void> {
    const envelope = parsed.ok ? parsed.envelope : null;
    await uow.deadLetter(refusedMessage({ consumer: this.name, delivery, envelope, code, reason: `${this.name}: ${reason}`, at: this.clock() }));
    this.log('dead-lettered', { level: 'error', ...this.about(envelope), topic: delivery.topic, code, reason, ...traceLogFields(trace) });
  }
}

interface Received {
  delivery: Delivery;
  parsed: ParseResult;
}

function aboutMessage(service: string, message: Envelope | null): LogFields {
  return { service, sagaType: service, sagaId: message?.data.id_correlacion ?? null, messageId: message?.id ?? null, messageType: message?.type ?? null };
}

/** The message without `simular_fallo`: failures are simulated only where test mode is on. */
function withoutSimulatedFailure(message: Envelope, log: NonNullable<ParticipantDeps['log']>, service: string): Envelope {
  if (!('simular_fallo' in message.data)) return message;
  log('simular_fallo ignored: test mode is off in this process', { level: 'warn', ...aboutMessage(service, message) });
  const { simular_fallo: _ignored, ...data } = message.data as Record<string, unknown>;
  return { ...message, data: data as Envelope['data'] };
}

/** The simulated failure a command carried, passed on in the reply (choreography has no coordinator to hold it). */
export function propagate(command: { simular_fallo?: SimulatedFailure }): { simular_fallo?: SimulatedFailure } {
  return command.simular_fallo ? { simular_fallo: command.simular_fallo } : {};
}

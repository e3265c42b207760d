import { randomUUID } from 'node:crypto';
import { DeadLetterResolvedError, UnknownDeadLetterError, ValidationError } from './errors.ts';
import type { Envelope } from '../machines/messages.ts';
import type { DeadLetter, DeadLetterQuery, Deadline, Delivery, SagaStore, UnitOfWork } from './ports.ts';
import type { Log } from './logger.ts';

export interface DeadLettersOptions {
  /** The consumers (subscriptions, participants, saga types) whose dead letters this process works; all when omitted. */
  consumers?: readonly string[];
  clock?: () => number;
  log?: Log;
}

/** What a replay did. */
export interface Replayed {
  letter: DeadLetter;
  /** e.g. `republished to evento-pago`, `deadline due again`. */
  action: string;
}

/**
 * Working the dead letters: list, show, replay, discard. A replay puts the input back on
 * its normal path, in the same transaction that marks the letter replayed: a message (or
 * an outbox row the broker refused) goes back into the outbox for its topic (consumers that
 * had processed it already skip it by its message id; the one that refused it handles it
 * again), a deadline is due again. Both are recorded on the letter (`resolution`) and logged.
 *
 * @example
 * const letters = new DeadLetters(store, { consumers: ['sagas', 'reserva'] });
 * await letters.replay(12, 'cli:ana');                // after the fix is deployed
 * await letters.discard(13, 'cli:ana', 'test message');
 */
export class DeadLetters {
  private readonly clock: () => number;
  private readonly log: NonNullable<DeadLettersOptions['log']>;

  constructor(
    private readonly store: SagaStore,
    private readonly options: DeadLettersOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => {});
  }

  list(query: Omit<DeadLetterQuery, 'consumers'> = {}): Promise<DeadLetter[]> {
    return this.store.listDeadLetters({ ...query, ...(this.options.consumers ? { consumers: this.options.consumers } : {}) });
  }

  /** @throws UnknownDeadLetterError */
  async get(id: number): Promise<DeadLetter> {
    const letter = Number.isInteger(id) ? await this.store.getDeadLetter(id) : null;
    const visible = letter && (!this.options.consumers || (letter.consumer != null && this.options.consumers.includes(letter.consumer)));
    if (!letter || !visible) throw new UnknownDeadLetterError(`no dead letter ${id}${this.options.consumers ? ' of this service' : ''}`);
    return letter;
  }

  /** @throws UnknownDeadLetterError, DeadLetterResolvedError, ValidationError (nothing to replay it to) */
  async replay(id: number, by: string): Promise<Replayed> {
    const letter = await this.get(id);
    const at = this.clock();
    const action = await this.store.transaction(async (uow) => {
      const action = await putBack(uow, letter, at);
      await this.resolve(uow, letter, 'replayed', `replayed by ${by}: ${action}`, at);
      return action;
    });
    this.log('dead letter replayed', { level: 'info', ...aboutLetter(letter), id, by, action });
    return { letter: { ...letter, status: 'replayed', resolvedAt: at, resolution: `replayed by ${by}: ${action}` }, action };
  }

  /** @throws UnknownDeadLetterError, DeadLetterResolvedError */
  async discard(id: number, by: string, reason = 'no reason given'): Promise<DeadLetter> {
    const letter = await this.get(id);
    const at = this.clock();
    const resolution = `discarded by ${by}: ${reason}`;
    await this.store.transaction((uow) => this.resolve(uow, letter, 'discarded', resolution, at));
    this.log('dead letter discarded', { level: 'info', ...aboutLetter(letter), id, by, reason });
    return { ...letter, status: 'discarded', resolvedAt: at, resolution };
  }

  private async resolve(uow: UnitOfWork, letter: DeadLetter, status: 'replayed' | 'discarded', resolution: string, at: number): Promise<void> {
    // Rolls the transaction back when someone resolved it first.
    if (!(await uow.resolveDeadLetter(letter.id!, status, resolution, at))) throw new DeadLetterResolvedError(`dead letter ${letter.id} is ${letter.status === 'open' ? 'resolved already' : letter.status}`);
  }
}

/** Puts a dead letter's input back where it came from; says what it did. */
async function putBack(uow: UnitOfWork, letter: DeadLetter, at: number): Promise<string> {
  if (letter.source === 'deadline') {
    const deadline = JSON.parse(letter.payload) as Deadline;
    await uow.upsertDeadline({ ...deadline, dueAt: at, afterMessage: null, delayMs: null });
    return `deadline ${deadline.timerId} of ${deadline.sagaType}/${deadline.sagaId} due again`;
  }
  if (!letter.topic) throw new ValidationError(`dead letter ${letter.id} has no topic to replay it to`);
  await uow.enqueue([
    {
      // A refused outbox row keeps its id (deadlines may wait for it); a consumed message gets
      // a new outbox id, since it may have come through this outbox before. Its envelope keeps its own.
      messageId: letter.source === 'publish' && letter.messageId ? letter.messageId : randomUUID(),
      sagaType: (letter.consumer ?? 'replay').slice(0, 64),
      sagaId: (letter.sagaId ?? letter.key ?? '').slice(0, 64),
      topic: letter.topic,
      key: letter.key ?? letter.sagaId ?? '',
      payload: letter.payload,
      createdAt: at,
    },
  ]);
  return `republished to ${letter.topic}`;
}

/**
 * The dead letter of a message a consumer refused for good: what was delivered (the raw
 * payload, so a malformed one is kept as it came), and what is known of it once parsed.
 *
 * @example
 * await uow.deadLetter(refusedMessage({ consumer: 'pagos', delivery, envelope: null, code: 'invalid', reason, at: Date.now() }));
 */
export function refusedMessage(fields: { consumer: string; delivery?: Delivery; envelope: Envelope | null; topic?: string | null; code: string; reason: string; at: number }): DeadLetter {
  const { delivery, envelope } = fields;
  return {
    source: 'message',
    consumer: fields.consumer,
    messageId: envelope?.id ?? null,
    type: envelope?.type ?? null,
    topic: delivery?.topic ?? fields.topic ?? null,
    key: delivery?.key ?? envelope?.data.id_correlacion ?? null,
    sagaId: envelope?.data.id_correlacion ?? null,
    code: fields.code,
    reason: fields.reason,
    payload: delivery?.payload ?? JSON.stringify(envelope),
    at: fields.at,
  };
}

/** What a log line about a dead letter names: the message, its saga and who refused it. */
function aboutLetter(letter: DeadLetter): Record<string, unknown> {
  // A publish or deadline letter's consumer is the saga type (or participant) that wrote it.
  const sagaType = letter.source === 'publish' || letter.source === 'deadline' ? letter.consumer : undefined;
  return { consumer: letter.consumer, ...(sagaType ? { sagaType } : {}), sagaId: letter.sagaId, messageId: letter.messageId, messageType: letter.type, topic: letter.topic };
}

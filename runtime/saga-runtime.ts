import { randomUUID } from 'node:crypto';
import { context as activeContext, ROOT_CONTEXT, type Attributes, type Context } from '@opentelemetry/api';
import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { AEROALPES_MESSAGES, LIMITS, type Envelope, type MessageCatalog } from '../machines/messages.ts';
import { transactEach, type Settled } from './batch-transaction.ts';
import { Batcher } from './batcher.ts';
import { recordBrokerDeadLetters } from './broker-dead-letters.ts';
import { DeadlineScheduler } from './deadline-scheduler.ts';
import { encodeStateValue, resolveEffects, statusOf, type Effect } from './effects.ts';
import { makeEnvelope } from './envelope.ts';
import {
  classify,
  MessageTooLargeError,
  SagaAlreadyExistsError,
  SagaError,
  TransitionError,
  UnknownSagaError,
  ValidationError,
} from './errors.ts';
import { Health } from './health.ts';
import type { CommittedTransition } from './committed-transition.ts';
import { OutboxRelay } from './outbox-relay.ts';
import { refusedMessage } from './dead-letters.ts';
import type {
  DeadLetter,
  Deadline,
  Delivery,
  LogEntry,
  NewOutboxMessage,
  ReadAhead,
  SagaInstanceRecord,
  SagaStore,
  Subscription,
  Transport,
  UnitOfWork,
} from './ports.ts';
import { SagaRegistry, type SagaDefinition } from './registry.ts';
import { verifySaga, type VerifyReport } from './verify.ts';
import { previewRepair, type RepairEvent, type RepairPreview } from './repair.ts';
import { definitionFor } from './upgrade.ts';
import { SagaMetrics, type TransactionObserver } from './metrics.ts';
import { inSpan, SpanKind, traceContextOf, traceFieldsOf, traceIdIn, traceLogFields } from './tracing.ts';
import { silent, type Log } from './logger.ts';

export interface SagaRuntimeOptions {
  store: SagaStore;
  transport: Transport;
  sagas: readonly SagaDefinition[];
  /** The message types it accepts, with their schemas (default the AeroAlpes ones, machines/messages.ts). */
  messages?: MessageCatalog;
  /** Shared with the participants of the same process; created when omitted. */
  relay?: OutboxRelay;
  /** Durable subscription name of this runtime's consumers (default `sagas`). */
  subscription?: string;
  /** Most messages committed in one transaction (default 64). */
  maxBatch?: number;
  /**
   * Attempts of an input that fails in a way nobody classified before it is dead-lettered
   * (default 4). Outages and conflicts are waited out however long they last.
   */
  maxAttempts?: number;
  /** Poll interval of the deadline scheduler, for deadlines set by other processes (default 1000 ms). */
  deadlinePollMs?: number;
  clock?: () => number;
  log?: Log;
  /** Passed to a definition's `startedBy` builders (e.g. this process's configured deadlines). */
  startSettings?: unknown;
  /**
   * Called after each commit, once for every saga transition it committed, in order (live
   * inspection: `SAGA_INSPECT`, runtime/inspection.ts). What it throws is logged, never rethrown.
   */
  onTransition?: (transition: CommittedTransition) => void;
  /**
   * What the process knows of its database and broker, shared by its parts; created when
   * omitted (then fed by the transport's `watch`).
   */
  health?: Health;
  /**
   * How long deadlines wait after an outage of the database or broker ends, and after the
   * runtime starts, before they fire (default 0), so answers held up meanwhile arrive first.
   */
  outageGraceMs?: number;
  /** Wait between attempts while the database is unavailable (default 100 ms doubling to 5 s). */
  backoff?: { minMs: number; maxMs: number };
  /**
   * Where it counts what it does (`GET /metrics`). Dead letters are counted where the store
   * commits them (`SagaMetrics.countDeadLettersOf`): a registry given here is wired so by its
   * process, once (services/infrastructure.ts); the registry of its own it makes when this is
   * omitted counts its store's dead letters itself.
   */
  metrics?: SagaMetrics;
}

/** What became of one input. */
export type Outcome =
  | { status: 'applied'; sagaId: string; state: string }
  | { status: 'duplicate'; sagaId: string }
  | { status: 'ignored'; sagaId: string; reason: string }
  | { status: 'dead-lettered'; reason: string; code: string };

/**
 * An input to a saga: a start, a message (parsed; `delivery` when a transport delivered
 * it), a delivery that is not a valid message, or a due deadline.
 */
export type SagaInput =
  | { kind: 'start'; definition: SagaDefinition; id: string; input: unknown; trace?: Context }
  | { kind: 'message'; envelope: Envelope; topic?: string; delivery?: Delivery }
  | { kind: 'invalid'; delivery: Delivery; reason: string }
  | { kind: 'timer'; deadline: Deadline }
  | { kind: 'repair'; sagaType: string; id: string; event: RepairEvent; by: string; reason: string; trace?: Context };

/** Who repairs a saga and why (kept in its log). */
export interface RepairOptions {
  reason: string;
  by: string;
  /** Only compute what the repair would do; write nothing. */
  dryRun?: boolean;
}

export interface StartOptions {
  /** Saga id (the `id_correlacion`); a random UUID when omitted. */
  id?: string;
  /** Machine version; the newest registered when omitted. */
  version?: number;
  /** The trace the start joins (the message that asked for it); the current context when omitted. */
  trace?: Context;
}

/** Called after each commit with what it changed. */
export type CommitListener = (outcomes: Outcome[]) => void;

/**
 * Runs sagas whose instances are persisted XState actors.
 *
 * The whole path of a message is in this file: a delivery is parsed, batched with others,
 * and applied in **one database transaction** per batch (saga log, pure XState
 * transition, snapshot with an optimistic version check, commands into the outbox,
 * deadlines); only after the commit is the delivery acknowledged and the outbox relay
 * kicked to publish.
 *
 * Nothing accepted is given up for an outage: while the database is unavailable the batch
 * waits and tries again (the deliveries stay unacknowledged, so the consumer pulls no
 * more) and deadlines are held. Only an input that can never succeed becomes a dead letter,
 * with its reason.
 *
 * @example
 * const runtime = new SagaRuntime({ store, transport, sagas: [reservaSaga] });
 * await runtime.listen();
 * const { id } = await runtime.startSaga('reserva', input, { id: input.id_correlacion });
 * // ... later
 * await runtime.close();
 */
export class SagaRuntime {
  readonly registry: SagaRegistry;
  readonly relay: OutboxRelay;
  readonly health: Health;
  readonly metrics: SagaMetrics;
  /** The message types it accepts. */
  readonly messages: MessageCatalog;
  /** The durable subscription name of this runtime's consumers. */
  readonly subscriptionName: string;
  private readonly store: SagaStore;
  private readonly transport: Transport;
  private readonly clock: () => number;
  private readonly batcher: Batcher<SagaInput, Outcome>;
  private readonly scheduler: DeadlineScheduler;
  private readonly log: NonNullable<SagaRuntimeOptions['log']>;
  private readonly ownsRelay: boolean;
  private readonly listeners = new Set<CommitListener>();
  /** What each transaction under way did (counted and reported by `onTransition` once it commits), and the trace of the input it applies. */
  private readonly uncommitted = new WeakMap<UnitOfWork, Uncommitted>();
  /** Aborted on close: stops waiting out an outage. */
  private readonly stopping = new AbortController();
  private readonly unwatch: (() => void) | undefined;
  private readonly uncount: (() => void) | undefined;
  private readonly transactionObserver: TransactionObserver;
  private subscriptions: Subscription[] = [];
  private listening = false;

  constructor(private readonly options: SagaRuntimeOptions) {
    this.store = options.store;
    this.transport = options.transport;
    this.registry = new SagaRegistry(options.sagas);
    this.subscriptionName = options.subscription ?? 'sagas';
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? silent;
    this.health = options.health ?? new Health({ clock: this.clock, log: this.log });
    this.messages = options.messages ?? AEROALPES_MESSAGES;
    this.metrics = options.metrics ?? new SagaMetrics();
    if (!options.metrics) this.uncount = this.metrics.countDeadLettersOf(this.store);
    this.transactionObserver = this.metrics.transactions(this.subscriptionName);
    if (!options.health) {
      this.unwatch = this.transport.watch?.((state) => (state.available ? this.health.up('broker') : this.health.down('broker', state.reason ?? 'disconnected')));
    }
    this.ownsRelay = !options.relay;
    this.relay = options.relay ?? new OutboxRelay(this.store, this.transport, { clock: this.clock, log: this.log, health: this.health });
    this.batcher = new Batcher((inputs) => this.settle(inputs), options.maxBatch ?? 64);
    this.scheduler = new DeadlineScheduler(this.store, (due) => this.fireDeadlines(due), {
      sagaTypes: this.registry.types(),
      clock: this.clock,
      pollMs: options.deadlinePollMs ?? 1000,
      graceMs: options.outageGraceMs ?? 0,
      health: this.health,
      log: this.log,
    });
  }

  /**
   * Subscribes to every topic the registered sagas consume (and to the broker's
   * dead-letter topic of that subscription), then starts the outbox relay and the
   * deadline scheduler (which fires deadlines that fell due while the runtime was down).
   */
  async listen(): Promise<void> {
    if (this.listening) return;
    this.listening = true;
    this.subscriptions.push(
      await this.transport.subscribe({
        topics: this.registry.topics(),
        subscription: this.subscriptionName,
        handler: (delivery) => this.deliver(delivery),
      }),
    );
    this.subscriptions.push(
      await recordBrokerDeadLetters({ transport: this.transport, store: this.store, subscription: this.subscriptionName, messages: this.messages, health: this.health, signal: this.stopping.signal, clock: this.clock, log: this.log }),
    );
    this.relay.start();
    this.scheduler.start();
  }

  /**
   * Stops consuming, firing deadlines and publishing: first lets the messages in flight
   * commit and be acknowledged (for at most `drainMs`), then closes. Committed work stays in
   * the store; what was not acknowledged is delivered again.
   */
  async close(drainMs = 10_000): Promise<void> {
    const subscriptions = this.subscriptions.splice(0);
    this.listening = false;
    await Promise.all(subscriptions.map((s) => s.drain(drainMs)));
    this.stopping.abort();
    await Promise.all(subscriptions.map((s) => s.close()));
    await this.scheduler.stop();
    this.unwatch?.();
    this.uncount?.();
    if (this.ownsRelay) await this.relay.stop();
  }

  onCommitted(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Starts a saga instance: stores its initial snapshot, logs its input, and enqueues the
   * commands of its initial state, in one transaction.
   *
   * @throws SagaAlreadyExistsError, UnknownMachineVersionError, TransitionError, MessageTooLargeError
   */
  async startSaga(type: string, input: unknown, options: StartOptions = {}): Promise<{ id: string; state: string }> {
    const definition = this.registry.get(type, options.version);
    const id = options.id ?? randomUUID();
    const outcome = await this.batcher.submit({ kind: 'start', definition, id, input, trace: options.trace ?? activeContext.active() });
    return { id, state: outcome.status === 'applied' ? outcome.state : '' };
  }

  /**
   * Applies an operator's event (one the definition declares in `repairs`) to a saga, through
   * the same transaction as any event, logged as kind `repair` with who and why. With
   * `dryRun` it writes nothing and answers what the repair would do.
   *
   * @throws UnknownSagaError, RepairNotAcceptedError (with the events the saga accepts now), ValidationError (no reason)
   * @example
   * await runtime.repair('reserva', id, { type: 'ReintentarCompensacion' }, { by: 'ana', reason: 'pasarela restablecida', dryRun: true });
   */
  async repair(sagaType: string, id: string, event: RepairEvent, options: RepairOptions): Promise<RepairPreview> {
    if (!options.reason?.trim()) throw new ValidationError('a repair needs a reason');
    const record = await this.store.getInstance(sagaType, id);
    if (!record) throw new UnknownSagaError(id, ` of type ${sagaType}`);
    const continued = { ...record }; // as the transaction will see it: moved to a newer version, if that is where it goes
    const preview = previewRepair(definitionFor(this.registry, continued).definition, continued, event);
    if (options.dryRun) return preview;
    await this.batcher.submit({ kind: 'repair', sagaType, id, event, by: options.by, reason: options.reason, trace: activeContext.active() });
    return preview;
  }

  /** Handles one delivery from the transport; resolves once its effects (or its dead letter) are committed. */
  deliver(delivery: Delivery): Promise<void> {
    // Parsed now, so the batch can read ahead what its messages are about.
    const parsed = this.messages.parse(delivery.payload);
    // A topic carries several message types: one no saga here consumes is acknowledged, not refused.
    if (parsed.ok && this.registry.consumersOf(parsed.envelope.type).length === 0) return Promise.resolve();
    const input: SagaInput = parsed.ok
      ? { kind: 'message', envelope: parsed.envelope, topic: delivery.topic, delivery }
      : { kind: 'invalid', delivery, reason: parsed.reason };
    return this.batcher.submit(input).then(() => undefined);
  }

  /** Handles an already parsed message (used by tests and HTTP test endpoints). */
  handle(envelope: Envelope, topic?: string): Promise<Outcome> {
    return this.batcher.submit({ kind: 'message', envelope, topic });
  }

  /** Fires every deadline due now (unless held after an outage), without waiting for the scheduler. */
  fireDueDeadlines(): Promise<number> {
    return this.scheduler.poll();
  }

  /** Rebuilds a saga's state from its log alone and compares it with the stored snapshot. */
  async verify(type: string, id: string): Promise<VerifyReport> {
    const record = await this.store.getInstance(type, id);
    if (!record) throw new UnknownSagaError(id, ` of type ${type}`);
    const definition = this.registry.get(record.sagaType, record.version);
    return verifySaga(definition, record, await this.store.readLog(type, id));
  }

  /**
   * Applies a batch of inputs in one transaction. Outages and conflicts are waited out; a
   * batch that still fails is split, so one bad input cannot hold back the others; an input
   * that can never succeed is dead-lettered (a start fails instead, to its caller).
   */
  settle(inputs: SagaInput[]): Promise<Settled<Outcome>[]> {
    // Attempts (and the inputs split off a failed batch) run one after another: the last
    // transaction started is the one that commits.
    let committing: Uncommitted = { transitions: [], lates: [] }; // replaced by each attempt
    return transactEach(this.store, inputs, (uow, input) => this.traced(uow, input), {
      maxAttempts: this.options.maxAttempts,
      observer: this.transactionObserver,
      log: this.log,
      health: this.health,
      signal: this.stopping.signal,
      backoff: this.options.backoff,
      onCommit: (outcomes) => this.afterCommit(outcomes, committing),
      onTerminal: (uow, input, error) => {
        committing = { transitions: [], lates: [] }; // what the failed attempt did was rolled back
        return this.refuse(uow, input, error);
      },
      prefetch: (uow, batch) => {
        this.uncommitted.set(uow, (committing = { transitions: [], lates: [] }));
        return uow.prefetch(this.readAhead(batch));
      },
    });
  }

  /** Like `settle`, but throws the first failure. */
  async process(inputs: SagaInput[]): Promise<Outcome[]> {
    const results = await this.settle(inputs);
    const failed = results.find((r) => !r.ok);
    if (failed && !failed.ok) throw failed.error;
    return results.map((r) => (r as { value: Outcome }).value);
  }

  /** Fires due deadlines, each settled by itself; resolves with how many were settled. */
  private async fireDeadlines(due: Deadline[]): Promise<number> {
    const results = await this.settle(due.map((deadline): SagaInput => ({ kind: 'timer', deadline })));
    return results.filter((r) => r.ok).length;
  }

  /** The instances and processed ids that `apply` will read for these inputs. */
  private readAhead(inputs: readonly SagaInput[]): ReadAhead {
    const keys: Required<ReadAhead> = { instances: [], processed: [] };
    for (const input of inputs) {
      if (input.kind === 'start') keys.instances.push({ sagaType: input.definition.type, id: input.id });
      if (input.kind === 'timer') keys.instances.push({ sagaType: input.deadline.sagaType, id: input.deadline.sagaId });
      if (input.kind === 'repair') keys.instances.push({ sagaType: input.sagaType, id: input.id });
      if (input.kind !== 'message') continue;
      const { id: messageId, type, data } = input.envelope;
      for (const sagaType of this.registry.consumersOf(type)) {
        keys.instances.push({ sagaType, id: data.id_correlacion });
        keys.processed.push({ consumer: `${sagaType}/${data.id_correlacion}`, messageId });
      }
    }
    return keys;
  }

  /**
   * Applies one input in a span of its own, a child of the context it carries (the message's
   * `traceparent`, the request that started or repaired the saga, the transition that set the
   * deadline): what it sends and the deadlines it sets carry that span on.
   */
  private traced(uow: UnitOfWork, input: SagaInput): Promise<Outcome> {
    const [name, kind, parent, attributes] = this.spanOf(input);
    return inSpan(name, kind, parent, attributes, async (context, span) => {
      const pending = this.uncommitted.get(uow);
      if (pending) pending.trace = context; // inputs of one transaction are applied one by one
      const outcome = await this.apply(uow, input);
      span.setAttribute('saga.outcome', outcome.status);
      if (outcome.status !== 'dead-lettered') span.setAttribute('saga.id', outcome.sagaId);
      if (outcome.status === 'applied') span.setAttribute('saga.state', outcome.state);
      if (input.kind === 'message' && (this.log.enabled?.('debug') ?? true)) {
        const { envelope } = input;
        this.log('message applied', { level: 'debug', consumer: this.subscriptionName, sagaType: this.sagaTypesOf(envelope.type), messageId: envelope.id, messageType: envelope.type, sagaId: envelope.data.id_correlacion, outcome: outcome.status, ...(outcome.status === 'applied' ? { state: outcome.state } : {}), ...traceLogFields(span) });
      }
      return outcome;
    });
  }

  /** The span of an input: its name, kind, parent (the context the input carries) and attributes. */
  private spanOf(input: SagaInput): [string, SpanKind, Context, () => Attributes] {
    const on = () => ({ 'messaging.consumer.group.name': this.subscriptionName });
    switch (input.kind) {
      case 'message': {
        const { envelope, delivery } = input;
        return [`process ${envelope.type}`, SpanKind.CONSUMER, traceContextOf(delivery?.properties, envelope), () => ({
          ...on(),
          'messaging.system': 'pulsar',
          'messaging.operation.type': 'process',
          ...(input.topic ? { 'messaging.destination.name': input.topic } : {}),
          'messaging.message.id': envelope.id,
          'cloudevents.event_type': envelope.type,
          'saga.id': envelope.data.id_correlacion,
        })];
      }
      case 'invalid':
        return ['refuse invalid message', SpanKind.CONSUMER, traceContextOf(input.delivery.properties), () => ({ ...on(), 'messaging.destination.name': input.delivery.topic })];
      case 'start':
        return [`start ${input.definition.type}`, SpanKind.INTERNAL, input.trace ?? ROOT_CONTEXT, () => ({ ...on(), 'saga.type': input.definition.type, 'saga.id': input.id })];
      case 'timer': {
        const { deadline } = input;
        return [`deadline ${deadline.timerId}`, SpanKind.INTERNAL, traceContextOf({ traceparent: deadline.traceparent }), () => ({ ...on(), 'saga.type': deadline.sagaType, 'saga.id': deadline.sagaId })];
      }
      case 'repair':
        return [`repair ${input.event.type}`, SpanKind.INTERNAL, input.trace ?? ROOT_CONTEXT, () => ({ ...on(), 'saga.type': input.sagaType, 'saga.id': input.id, 'saga.repair.by': input.by })];
    }
  }

  private async apply(uow: UnitOfWork, input: SagaInput): Promise<Outcome> {
    const now = this.clock();
    if (input.kind === 'timer') return this.applyTimer(uow, input.deadline, now);
    if (input.kind === 'start') return this.applyStart(uow, input.definition, input.id, input.input, now);
    if (input.kind === 'invalid') return this.deadLetter(uow, input, new ValidationError(input.reason), now);
    if (input.kind === 'repair') return this.applyRepair(uow, input, now);
    const { envelope } = input;
    const sagaTypes = this.registry.consumersOf(envelope.type);
    if (sagaTypes.length === 0) return { status: 'ignored', sagaId: envelope.data.id_correlacion, reason: `no saga here consumes ${envelope.type}` };
    const sagaId = envelope.data.id_correlacion;
    let outcome: Outcome | null = null;
    for (const sagaType of sagaTypes) {
      let record = await uow.loadInstance(sagaType, sagaId);
      const consumer = `${sagaType}/${sagaId}`;
      if (record && (await uow.seen(consumer, envelope.id))) {
        outcome ??= { status: 'duplicate', sagaId };
        continue;
      }
      try {
        if (!record) {
          const definition = this.registry.get(sagaType);
          const starter = definition.startedBy?.[envelope.type];
          if (!starter) continue;
          // An initiating message: create the instance, then let it handle the message.
          const start = compute(definition, () => starter(envelope.data as never, (this.options.startSettings ?? {}) as never));
          record = await this.createInstance(uow, definition, sagaId, start, now);
        }
        const { definition, notes } = this.continueOn(record, now);
        const event = { type: envelope.type, data: envelope.data };
        const logged = entry(record, 'event', envelope.type, envelope.data, envelope.id, now);
        outcome = await this.transitionAndCommit(uow, definition, record, event, [...notes, logged], now, envelope.service_name);
        // Remembered only once applied: a message refused for good can be replayed after a fix.
        await uow.remember(consumer, envelope.id, now);
      } catch (error) {
        // Terminal errors come before any write of this saga: dead-letter the message here.
        if (classify(error) !== 'terminal') throw error;
        return this.deadLetter(uow, input, error, now);
      }
    }
    if (outcome) return outcome;
    // A participant's part starts on its own event: one about a saga it has no part in is not its business.
    if (sagaTypes.every((type) => this.registry.get(type).startedBy)) return { status: 'ignored', sagaId, reason: `no part here in saga ${sagaId}` };
    return this.deadLetter(uow, input, new UnknownSagaError(sagaId, ` for ${envelope.type}`), now);
  }

  private async applyStart(uow: UnitOfWork, definition: SagaDefinition, id: string, input: unknown, now: number): Promise<Outcome> {
    if (await uow.loadInstance(definition.type, id)) throw new SagaAlreadyExistsError(definition.type, id);
    const record = await this.createInstance(uow, definition, id, input, now);
    return { status: 'applied', sagaId: id, state: record.stateValue };
  }

  /** Stores a new instance in its initial state, with `xstate.init` and its input in the log. */
  private async createInstance(uow: UnitOfWork, definition: SagaDefinition, id: string, input: unknown, now: number): Promise<SagaInstanceRecord> {
    const [snapshot, actions] = compute(definition, () => initialTransition(definition.machine, input));
    const record: SagaInstanceRecord = {
      sagaType: definition.type,
      id,
      version: definition.version,
      stateValue: '',
      status: 'running',
      snapshot: null,
      rowVersion: 0,
      logSeq: 0,
      createdAt: now,
      updatedAt: now,
      customer: compute(definition, () => definition.customerOf?.(snapshot.context as never))?.slice(0, 64) ?? null,
    };
    const started = entry(record, 'event', 'xstate.init', { input, version: definition.version }, null, now);
    await this.commitTransition(uow, definition, record, snapshot, actions, [started], now, { type: 'xstate.init', input }, undefined, true);
    return record;
  }

  /**
   * The definition a saga continues on. One whose version gave way to a newer one
   * (`migrateFrom`, runtime/upgrade.ts) moves to it here: its snapshot migrated, and a `note`
   * in its log (with the migrated snapshot, from which `verify` replays the rest).
   */
  private continueOn(record: SagaInstanceRecord, now: number): { definition: SagaDefinition; notes: LogEntry[] } {
    const { definition, migratedFrom } = definitionFor(this.registry, record);
    if (migratedFrom === undefined) return { definition, notes: [] };
    this.log('saga moved to a newer machine version', { level: 'info', sagaType: record.sagaType, sagaId: record.id, from: migratedFrom, to: definition.version });
    return { definition, notes: [entry(record, 'note', 'migrated', { from: migratedFrom, to: definition.version, snapshot: record.snapshot }, null, now)] };
  }

  /** An operator's event: checked again inside the transaction (the saga may have moved since the preview). */
  private async applyRepair(uow: UnitOfWork, input: Extract<SagaInput, { kind: 'repair' }>, now: number): Promise<Outcome> {
    const record = await uow.loadInstance(input.sagaType, input.id);
    if (!record) throw new UnknownSagaError(input.id, ` of type ${input.sagaType}`);
    const { definition, notes } = this.continueOn(record, now);
    compute(definition, () => previewRepair(definition, record, input.event));
    const logged = entry(record, 'repair', input.event.type, { data: input.event.data ?? {}, by: input.by, reason: input.reason }, null, now);
    return this.transitionAndCommit(uow, definition, record, { type: input.event.type, data: input.event.data ?? {} } as { type: string }, [...notes, logged], now, `repair by ${input.by}`);
  }

  private async applyTimer(uow: UnitOfWork, deadline: Deadline, now: number): Promise<Outcome> {
    const { sagaType, sagaId } = deadline;
    // Deleting the row is the timer's idempotency: a cancelled or already fired deadline is gone.
    if (!(await uow.takeDeadline(deadline))) return { status: 'ignored', sagaId, reason: 'deadline no longer pending' };
    this.uncommitted.get(uow)?.lates.push({ sagaType, seconds: Math.max(0, now - deadline.dueAt) / 1000 });
    const record = await uow.loadInstance(sagaType, sagaId);
    if (!record) return { status: 'ignored', sagaId, reason: 'saga no longer exists' };
    const { definition, notes } = this.continueOn(record, now);
    const logged = entry(record, 'timer', deadline.event.type, { timerId: deadline.timerId, dueAt: deadline.dueAt, event: deadline.event }, null, now);
    return this.transitionAndCommit(uow, definition, record, deadline.event, [...notes, logged], now);
  }

  private async transitionAndCommit(
    uow: UnitOfWork,
    definition: SagaDefinition,
    record: SagaInstanceRecord,
    event: { type: string },
    logged: LogEntry[],
    now: number,
    source?: string,
  ): Promise<Outcome> {
    const machine = definition.machine;
    const current = machine.resolveState(record.snapshot as Parameters<AnyStateMachine['resolveState']>[0]);
    const accepted = compute(definition, () => current.can(event as never));
    const [next, actions] = compute(definition, () => transition(machine, current, event));
    const entries = [...logged];
    let outcome: Outcome = { status: 'applied', sagaId: record.id, state: encodeStateValue(next.value) };
    if (!accepted) {
      // Handled as the statechart says (no transition), and said so in the saga log.
      const reason = `${event.type} is not accepted in state ${record.stateValue} (${record.status})`;
      entries.push(entry(record, 'note', 'ignored', { event: event.type, state: record.stateValue, status: record.status, reason }, null, now));
      this.log('event not accepted by the saga', { level: 'info', sagaType: record.sagaType, sagaId: record.id, messageId: logged.find((e) => e.kind === 'event')?.messageId ?? null, messageType: event.type, state: record.stateValue });
      outcome = { status: 'ignored', sagaId: record.id, reason };
    }
    await this.commitTransition(uow, definition, record, next, actions, entries, now, event, source);
    return outcome;
  }

  /** Writes one transition: snapshot (version-checked), saga log, outbox, deadlines. */
  private async commitTransition(
    uow: UnitOfWork,
    definition: SagaDefinition,
    record: SagaInstanceRecord,
    next: AnyMachineSnapshot,
    actions: readonly { type: string; params?: unknown }[],
    entries: LogEntry[],
    now: number,
    event: CommittedTransition['event'],
    source: string | undefined,
    isNew = false,
  ): Promise<void> {
    // Everything that can refuse the transition comes before the first write.
    const effects = compute(definition, () => resolveEffects(definition, actions));
    const outbox: NewOutboxMessage[] = [];
    const log = [...entries];
    const trace = this.uncommitted.get(uow)?.trace;
    for (const effect of effects) {
      if (effect.kind !== 'command') continue;
      const message = makeEnvelope(effect.type, effect.data, definition.serviceName, { now, trace });
      const payload = JSON.stringify(message);
      const bytes = Buffer.byteLength(payload);
      if (bytes > LIMITS.messageBytes) {
        throw new MessageTooLargeError(`${definition.type}/${record.id}: command ${effect.type} would be ${bytes} bytes, more than the ${LIMITS.messageBytes} a message may have`);
      }
      outbox.push({ messageId: message.id, sagaType: record.sagaType, sagaId: record.id, topic: effect.topic, key: record.id, payload, createdAt: now });
      log.push(entry(record, 'command', effect.type, { topic: effect.topic, data: effect.data }, message.id, now));
    }
    const stateValue = encodeStateValue(next.value);
    const status = statusOf(next);
    if (stateValue !== record.stateValue || status !== record.status) {
      log.push(entry(record, 'state', stateValue, { value: next.value, status }, null, now));
    }
    const traceId = trace ? traceIdIn(trace) : null;
    log.forEach((e, i) => {
      e.seq = record.logSeq + i + 1;
      e.traceId = traceId;
    });

    const updated: SagaInstanceRecord = {
      ...record,
      stateValue,
      status,
      snapshot: definition.machine.getPersistedSnapshot(next),
      rowVersion: record.rowVersion + 1,
      logSeq: record.logSeq + log.length,
      updatedAt: now,
    };
    // Version-checked: a concurrent handler of the same saga fails here or at commit, and retries.
    if (isNew) await uow.insertInstance(updated);
    else await uow.updateInstance(updated, record.rowVersion);
    await uow.appendLog(log);
    if (outbox.length > 0) await uow.enqueue(outbox);
    await this.applyDeadlines(uow, record, effects, status, now, outbox.at(-1)?.messageId ?? null, trace);
    const previousStatus = isNew ? null : record.status;
    Object.assign(record, updated); // later inputs of the same batch continue from here
    this.uncommitted.get(uow)?.transitions.push({
      sagaType: record.sagaType,
      stateValue,
      status,
      previousStatus,
      // What onTransition reports, built only when someone listens.
      committed: this.options.onTransition && {
        definition,
        sagaId: record.id,
        event,
        snapshot: next,
        ...(source ? { source } : {}),
        commands: effects.flatMap((e) => (e.kind === 'command' ? [{ type: e.type, topic: e.topic, data: e.data }] : [])),
      },
    });
  }

  /**
   * Stores the transition's deadlines. A deadline set by a transition that sent a command
   * counts from the command's publication (`afterMessage`), so a step's deadline measures
   * the participant, not a broker that could not take the command.
   */
  private async applyDeadlines(uow: UnitOfWork, record: SagaInstanceRecord, effects: Effect[], status: string, now: number, afterMessage: string | null, trace: Context | undefined) {
    if (status !== 'running') return uow.cancelAllDeadlines(record.sagaType, record.id);
    for (const effect of effects) {
      if (effect.kind === 'cancel') await uow.cancelDeadline(record.sagaType, record.id, effect.timerId);
      if (effect.kind === 'schedule') {
        const { timerId, delay, event } = effect;
        const traceparent = trace ? (traceFieldsOf(trace).traceparent ?? null) : null;
        await uow.upsertDeadline({ sagaType: record.sagaType, sagaId: record.id, timerId, dueAt: now + delay, event, afterMessage, delayMs: delay, traceparent });
        if (!afterMessage) this.scheduler.expect(now + delay);
      }
    }
  }

  /**
   * What an input that can never succeed becomes: a message its dead letter; a deadline
   * its dead letter too (and the row goes, so it never blocks the others). A start fails,
   * to its caller.
   */
  private async refuse(uow: UnitOfWork, input: SagaInput, error: unknown): Promise<Outcome> {
    const now = this.clock();
    if (input.kind === 'start' || input.kind === 'repair') throw error;
    if (input.kind !== 'timer') return this.deadLetter(uow, input, error, now);
    const { deadline } = input;
    if (!(await uow.takeDeadline(deadline))) return { status: 'ignored', sagaId: deadline.sagaId, reason: 'deadline no longer pending' };
    return this.record(uow, error, (code, reason) => ({
      source: 'deadline',
      consumer: deadline.sagaType,
      messageId: null,
      type: deadline.event.type,
      topic: null,
      sagaId: deadline.sagaId,
      code,
      reason,
      payload: JSON.stringify(deadline),
      at: now,
    }));
  }

  private deadLetter(uow: UnitOfWork, input: Extract<SagaInput, { kind: 'message' | 'invalid' }>, error: unknown, now: number): Promise<Outcome> {
    const envelope = input.kind === 'message' ? input.envelope : null;
    const topic = input.kind === 'message' ? input.topic : null;
    return this.record(uow, error, (code, reason) => refusedMessage({ consumer: this.subscriptionName, delivery: input.delivery, envelope, topic, code, reason, at: now }));
  }

  private async record(uow: UnitOfWork, error: unknown, letter: (code: string, reason: string) => DeadLetter): Promise<Outcome> {
    const code = error instanceof SagaError ? error.code : 'error';
    const reason = error instanceof Error ? error.message : String(error);
    const written = letter(code, reason);
    await uow.deadLetter(written);
    this.log('dead-lettered', { level: 'error', consumer: written.consumer, sagaType: written.source === 'deadline' ? written.consumer : this.sagaTypesOf(written.type), sagaId: written.sagaId, messageId: written.messageId, messageType: written.type, topic: written.topic, source: written.source, code, reason, ...traceLogFields(this.uncommitted.get(uow)?.trace) });
    return { status: 'dead-lettered', reason, code };
  }

  /** The saga types here that consume messages of `type` (for log lines). */
  private sagaTypesOf(type: string | null): string | null {
    return (type && this.registry.consumersOf(type).join(',')) || null;
  }

  private afterCommit(outcomes: Outcome[], { transitions, lates }: Uncommitted): void {
    if (outcomes.some((o) => o.status === 'applied')) this.relay.kick();
    for (const listener of this.listeners) listener(outcomes);
    // Counted once committed, so an attempt tried again is not counted twice.
    for (const t of transitions) this.metrics.transition(t.sagaType, t.stateValue, t.status, t.previousStatus);
    for (const late of lates) this.metrics.deadlineLag.observe({ saga_type: late.sagaType }, late.seconds);
    if (!this.options.onTransition) return;
    for (const { committed } of transitions) {
      try {
        if (committed) this.options.onTransition(committed);
      } catch (error) {
        this.log('onTransition failed', { level: 'warn', error: (error as Error).message });
      }
    }
  }
}

/** What a transaction did that is counted once it commits, and the trace of the input it applies now. */
interface Uncommitted {
  transitions: Transitioned[];
  /** How late each deadline it fired was. */
  lates: { sagaType: string; seconds: number }[];
  trace?: Context;
}

/** A transition as the runtime keeps it until the commit: what the metrics count, and what `onTransition` reports. */
interface Transitioned {
  sagaType: string;
  stateValue: string;
  status: string;
  previousStatus: string | null;
  committed: CommittedTransition | undefined;
}

function entry(record: SagaInstanceRecord, kind: LogEntry['kind'], type: string, payload: unknown, messageId: string | null, at: number): LogEntry {
  return { sagaType: record.sagaType, sagaId: record.id, seq: 0, kind, type, payload, messageId, at };
}

/** Runs machine code; whatever it throws is a terminal TransitionError, not a crash. */
function compute<T>(definition: SagaDefinition, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof SagaError) throw error;
    throw new TransitionError(`${definition.type} v${definition.version}: ${(error as Error).message}`, { cause: error });
  }
}

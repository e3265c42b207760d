/**
 * The runtime's ports: one small interface per external system. Adapters are named by
 * technology (`SequelizeSagaStore`, `InMemoryTransport`, `PulsarWebSocketTransport`).
 */

export type SagaStatus = 'running' | 'completed' | 'compensated' | 'failed';
export const SAGA_STATUSES: readonly SagaStatus[] = ['running', 'completed', 'compensated', 'failed'];

/** `note`: something the runtime records about an input, e.g. an event the saga's state did not accept. */
/** `repair`: an operator's event (`SagaRuntime.repair`), with who and why. */
export type LogKind = 'event' | 'command' | 'timer' | 'state' | 'note' | 'repair';

/** One saga instance without its snapshot: what lists show, read without the (large) snapshot column. */
export interface SagaInstanceSummary {
  sagaType: string;
  id: string;
  /** Version of the machine definition the instance started on (and stays on). */
  version: number;
  /** The snapshot's state value, JSON-encoded when nested. */
  stateValue: string;
  status: SagaStatus;
  /** Optimistic concurrency: bumped by every update. */
  rowVersion: number;
  /** Sequence number of the last saga log entry. */
  logSeq: number;
  createdAt: number;
  updatedAt: number;
  /** Who the saga is for (its definition's `customerOf`), to find it by; null when it does not say. */
  customer?: string | null;
}

/** One saga instance: its persisted XState snapshot and bookkeeping. */
export interface SagaInstanceRecord extends SagaInstanceSummary {
  /** XState's persisted snapshot. */
  snapshot: unknown;
}

/** An append-only saga log entry: every event, command, fired timer and state change. */
export interface LogEntry {
  sagaType: string;
  sagaId: string;
  seq: number;
  kind: LogKind;
  type: string;
  payload: unknown;
  messageId: string | null;
  at: number;
  /** The trace its transition ran in, when one was traced. */
  traceId?: string | null;
}

/** A message committed with the transition that produced it, published after commit. */
export interface OutboxMessage {
  /** Store-assigned, increasing: publication order. */
  seq: number;
  messageId: string;
  sagaType: string;
  sagaId: string;
  topic: string;
  key: string;
  payload: string;
  createdAt: number;
}
export type NewOutboxMessage = Omit<OutboxMessage, 'seq'>;

/** A durable XState `after` timer. */
export interface Deadline {
  sagaType: string;
  sagaId: string;
  timerId: string;
  /** When it fires; while `afterMessage` is set, only provisional. */
  dueAt: number;
  event: { type: string };
  /**
   * The outbox message (a command sent by the same transition) the deadline waits for: it
   * is armed, `delayMs` from then, when that message is published, so a step's deadline
   * measures the participant and not an outage of the broker. Null once armed.
   */
  afterMessage?: string | null;
  delayMs?: number | null;
  /** W3C `traceparent` of the transition that set it: its firing continues that trace. */
  traceparent?: string | null;
}

/** Where a dead letter was refused: a consumed message, an outbox row the broker refused, a deadline that could not fire, or a message the broker moved to a dead-letter topic. */
export type DeadLetterSource = 'message' | 'publish' | 'deadline' | 'broker-dlq';
export const DEAD_LETTER_STATUSES = ['open', 'replayed', 'discarded'] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];

/** Something that was refused for good, with the reason: kept until an operator replays or discards it. */
export interface DeadLetter {
  id?: number;
  /** Default `message`. */
  source?: DeadLetterSource;
  /** The subscription (or process part) that refused it, which a replay hands it back to. */
  consumer?: string | null;
  messageId: string | null;
  type: string | null;
  topic: string | null;
  /** The message's ordering key, when it had one. */
  key?: string | null;
  sagaId: string | null;
  code: string;
  reason: string;
  /** The message as received or as it was to be published; a deadline as JSON. */
  payload: string;
  at: number;
  /** Default `open`. */
  status?: DeadLetterStatus;
  resolvedAt?: number | null;
  /** What the replay or discard did, and who asked for it. */
  resolution?: string | null;
}

/** What the inputs of a batch are about to read: instances by type and id, processed message ids by consumer. */
export interface ReadAhead {
  instances?: { sagaType: string; id: string }[];
  processed?: { consumer: string; messageId: string }[];
}

/**
 * The reads and writes of one database transaction. Reads see the transaction's own
 * earlier writes; an adapter may hold writes back and send them in bulk before commit.
 */
export interface UnitOfWork {
  /**
   * Reads at once what a batch is about to ask `loadInstance` and `seen` (a hint, for
   * fewer round trips; keys not read ahead are read when asked).
   */
  prefetch(keys: ReadAhead): Promise<void>;
  loadInstance(sagaType: string, id: string): Promise<SagaInstanceRecord | null>;
  /** @throws SagaAlreadyExistsError (here or, when another transaction inserts it first, from the commit) */
  insertInstance(record: SagaInstanceRecord): Promise<void>;
  /**
   * @throws ConcurrencyError when the row's version is not `expectedRowVersion` any more
   * (here or from the commit: the transaction then rolls back whole).
   */
  updateInstance(record: SagaInstanceRecord, expectedRowVersion: number): Promise<void>;
  /** Whether `consumer` has processed `messageId` before. */
  seen(consumer: string, messageId: string): Promise<boolean>;
  remember(consumer: string, messageId: string, at: number): Promise<void>;
  appendLog(entries: LogEntry[]): Promise<void>;
  enqueue(messages: NewOutboxMessage[]): Promise<void>;
  upsertDeadline(deadline: Deadline): Promise<void>;
  cancelDeadline(sagaType: string, sagaId: string, timerId: string): Promise<void>;
  cancelAllDeadlines(sagaType: string, sagaId: string): Promise<void>;
  /** Deletes the deadline if it is still due at `dueAt`; false when it was cancelled or moved. */
  takeDeadline(deadline: Deadline): Promise<boolean>;
  deadLetter(letter: DeadLetter): Promise<void>;
  /** Marks an open dead letter replayed or discarded; false when it is not open (any more). */
  resolveDeadLetter(id: number, status: Exclude<DeadLetterStatus, 'open'>, resolution: string, at: number): Promise<boolean>;
  /** Marks outbox rows published, and arms the deadlines that waited for them (`Deadline.afterMessage`), from `at`. */
  markSent(sent: readonly Pick<OutboxMessage, 'messageId'>[], at: number): Promise<void>;
  /**
   * Takes a row out of the outbox (the broker refused it for good), arming the deadlines that
   * waited for it from `at`; false when another process took it first.
   */
  dropOutbox(row: Pick<OutboxMessage, 'messageId'>, at: number): Promise<boolean>;
}

export interface DeadLetterQuery {
  status?: DeadLetterStatus;
  /** Only those refused by these consumers (subscriptions, participants, saga types). */
  consumers?: readonly string[];
  limit?: number;
}

export interface InstanceQuery {
  status?: SagaStatus;
  sagaType?: string;
  /** Only the instances with this id (the parts of a choreographed saga share it). */
  id?: string;
  /** Only the sagas of this customer (`customerOf`). */
  customer?: string;
  /** Only the sagas in this state (its state value). */
  state?: string;
  /** Created at or after / before these times (epoch ms). */
  createdFrom?: number;
  createdBefore?: number;
  /** The next page: the instances after this one, newest first (`nextCursor` of the page before). */
  after?: InstanceCursor;
  /** Default 100. */
  limit?: number;
}

/** Where a page of instances ended: the last one's creation time, id and type. */
export interface InstanceCursor {
  createdAt: number;
  id: string;
  sagaType: string;
}

/** How a retention pass deletes: in chunks, with a pause between them, until done or aborted. */
export interface PruneOptions {
  /** Most rows one statement deletes (default 500). */
  chunkSize?: number;
  /** Pause between two chunks, so the message path gets the database in between (default 50 ms). */
  pauseMs?: number;
  /** Checked before each chunk: an aborted pass stops there (what it deleted stays deleted). */
  signal?: AbortSignal;
}

/** What a retention pass deleted. */
export interface PruneReport {
  /** Rows deleted per table (every table the pass looked at, 0 included). */
  deleted: Record<string, number>;
  /** Delete statements run. */
  statements: number;
  /** False when the pass was aborted before it was done. */
  complete: boolean;
}

/** One running process of a service (one replica), as the database knows it. */
export interface Replica {
  /** Unique per process start. */
  id: string;
  /** The service it runs (replicas of one service share its work). */
  service: string;
  host: string;
  pid: number;
  startedAt: number;
  /** Its lease: a replica not renewed by then is taken for dead and its unpublished outbox rows adopted. */
  expiresAt: number;
}

/**
 * The processes that share one database and their leases (`ReplicaLease` keeps one).
 * An outbox row belongs to the replica that wrote it (see `SequelizeSagaStore`'s
 * `replicaId`): only that replica publishes it, unless it dies and another adopts it.
 */
export interface ReplicaRegistry {
  /**
   * Writes this replica's lease, or renews it until `replica.expiresAt`. Resolves false when
   * its row was gone although it had been written (another replica took it for dead and
   * adopted its rows); it is written again.
   */
  renewReplica(replica: Replica, renewal: boolean): Promise<boolean>;
  /** The replicas of `service` (every service when omitted), live or expired. */
  listReplicas(service?: string): Promise<Replica[]>;
  /**
   * Moves the unpublished outbox rows of `dead` to `heirId` and forgets `dead`, in one
   * transaction, if its lease is still the one the heir saw (`dead.expiresAt`: it did not renew
   * since). Resolves with the rows moved, or null when `dead` renewed or another replica
   * adopted it first.
   */
  adoptReplica(dead: Pick<Replica, 'id' | 'expiresAt'>, heirId: string): Promise<number | null>;
  /** Ends a lease now (a graceful stop): whatever the replica left is adopted at once. */
  releaseReplica(id: string): Promise<void>;
}

/**
 * Persistence of saga instances, the saga log, the outbox, deadlines, processed message
 * ids and dead letters.
 */
export interface SagaStore {
  /** Runs `work` in one database transaction; commits when it resolves. */
  transaction<T>(work: (uow: UnitOfWork) => Promise<T>): Promise<T>;
  getInstance(sagaType: string, id: string): Promise<SagaInstanceRecord | null>;
  /** Instances with this id, of any saga type. */
  findInstances(id: string): Promise<SagaInstanceRecord[]>;
  /**
   * Instances newest first (`createdAt`, then id, descending), without their snapshot:
   * served by an index for every filter, whatever the table's size.
   */
  listInstances(query?: InstanceQuery): Promise<SagaInstanceSummary[]>;
  readLog(sagaType: string, id: string): Promise<LogEntry[]>;
  /**
   * Unsent outbox rows, oldest first; only those written by `sagaTypes` (the `sagaType` of
   * {@link NewOutboxMessage}) when given, so each process publishes what it wrote itself.
   */
  pendingOutbox(limit: number, sagaTypes?: readonly string[]): Promise<OutboxMessage[]>;
  /**
   * Tells `listener` the outbox rows of each transaction right after it commits (in commit
   * order), so a relay can publish them without reading them back. Optional: a relay of a
   * store without it finds them by polling.
   */
  onOutboxCommitted?(listener: (rows: readonly NewOutboxMessage[]) => void): () => void;
  /** Tells `listener` the dead letters of each transaction right after it commits (what `/metrics` counts). Optional. */
  onDeadLettersCommitted?(listener: (letters: readonly DeadLetter[]) => void): () => void;
  /** `UnitOfWork.markSent` in a transaction of its own. */
  markSent(sent: readonly Pick<OutboxMessage, 'messageId'>[], at: number): Promise<void>;
  /** Armed deadlines due at `now`, earliest first; only of `sagaTypes` when given. */
  dueDeadlines(now: number, limit: number, sagaTypes?: readonly string[]): Promise<Deadline[]>;
  /** Earliest due time of an armed deadline (of `sagaTypes` when given), or null. */
  nextDeadlineAt(sagaTypes?: readonly string[]): Promise<number | null>;
  deadlinesOf(sagaType: string, id: string): Promise<Deadline[]>;
  /** Newest first. */
  listDeadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]>;
  getDeadLetter(id: number): Promise<DeadLetter | null>;
  /**
   * Retention: deletes, in chunks, what is done and older than `before` (epoch ms): sent
   * outbox rows, processed message ids (except those of a running saga), ended sagas with
   * their log and deadlines, resolved dead letters. Unsent rows, running sagas and open
   * dead letters are kept whatever their age.
   */
  prune(before: number, options?: PruneOptions): Promise<PruneReport>;
  close(): Promise<void>;
}

/** A message as a transport delivers it: raw bytes, so malformed input can be dead-lettered. */
export interface Delivery {
  topic: string;
  key: string | null;
  payload: string;
  /** How many times this message was delivered before (0 on first delivery). */
  redeliveryCount: number;
  /**
   * The message's properties, where the transport has them. A broker dead-letter topic's
   * messages carry `REAL_TOPIC` (the topic it came from, full name on Pulsar),
   * `REAL_SUBSCRIPTION` and, on Pulsar, `ORIGIN_MESSAGE_ID`.
   */
  properties?: Record<string, string>;
}

/**
 * Handles one delivery. Resolving acknowledges the message; rejecting negatively
 * acknowledges it, so it is redelivered (and dead-lettered after the limit).
 */
export type DeliveryHandler = (delivery: Delivery) => Promise<void>;

export interface SubscribeOptions {
  topics: readonly string[];
  /** Durable subscription name: consumers sharing it share the messages. */
  subscription: string;
  handler: DeliveryHandler;
  /** Redeliveries before a message goes to `deadLetterTopic` (default 10). */
  maxRedeliveries?: number;
  deadLetterTopic?: string;
}

export interface Subscription {
  /**
   * Graceful stop: takes no new message from now on (the consumer asks the broker for no
   * more), waits until every handler in flight has settled and its acknowledgement (or
   * negative acknowledgement) was sent, then resolves; after `timeoutMs` at the latest, logging
   * what was still running. What the consumer holds unhandled goes back to the broker on
   * `close()`, which still has to be called: drain never loses a message.
   *
   * @example
   * await subscription.drain(10_000); // on SIGTERM: let in-flight transactions commit and acknowledge
   * await subscription.close();
   */
  drain(timeoutMs: number): Promise<void>;
  /** Stops at once; unacknowledged messages are redelivered (to another consumer). */
  close(): Promise<void>;
}

export interface OutgoingMessage {
  /** Ordering key: messages with one key are delivered in order, one at a time. */
  key: string;
  payload: string;
  /** Message properties (the publish span's `traceparent`); transports that have none drop them. */
  properties?: Record<string, string>;
}

/** Whether a transport reaches its broker; `reason` names what was lost. */
export interface TransportAvailability {
  available: boolean;
  reason?: string;
}

/** A message broker. Subscriptions exist once `subscribe` resolves. */
export interface Transport {
  /**
   * @throws MessageRejectedError (terminal) when the broker refuses this message for good
   * (too big, not decodable); UnavailableError (retryable) when the broker cannot take it now;
   * BrokerAuthError (terminal, for the connection) when the broker refuses the credentials.
   */
  publish(topic: string, message: OutgoingMessage): Promise<void>;
  /** @throws UnavailableError when the broker cannot be reached in time; BrokerAuthError when it refuses the credentials. */
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /**
   * Reports changes of availability: `available: false` when the transport loses the broker
   * (a connection closed or failed, or a publish found no connection), `available: true` when
   * every connection is back. A listener added while the broker is lost hears so at once.
   * Returns a function that removes the listener. Optional: a transport without it (the
   * in-process one) is always available.
   *
   * @example
   * const stop = transport.watch?.(({ available, reason }) => health.set('broker', available, reason));
   */
  watch?(listener: (state: TransportAvailability) => void): () => void;
  close(): Promise<void>;
}

import type { SagaDefinition } from './registry.ts';

/** One saga transition, as the runtime reports it after its transaction committed. */
export interface CommittedTransition {
  definition: Pick<SagaDefinition, 'type' | 'version' | 'machine'>;
  sagaId: string;
  /**
   * The event the saga received: a message's `{ type, data }`, a deadline's
   * `xstate.after…` event, or `{ type: 'xstate.init', input }` when the instance was created.
   */
  event: { type: string; [key: string]: unknown };
  /** The snapshot after the transition. */
  snapshot: { status: string; value: unknown; context?: unknown; output?: unknown };
  /** `service_name` of the envelope that carried the event; absent for deadlines and starts. */
  source?: string;
  /** Commands the transition sent, as written to the outbox. */
  commands?: readonly { type: string; topic: string; data?: unknown }[];
}

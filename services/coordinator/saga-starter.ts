import { parseEnvelope, TOPICS, type Commands } from '../../machines/messages.ts';
import { traceContextOf } from '../../runtime/tracing.ts';
import type { ReservaInput } from '../../machines/reserva.ts';
import type { Plazos } from '../../machines/compensacion.ts';
import { withRetries } from '../../runtime/batch-transaction.ts';
import { recordBrokerDeadLetters } from '../../runtime/broker-dead-letters.ts';
import { refusedMessage } from '../../runtime/dead-letters.ts';
import { classify, SagaAlreadyExistsError, SagaError } from '../../runtime/errors.ts';
import type { Health } from '../../runtime/health.ts';
import type { Delivery, SagaStore, Subscription, Transport } from '../../runtime/ports.ts';
import type { SagaRuntime } from '../../runtime/saga-runtime.ts';
import type { Log } from '../../runtime/logger.ts';

/**
 * Starts a reservation saga for each `IniciarReserva` command (sent by vuelos when a
 * customer asks for a reservation). The saga id is the command's `id_correlacion`, so a
 * redelivered command finds its saga already started and is acknowledged.
 *
 * @example
 * await new SagaStarter(runtime, store).listen(transport);
 */
export class SagaStarter {
  /** The durable subscription the starter consumes `IniciarReserva` with. */
  static readonly subscription = 'coordinator';
  private subscriptions: Subscription[] = [];
  private readonly stopping = new AbortController();

  constructor(
    private readonly runtime: SagaRuntime,
    private readonly store: SagaStore,
    private readonly defaults: Partial<Plazos>,
    private readonly options: { health?: Health; log?: Log } = {},
  ) {}

  /** Subscribes to `IniciarReserva`, and to the broker's dead-letter topic of that subscription. */
  async listen(transport: Transport): Promise<void> {
    const subscription = SagaStarter.subscription;
    this.subscriptions.push(await transport.subscribe({ topics: [TOPICS.IniciarReserva], subscription, handler: (delivery) => this.deliver(delivery) }));
    const { health, log } = this.options;
    this.subscriptions.push(await recordBrokerDeadLetters({ transport, store: this.store, subscription, health, log, signal: this.stopping.signal }));
  }

  /** Lets the requests in flight start their sagas (for at most `drainMs`), then stops consuming. */
  async close(drainMs = 10_000): Promise<void> {
    const subscriptions = this.subscriptions.splice(0);
    await Promise.all(subscriptions.map((s) => s.drain(drainMs)));
    this.stopping.abort();
    await Promise.all(subscriptions.map((s) => s.close()));
  }

  async deliver(delivery: Delivery): Promise<void> {
    const parsed = parseEnvelope(delivery.payload);
    const envelope = parsed.ok ? parsed.envelope : null;
    const deadLetter = (code: string, reason: string) =>
      withRetries(
        () => this.store.transaction((uow) => uow.deadLetter(refusedMessage({ consumer: SagaStarter.subscription, delivery, envelope, code, reason: `coordinator: ${reason}`, at: Date.now() }))),
        { health: this.options.health, signal: this.stopping.signal },
      );
    if (!parsed.ok) return deadLetter('invalid', parsed.reason);
    if (parsed.envelope.type !== 'IniciarReserva') return deadLetter('invalid', `${parsed.envelope.type} is not IniciarReserva`);
    const data = parsed.envelope.data as unknown as Commands['IniciarReserva']; // checked by parseEnvelope
    const input: ReservaInput = {
      id_correlacion: data.id_correlacion,
      id_reserva: data.id_reserva,
      id_cliente: data.id_cliente,
      monto: data.monto,
      monto_vat: data.monto_vat,
      itinerarios: data.itinerarios,
      ...(data.simular_fallo ? { simular_fallo: data.simular_fallo } : {}),
      plazos: { ...this.defaults, ...data.plazos },
    };
    try {
      await this.runtime.startSaga('reserva', input, { id: data.id_correlacion, trace: traceContextOf(delivery.properties, parsed.envelope) });
    } catch (error) {
      if (error instanceof SagaAlreadyExistsError) return; // a redelivery: the saga runs already
      // The runtime waits out outages itself: what reaches here can never start (or the process is stopping).
      if (classify(error) !== 'transient') return deadLetter(error instanceof SagaError ? error.code : 'error', (error as Error)?.message ?? String(error));
      throw error; // stopping: not acknowledged, so delivered again after restart
    }
  }
}

import { parseEnvelope, TOPICS, type Commands } from '../../machines/messages.ts';
import type { ReservaInput } from '../../machines/reserva.ts';
import { SagaAlreadyExistsError, SagaError } from '../../runtime/errors.ts';
import type { Delivery, SagaStore, Subscription, Transport } from '../../runtime/ports.ts';
import type { SagaRuntime } from '../../runtime/saga-runtime.ts';

/**
 * Starts a reservation saga for each `IniciarReserva` command (sent by vuelos when a
 * customer asks for a reservation). The saga id is the command's `id_correlacion`, so a
 * redelivered command finds its saga already started and is acknowledged.
 *
 * @example
 * await new SagaStarter(runtime, store).listen(transport);
 */
export class SagaStarter {
  private subscription: Subscription | null = null;

  constructor(
    private readonly runtime: SagaRuntime,
    private readonly store: SagaStore,
    private readonly defaults: { paso: number; compensacion: number },
  ) {}

  async listen(transport: Transport): Promise<void> {
    this.subscription = await transport.subscribe({
      topics: [TOPICS.IniciarReserva],
      subscription: 'coordinator',
      handler: (delivery) => this.deliver(delivery),
    });
  }

  async close(): Promise<void> {
    await this.subscription?.close();
    this.subscription = null;
  }

  async deliver(delivery: Delivery): Promise<void> {
    const parsed = parseEnvelope(delivery.payload);
    const envelope = parsed.ok ? parsed.envelope : null;
    const deadLetter = (code: string, reason: string) =>
      this.store.transaction((uow) =>
        uow.deadLetter({ messageId: envelope?.id ?? null, type: envelope?.type ?? null, topic: delivery.topic, sagaId: envelope?.data.id_correlacion ?? null, code, reason: `coordinator: ${reason}`, payload: delivery.payload, at: Date.now() }),
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
      await this.runtime.startSaga('reserva', input, { id: data.id_correlacion });
    } catch (error) {
      if (error instanceof SagaAlreadyExistsError) return; // a redelivery: the saga runs already
      if (error instanceof SagaError && !error.retryable) return deadLetter(error.code, error.message);
      throw error; // retryable: negative ack, redelivered
    }
  }
}

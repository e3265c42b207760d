import { ServiceCluster, type ReplicaId } from '../../tools/cluster/service-cluster.ts';

/** A saga as the coordinator's `GET /sagas/:id` shows it. */
export interface SagaView {
  type: string;
  status: string;
  state: string;
  log: { kind: string; type: string; messageId: string | null }[];
}

/** Asks vuelos (or one of its replicas) for a reservation (`POST /reservas`), optionally with a failure to simulate. */
export async function postReserva(
  cluster: ServiceCluster,
  body: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  vuelos: ReplicaId = 'vuelos',
): Promise<{ id_correlacion: string; id_reserva: string }> {
  const response = await cluster.json<{ id_correlacion: string; id_reserva: string }>(vuelos, '/reservas', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ id_cliente: 'cliente-e2e', monto: 320, monto_vat: 60.8, itinerarios: [{ origen: 'BOG', destino: 'CTG' }], ...body }),
  });
  if (response.status !== 202) throw new Error(`POST /reservas answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

/** Polls the coordinator until the saga is no longer running. */
export async function waitForFinal(cluster: ServiceCluster, id: string, timeoutMs = 40_000): Promise<SagaView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await cluster.json<SagaView>('coordinator', `/sagas/${id}`).catch(() => ({ status: 0, body: null }));
    if (status === 200 && body && body.status !== 'running') return body;
    if (Date.now() > until) throw new Error(`saga ${id} not final after ${timeoutMs} ms (${body?.state})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../services/config.ts';
import { createSystem, type System, type SystemOptions } from '../../services/system.ts';
import type { SagaStatus } from '../../runtime/ports.ts';
import type { ReservaInput } from '../../machines/reserva.ts';

/** The admin token of the systems `startSystem` makes (`Authorization: Bearer …` for repair and dead-letter actions). */
export const TEST_ADMIN_TOKEN = 'token-de-prueba';
export const ADMIN = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

/** A whole orchestrated system in this process on `databaseUrl`, polling fast for tests. */
export async function startSystem(databaseUrl: string, options: SystemOptions = {}): Promise<System> {
  // No grace after start: the tests that want one set it.
  const config = { ...loadConfig({}), databaseUrl, outageGraceMs: 0, adminToken: TEST_ADMIN_TOKEN };
  return createSystem(config, { relayPollMs: 50, deadlinePollMs: 100, ...options });
}

export function reservaInput(overrides: Partial<ReservaInput> = {}): ReservaInput {
  const id = randomUUID();
  return {
    id_correlacion: id,
    id_reserva: `R-${id.slice(0, 8)}`,
    id_cliente: 'cliente-1',
    monto: 250,
    monto_vat: 47.5,
    itinerarios: [{ origen: 'BOG', destino: 'MDE', fecha: '2026-12-24' }],
    ...overrides,
  };
}

/** Polls the store until the saga has `status` (or any final status), or fails after `timeoutMs`. */
export async function waitForStatus(system: System, id: string, status: SagaStatus | 'final', timeoutMs = 10_000, sagaType = 'reserva') {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const instance = await system.store.getInstance(sagaType, id);
    const done = instance && (status === 'final' ? instance.status !== 'running' : instance.status === status);
    if (done) return instance!;
    if (Date.now() > until) {
      throw new Error(`saga ${id} did not reach ${status} in ${timeoutMs} ms; it is ${instance?.status} in ${instance?.stateValue}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

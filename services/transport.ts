import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import type { Transport } from '../runtime/ports.ts';
import { PulsarWebSocketTransport } from '../runtime/pulsar-websocket-transport.ts';
import type { Config } from './config.ts';

/**
 * The transport `SAGA_TRANSPORT` names: `memory` (in-process, the embedded default; only
 * for one process) or `pulsar` (the broker's WebSocket API at `PULSAR_URL`).
 *
 * @example
 * const transport = createTransport(loadConfig());
 */
export function createTransport(config: Config, log?: (message: string, fields?: Record<string, unknown>) => void): Transport {
  if (config.transport === 'memory') return new InMemoryTransport();
  return new PulsarWebSocketTransport({ ...config.pulsar, log });
}

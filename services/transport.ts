import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import type { Transport } from '../runtime/ports.ts';
import { PulsarClientTransport } from '../runtime/pulsar-client-transport.ts';
import { PulsarWebSocketTransport } from '../runtime/pulsar-websocket-transport.ts';
import type { Config } from './config.ts';
import type { Log } from '../runtime/logger.ts';

/**
 * The transport `SAGA_TRANSPORT` names, for the drivers that need no loading: `memory`
 * (in-process, the embedded default; only for one process) or `pulsar` over the broker's
 * WebSocket API at `PULSAR_URL` (`SAGA_PULSAR_DRIVER=websocket`; `auto` is the WebSocket
 * driver here). Use {@link openTransport}, which also loads the native driver.
 *
 * @throws Error for `SAGA_PULSAR_DRIVER=native`, which is loaded asynchronously by `openTransport`.
 * @example
 * const transport = createTransport(loadConfig());
 */
export function createTransport(config: Config, log?: Log): Transport {
  if (config.transport === 'memory') return new InMemoryTransport();
  const { driver, ...pulsar } = config.pulsar;
  if (driver === 'native') throw new Error('SAGA_PULSAR_DRIVER=native is loaded asynchronously: use openTransport(config, log)');
  return new PulsarWebSocketTransport({ ...pulsar, log });
}

/**
 * The transport `SAGA_TRANSPORT` and `SAGA_PULSAR_DRIVER` name, every driver included:
 * `native` loads the optional `pulsar-client` package (`npm run setup:native` builds it) and
 * rejects with a clear error where it does not load; `auto` (the default) takes it where it
 * loads, else the WebSocket driver, and logs which.
 *
 * @example
 * const transport = await openTransport(loadConfig(), log);
 */
export async function openTransport(config: Config, log?: Log): Promise<Transport> {
  if (config.transport === 'memory') return new InMemoryTransport();
  const { driver, ...pulsar } = config.pulsar;
  if (driver === 'native') return PulsarClientTransport.create({ ...pulsar, log });
  if (driver === 'auto') {
    try {
      const transport = await PulsarClientTransport.create({ ...pulsar, log });
      log?.('pulsar: native driver (pulsar-client)', { level: 'info' });
      return transport;
    } catch (error) {
      log?.('pulsar: WebSocket driver (pulsar-client does not load here; npm run setup:native builds it)', { level: 'info', reason: (error as Error).message });
    }
  }
  return new PulsarWebSocketTransport({ ...pulsar, log });
}

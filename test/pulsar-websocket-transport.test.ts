import { PulsarWebSocketTransport } from '../runtime/pulsar-websocket-transport.ts';
import { PULSAR_URL, requirePulsar } from './support/pulsar.ts';
import { transportContract } from './transport-contract.ts';

describe('PulsarWebSocketTransport against a real broker', function () {
  before(requirePulsar);

  transportContract(
    'PulsarWebSocketTransport',
    async () => {
      const transport = new PulsarWebSocketTransport({ url: PULSAR_URL, negativeAckRedeliveryDelayMs: 300, maxInFlight: 50 });
      return { transport, cleanup: () => transport.close() };
    },
    { nackDelayMs: 300, timeoutMs: 15_000 },
  );
});

import { expect } from 'chai';
import { UnavailableError } from '../runtime/errors.ts';
import type { Delivery, Subscription, Transport } from '../runtime/ports.ts';
import { PulsarClientTransport } from '../runtime/pulsar-client-transport.ts';
import { PartitionedTopics } from '../runtime/pulsar-topics.ts';
import { PulsarWebSocketTransport } from '../runtime/pulsar-websocket-transport.ts';
import { deleteNamespace, freshNamespace } from '../tools/cluster/service-cluster.ts';
import { PULSAR_DRIVERS, PULSAR_URL, requireDriver, requirePulsar } from './support/pulsar.ts';
import { rejection, waitFor } from './support/wait.ts';

const PARTITIONS = 3;

async function open(driver: (typeof PULSAR_DRIVERS)[number], namespace: string, partitions = PARTITIONS): Promise<Transport> {
  const options = { url: PULSAR_URL, namespace, partitions, maxRedeliveries: 3 };
  return driver === 'native' ? PulsarClientTransport.create(options) : new PulsarWebSocketTransport(options);
}

async function admin<T>(path: string): Promise<T> {
  const response = await fetch(`${PULSAR_URL}/admin/v2/${path}`);
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

for (const driver of PULSAR_DRIVERS) {
  describe(`partitioned topics (PULSAR_PARTITIONS) over the ${driver} driver`, function () {
    this.timeout(60_000);
    let namespace: string;
    const transports: Transport[] = [];
    const subscriptions: Subscription[] = [];

    before(requireDriver(driver));
    beforeEach(async () => {
      namespace = await freshNamespace(PULSAR_URL, 'parts');
    });
    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.close()));
      await Promise.all(transports.splice(0).map((t) => t.close()));
      await deleteNamespace(namespace).catch(() => undefined);
    });

    it("should create the topic partitioned, spread keys over its partitions and two consumers, and keep each key's messages in order", async () => {
      const received: { consumer: number; key: string; n: number }[] = [];
      for (const consumer of [0, 1]) {
        const transport = await open(driver, namespace);
        transports.push(transport);
        subscriptions.push(
          await transport.subscribe({
            topics: ['orders'],
            subscription: 'shared',
            handler: async (d: Delivery) => void received.push({ consumer, key: d.key ?? '', n: Number(JSON.parse(d.payload).n) }),
          }),
        );
      }
      const producer = await open(driver, namespace);
      transports.push(producer);
      const keys = Array.from({ length: 12 }, (_, i) => `saga-${i}`);
      for (let n = 0; n < 10; n++) await Promise.all(keys.map((key) => producer.publish('orders', { key, payload: JSON.stringify({ n }) })));
      await waitFor(() => received.length >= 120, 'every message delivered');

      const metadata = await admin<{ partitions: number }>(`persistent/public/${namespace}/orders/partitions`);
      expect(metadata.partitions).to.equal(PARTITIONS);
      const stats = await admin<{ msgInCounter: number; partitions: Record<string, { msgInCounter: number }> }>(`persistent/public/${namespace}/orders/partitioned-stats?perPartition=true`);
      expect(stats.msgInCounter, 'each message published once').to.equal(120);
      expect(Object.values(stats.partitions).filter((p) => p.msgInCounter > 0).length, 'keys spread over partitions').to.be.greaterThan(1);
      for (const key of keys) {
        const mine = received.filter((r) => r.key === key);
        expect(mine.map((r) => r.n), `${key} in order, once each`).to.deep.equal([...Array(10).keys()]);
        expect(new Set(mine.map((r) => r.consumer)).size, `${key} handled by one consumer`).to.equal(1);
      }
      expect(new Set(received.map((r) => r.consumer)).size, 'both consumers got keys').to.equal(2);
    });

    it('should refuse, naming the fix, a topic that exists without partitions, and keep the message retryable', async () => {
      const plain = await open(driver, namespace, 0);
      transports.push(plain);
      await plain.publish('legacy', { key: 'k', payload: '{}' });
      const partitioned = await open(driver, namespace);
      transports.push(partitioned);

      const error = await rejection(partitioned.publish('legacy', { key: 'k', payload: '{}' }));
      expect(error).to.be.instanceOf(UnavailableError);
      expect(error.message).to.match(/exists without partitions.*PULSAR_PARTITIONS/);
    });
  });
}

describe('PartitionedTopics', function () {
  this.timeout(60_000);
  before(requirePulsar);

  it('should put a key on the same partition whichever driver publishes it (both hash by Murmur3)', async function () {
    await requireDriver('native').call(this);
    const namespace = await freshNamespace(PULSAR_URL, 'parts');
    const drivers = await Promise.all(PULSAR_DRIVERS.map((driver) => open(driver, namespace, 4)));
    try {
      const counters = async () =>
        Object.entries((await admin<{ partitions: Record<string, { msgInCounter: number }> }>(`persistent/public/${namespace}/t/partitioned-stats?perPartition=true`)).partitions)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([, p]) => p.msgInCounter);
      const partitionOf = async (transport: Transport, key: string) => {
        const before = await counters();
        await transport.publish('t', { key, payload: '{}' });
        // The broker's counters are updated asynchronously: wait for this message to show.
        const after = await waitFor(async () => {
          const now = await counters();
          return now.reduce((a, b) => a + b, 0) > before.reduce((a, b) => a + b, 0) && now;
        }, 'the message counted');
        return after.findIndex((n, i) => n > before[i]);
      };
      await new PartitionedTopics({ partitions: 4, adminUrl: PULSAR_URL, tenant: 'public', namespace }).ensure('t');
      const spread = new Set<number>();
      for (const key of ['a', 'b', 'c', 'd', 'e', 'f', 'saga-1', 'saga-2']) {
        const partitions = [];
        for (const transport of drivers) partitions.push(await partitionOf(transport, key));
        expect(partitions[0], `key ${key}: websocket vs native`).to.equal(partitions[1]);
        spread.add(partitions[0]);
      }
      expect(spread.size, 'keys on more than one partition').to.be.greaterThan(1);
    } finally {
      await Promise.all(drivers.map((t) => t.close()));
      await deleteNamespace(namespace).catch(() => undefined);
    }
  });

  // Replicas starting together create and subscribe to the same new topic at once. Without
  // waiting for another process's creation, a consumer could open a partition while the broker
  // was still creating it (BadVersionException, then a 30 s time-out) or find it not there yet.
  it('should subscribe every one of several processes starting at once to one new topic, round after round', async function () {
    await requireDriver('native').call(this);
    this.timeout(120_000);
    const namespace = await freshNamespace(PULSAR_URL, 'parts');
    const processes = await Promise.all(Array.from({ length: 4 }, () => open('native', namespace, 2)));
    try {
      for (let round = 0; round < 20; round++) {
        const results = await Promise.allSettled(processes.map((t) => t.subscribe({ topics: [`new-${round}`], subscription: 'replicas', handler: async () => undefined })));
        await Promise.all(results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.close()] : [])));
        const refused = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
        expect(refused, `round ${round}`).to.deep.equal([]);
      }
    } finally {
      await Promise.all(processes.map((t) => t.close()));
      await deleteNamespace(namespace).catch(() => undefined);
    }
  });

  it('should take a topic another process created partitioned as it is', async () => {
    const namespace = await freshNamespace(PULSAR_URL, 'parts');
    try {
      const logged: unknown[] = [];
      await new PartitionedTopics({ partitions: 2, adminUrl: PULSAR_URL, tenant: 'public', namespace }).ensure('t');
      await new PartitionedTopics({ partitions: 4, adminUrl: PULSAR_URL, tenant: 'public', namespace, log: (m, f) => logged.push(f) }).ensure('t');
      expect((await admin<{ partitions: number }>(`persistent/public/${namespace}/t/partitions`)).partitions).to.equal(2);
      expect(logged).to.deep.equal([{ level: 'warn', topic: 't', partitions: 2, asked: 4 }]);
    } finally {
      await deleteNamespace(namespace).catch(() => undefined);
    }
  });
});

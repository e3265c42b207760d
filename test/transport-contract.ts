import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'chai';
import type { Delivery, SubscribeOptions, Subscription, Transport } from '../runtime/ports.ts';

export interface TransportContractOptions {
  /** Redelivery delay of a negatively acknowledged message, as the transport under test is configured (default 50 ms). */
  nackDelayMs?: number;
  /** Longest wait for a delivery the contract expects (default 5000 ms). */
  timeoutMs?: number;
}

export interface TransportUnderTest {
  transport: Transport;
  cleanup?: () => Promise<void>;
}

/**
 * The behaviour every {@link Transport} must have, as mocha tests. Each test uses its own
 * topics and subscriptions, so the suite can run against a shared broker.
 *
 * @example
 * transportContract('InMemoryTransport', async () => ({ transport: new InMemoryTransport({ nackDelayMs: 10 }) }), { nackDelayMs: 10 });
 */
export function transportContract(
  name: string,
  make: () => Promise<TransportUnderTest>,
  options: TransportContractOptions = {},
): void {
  const nackDelayMs = options.nackDelayMs ?? 50;
  const timeoutMs = options.timeoutMs ?? 5_000;
  /** How long "nothing more arrives" is watched for. */
  const quietMs = Math.max(100, nackDelayMs * 5);

  describe(`Transport contract: ${name}`, function () {
    this.timeout(3 * timeoutMs + 4 * quietMs + 5_000);

    let underTest: TransportUnderTest;
    let transport: Transport;
    let open: { subscription: Subscription; closed: boolean }[] = [];
    /** Handlers kept pending on purpose; released at teardown. */
    let pending: (() => void)[] = [];
    const runId = randomUUID().slice(0, 8);
    let counter = 0;

    /** A topic or subscription name no other test (or earlier run against the same broker) uses. */
    const unique = (label: string) => `contract-${label}-${runId}-${++counter}-${randomUUID().slice(0, 8)}`;

    /** Subscribes and returns an idempotent close, so teardown never closes a consumer twice. */
    async function consume(subscribeOptions: SubscribeOptions): Promise<{ drain: (timeoutMs: number) => Promise<void>; close: () => Promise<void> }> {
      const entry = { subscription: await transport.subscribe(subscribeOptions), closed: false };
      open.push(entry);
      return {
        drain: (drainTimeoutMs) => entry.subscription.drain(drainTimeoutMs),
        close: async () => {
          if (entry.closed) return;
          entry.closed = true;
          await entry.subscription.close();
        },
      };
    }

    async function waitFor(condition: () => boolean, what: () => string): Promise<void> {
      const until = Date.now() + timeoutMs;
      while (!condition()) {
        if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
        await delay(5);
      }
    }

    const quiet = () => delay(quietMs);

    function hang(): Promise<void> {
      return new Promise<void>((resolve) => pending.push(resolve));
    }

    beforeEach(async () => {
      underTest = await make();
      transport = underTest.transport;
      open = [];
      pending = [];
    });

    afterEach(async () => {
      for (const entry of open) {
        if (!entry.closed) {
          entry.closed = true;
          await entry.subscription.close().catch(() => undefined);
        }
      }
      pending.forEach((release) => release());
      await transport.close().catch(() => undefined);
      await underTest.cleanup?.();
    });

    it('should deliver every published message once to a subscription that existed before publishing, asynchronously', async () => {
      const topic = unique('deliver');
      const received: Delivery[] = [];
      let publishing = false;
      let deliveredInsidePublish = 0;
      await consume({
        topics: [topic],
        subscription: unique('sub'),
        handler: async (delivery) => {
          if (publishing) deliveredInsidePublish++;
          received.push(delivery);
        },
      });

      const sent = Array.from({ length: 12 }, (_, i) => ({ key: `key-${i % 4}`, payload: JSON.stringify({ n: i, nonce: randomUUID() }) }));
      for (const message of sent) {
        publishing = true;
        const published = transport.publish(topic, message);
        publishing = false;
        await published;
      }
      await waitFor(() => received.length >= sent.length, () => `${sent.length} deliveries, got ${received.length}`);
      await quiet();

      expect(deliveredInsidePublish, 'deliveries made within publish()').to.equal(0);
      expect(received).to.have.length(sent.length);
      const byPayload = new Map(received.map((d) => [d.payload, d]));
      for (const message of sent) {
        const delivery = byPayload.get(message.payload);
        expect(delivery, `delivery of ${message.payload}`).to.not.equal(undefined);
        expect(delivery).to.include({ topic, key: message.key, redeliveryCount: 0 });
      }
    });

    it('should keep per-key order across several consumers sharing one subscription and deliver one key\'s messages one at a time', async () => {
      const topic = unique('order');
      const subscription = unique('sub');
      const keys = ['a', 'b', 'c'].map((k) => `${k}-${randomUUID().slice(0, 8)}`);
      const perKey = 20;
      const received = new Map<string, number[]>(keys.map((k) => [k, []]));
      const inFlight = new Map<string, number>();
      let overlaps = 0;
      let total = 0;
      const handler = async (delivery: Delivery) => {
        const key = delivery.key ?? '';
        inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
        if (inFlight.get(key)! > 1) overlaps++;
        await delay(Math.floor(Math.random() * 4));
        received.get(key)?.push((JSON.parse(delivery.payload) as { seq: number }).seq);
        total++;
        inFlight.set(key, inFlight.get(key)! - 1);
      };
      for (let i = 0; i < 3; i++) await consume({ topics: [topic], subscription, handler });

      for (let seq = 0; seq < perKey; seq++) {
        for (const key of keys) await transport.publish(topic, { key, payload: JSON.stringify({ seq }) });
      }
      await waitFor(() => total >= keys.length * perKey, () => `${keys.length * perKey} deliveries, got ${total}`);

      const inOrder = Array.from({ length: perKey }, (_, i) => i);
      for (const key of keys) expect(received.get(key), `sequence of key ${key}`).to.deep.equal(inOrder);
      expect(overlaps, 'deliveries of a key that overlapped an unfinished one').to.equal(0);
    });

    it('should share a subscription\'s messages between its consumers while two different subscriptions each get every message', async () => {
      const topic = unique('share');
      const shared = unique('shared');
      const first: string[] = [];
      const second: string[] = [];
      const other: string[] = [];
      await consume({ topics: [topic], subscription: shared, handler: async (d) => void first.push(d.payload) });
      await consume({ topics: [topic], subscription: shared, handler: async (d) => void second.push(d.payload) });
      await consume({ topics: [topic], subscription: unique('other'), handler: async (d) => void other.push(d.payload) });

      const payloads = Array.from({ length: 40 }, (_, i) => `m-${i}-${randomUUID()}`);
      for (const [i, payload] of payloads.entries()) await transport.publish(topic, { key: `key-${i}-${randomUUID()}`, payload });
      await waitFor(
        () => first.length + second.length >= payloads.length && other.length >= payloads.length,
        () => `${payloads.length} deliveries on each subscription, got ${first.length}+${second.length} and ${other.length}`,
      );
      await quiet();

      expect([...first, ...second].sort(), 'shared subscription').to.deep.equal([...payloads].sort());
      expect(first, 'first consumer of the shared subscription').to.not.be.empty;
      expect(second, 'second consumer of the shared subscription').to.not.be.empty;
      expect([...other].sort(), 'other subscription').to.deep.equal([...payloads].sort());
    });

    it('should redeliver a message whose handler rejected, with redeliveryCount increasing', async () => {
      const topic = unique('nack');
      const payload = JSON.stringify({ nonce: randomUUID() });
      const deliveries: Delivery[] = [];
      await consume({
        topics: [topic],
        subscription: unique('sub'),
        maxRedeliveries: 5,
        deadLetterTopic: unique('dlq'),
        handler: async (delivery) => {
          deliveries.push(delivery);
          if (deliveries.length < 3) throw new Error('not yet');
        },
      });

      await transport.publish(topic, { key: 'k', payload });
      await waitFor(() => deliveries.length >= 3, () => `3 deliveries, got ${deliveries.length}`);
      await quiet();

      expect(deliveries.map((d) => d.redeliveryCount), 'redeliveryCount of each delivery').to.deep.equal([0, 1, 2]);
      expect(deliveries.every((d) => d.payload === payload && d.topic === topic && d.key === 'k')).to.equal(true);
    });

    it('should move a message to the dead-letter topic after maxRedeliveries and stop redelivering it', async () => {
      const topic = unique('poison');
      const deadLetterTopic = unique('dlq');
      const payload = JSON.stringify({ poison: randomUUID() });
      const attempts: number[] = [];
      const deadLetters: Delivery[] = [];
      await consume({ topics: [deadLetterTopic], subscription: unique('dlq-reader'), handler: async (d) => void deadLetters.push(d) });
      await consume({
        topics: [topic],
        subscription: unique('sub'),
        maxRedeliveries: 2,
        deadLetterTopic,
        handler: async (delivery) => {
          attempts.push(delivery.redeliveryCount);
          throw new Error('always fails');
        },
      });

      await transport.publish(topic, { key: 'poison-key', payload });
      await waitFor(() => deadLetters.length >= 1, () => `a dead letter (after ${attempts.length} attempts)`);
      await quiet();

      expect(attempts, 'redeliveryCount of each attempt').to.deep.equal([0, 1, 2]);
      expect(deadLetters.map((d) => d.payload)).to.deep.equal([payload]);
      expect(deadLetters[0].topic).to.equal(deadLetterTopic);
      // Where it came from, for whoever reads the dead-letter topic (the full topic name on Pulsar).
      const realTopic = deadLetters[0].properties?.REAL_TOPIC ?? '';
      expect(realTopic === topic || realTopic.endsWith(`/${topic}`), `REAL_TOPIC ${JSON.stringify(realTopic)} names ${topic}`).to.equal(true);
    });

    it('should drain: wait for the handler in flight, acknowledge its message, and deliver nothing new to the draining consumer', async () => {
      const topic = unique('drain');
      const subscription = unique('sub');
      const first = `first-${randomUUID()}`;
      const second = `second-${randomUUID()}`;
      const seen: string[] = [];
      let release: () => void = () => undefined;
      let finished = false;
      const old = await consume({
        topics: [topic],
        subscription,
        handler: async (delivery) => {
          seen.push(delivery.payload);
          if (delivery.payload !== first) return;
          await new Promise<void>((resolve) => (release = resolve));
          finished = true;
        },
      });
      await transport.publish(topic, { key: `a-${randomUUID()}`, payload: first });
      await waitFor(() => seen.length >= 1, () => 'the first delivery');

      let drained = false;
      const draining = old.drain(4 * timeoutMs).then(() => (drained = true));
      await transport.publish(topic, { key: `b-${randomUUID()}`, payload: second });
      await quiet();
      expect(drained, 'drain resolved while its handler was running').to.equal(false);
      release();
      await draining;
      expect(finished, 'the handler finished before drain resolved').to.equal(true);
      await quiet();
      expect(seen, 'deliveries to the draining consumer').to.deep.equal([first]);
      await old.close();

      // The drained message was acknowledged; what the draining consumer did not take was not lost.
      const after: string[] = [];
      await consume({ topics: [topic], subscription, handler: async (d) => void after.push(d.payload) });
      await waitFor(() => after.length >= 1, () => 'the message published during the drain, at the new consumer');
      await quiet();
      expect(after, 'deliveries to the new consumer').to.deep.equal([second]);
    });

    it('should resolve drain after its timeout when a handler never settles', async () => {
      const topic = unique('drain-timeout');
      let started = false;
      const consumer = await consume({
        topics: [topic],
        subscription: unique('sub'),
        handler: () => {
          started = true;
          return hang();
        },
      });
      await transport.publish(topic, { key: 'k', payload: `stuck-${randomUUID()}` });
      await waitFor(() => started, () => 'the delivery');
      const began = Date.now();
      await consumer.drain(300);
      const took = Date.now() - began;
      expect(took, 'drain time with a handler that never settles').to.be.within(280, 300 + 1_000);
    });

    it('should redeliver messages a closed consumer never acknowledged to a new consumer of the same subscription', async () => {
      const topic = unique('restart');
      const subscription = unique('sub');
      const payloads = ['first', 'second', 'third'].map((p) => `${p}-${randomUUID()}`);
      const before: string[] = [];
      const old = await consume({
        topics: [topic],
        subscription,
        handler: (delivery) => {
          before.push(delivery.payload);
          return hang(); // the consumer "crashes" while handling: it never acknowledges
        },
      });
      for (const payload of payloads) await transport.publish(topic, { key: 'one-key', payload });
      await waitFor(() => before.length >= 1, () => 'the first delivery to the old consumer');
      await old.close();

      const after: string[] = [];
      await consume({ topics: [topic], subscription, handler: async (d) => void after.push(d.payload) });
      await waitFor(() => after.length >= payloads.length, () => `${payloads.length} deliveries to the new consumer, got ${JSON.stringify(after)}`);

      expect(before, 'deliveries to the old consumer').to.deep.equal([payloads[0]]);
      expect(after, 'deliveries to the new consumer').to.deep.equal(payloads);
    });

    it('should redeliver a message acknowledged only after its consumer was closed', async () => {
      const topic = unique('late-ack');
      const subscription = unique('sub');
      const payload = `late-${randomUUID()}`;
      let finish: () => void = () => undefined;
      let started = false;
      const old = await consume({
        topics: [topic],
        subscription,
        handler: () =>
          new Promise<void>((resolve) => {
            started = true;
            finish = resolve;
          }),
      });
      await transport.publish(topic, { key: 'k', payload });
      await waitFor(() => started, () => 'the delivery to the old consumer');
      await old.close();
      finish(); // too late: the consumer is gone

      const after: string[] = [];
      await consume({ topics: [topic], subscription, handler: async (d) => void after.push(d.payload) });
      await waitFor(() => after.length >= 1, () => 'the redelivery to the new consumer');
      expect(after).to.deep.equal([payload]);
    });

    it('should deliver messages published while no consumer was connected once one connects', async () => {
      const topic = unique('offline');
      const subscription = unique('sub');
      const early: string[] = [];
      const first = await consume({ topics: [topic], subscription, handler: async (d) => void early.push(d.payload) });
      await first.close();

      const payloads = Array.from({ length: 5 }, (_, i) => `offline-${i}-${randomUUID()}`);
      for (const payload of payloads) await transport.publish(topic, { key: 'k', payload });
      await quiet();
      expect(early, 'deliveries to the closed consumer').to.deep.equal([]);

      const received: string[] = [];
      await consume({ topics: [topic], subscription, handler: async (d) => void received.push(d.payload) });
      await waitFor(() => received.length >= payloads.length, () => `${payloads.length} deliveries, got ${received.length}`);
      await quiet();
      expect(received).to.deep.equal(payloads);
    });
  });
}

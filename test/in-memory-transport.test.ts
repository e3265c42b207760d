import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'chai';
import { MessageRejectedError } from '../runtime/errors.ts';
import { InMemoryTransport } from '../runtime/in-memory-transport.ts';
import type { Delivery } from '../runtime/ports.ts';
import { transportContract } from './transport-contract.ts';

transportContract('InMemoryTransport', async () => ({ transport: new InMemoryTransport({ nackDelayMs: 10 }) }), {
  nackDelayMs: 10,
  timeoutMs: 2_000,
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(2);
  }
}

describe('InMemoryTransport', () => {
  let transport: InMemoryTransport;
  const releases: (() => void)[] = [];

  beforeEach(() => {
    transport = new InMemoryTransport({ nackDelayMs: 10 });
  });

  afterEach(async () => {
    releases.splice(0).forEach((release) => release());
    await transport.close();
  });

  describe('backlog()', () => {
    it('should count the messages waiting while no consumer is connected and drain when one connects', async () => {
      const first = await transport.subscribe({ topics: ['t'], subscription: 's', handler: async () => undefined });
      await first.close();
      for (let i = 0; i < 3; i++) await transport.publish('t', { key: `k${i}`, payload: `p${i}` });
      await delay(5);
      expect(transport.backlog('s')).to.equal(3);

      const received: string[] = [];
      await transport.subscribe({ topics: ['t'], subscription: 's', handler: async (d) => void received.push(d.payload) });
      await waitFor(() => received.length === 3, '3 deliveries');
      expect(transport.backlog('s')).to.equal(0);
      expect(received.sort()).to.deep.equal(['p0', 'p1', 'p2']);
    });

    it('should not count messages in flight, only those waiting', async () => {
      let started = 0;
      await transport.subscribe({
        topics: ['t'],
        subscription: 's',
        handler: () => {
          started++;
          return new Promise<void>((resolve) => releases.push(resolve));
        },
      });
      await transport.publish('t', { key: 'same', payload: '1' });
      await transport.publish('t', { key: 'same', payload: '2' });
      await waitFor(() => started === 1, 'the first delivery');
      await delay(5);
      expect(started, 'deliveries while the first of the key is unfinished').to.equal(1);
      expect(transport.backlog('s')).to.equal(1);
    });

    it('should be 0 for a subscription that does not exist', () => {
      expect(transport.backlog('nobody')).to.equal(0);
    });
  });

  describe('close()', () => {
    it('should make publish reject once the transport is closed', async () => {
      await transport.close();
      let error: unknown;
      await transport.publish('t', { key: 'k', payload: 'p' }).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(Error);
      expect((error as Error).message).to.match(/closed/);
    });

    it('should make subscribe reject once the transport is closed', async () => {
      await transport.close();
      let error: unknown;
      await transport.subscribe({ topics: ['t'], subscription: 's', handler: async () => undefined }).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(Error);
    });

    it('should keep the other consumers of a subscription when one consumer is closed twice', async () => {
      const received: string[] = [];
      const first = await transport.subscribe({ topics: ['t'], subscription: 's', handler: async () => undefined });
      await transport.subscribe({ topics: ['t'], subscription: 's', handler: async (d) => void received.push(d.payload) });
      await first.close();
      await first.close();

      await transport.publish('t', { key: 'k', payload: 'after double close' });
      await waitFor(() => received.length === 1, 'the delivery to the remaining consumer', 500);
      expect(received).to.deep.equal(['after double close']);
    });

    it('should not leave an unhandled rejection when a message is dead-lettered after the transport closed', async () => {
      const unhandled: unknown[] = [];
      const listeners = process.listeners('unhandledRejection');
      process.removeAllListeners('unhandledRejection');
      const record = (reason: unknown) => void unhandled.push(reason);
      process.on('unhandledRejection', record);
      try {
        let fail: (e: Error) => void = () => undefined;
        let started = false;
        await transport.subscribe({
          topics: ['t'],
          subscription: 's',
          maxRedeliveries: 0,
          handler: () =>
            new Promise<void>((_, reject) => {
              started = true;
              fail = reject;
            }),
        });
        await transport.publish('t', { key: 'k', payload: 'p' });
        await waitFor(() => started, 'the delivery');
        await transport.close();
        fail(new Error('handler failed during shutdown'));
        await delay(20);
      } finally {
        process.removeListener('unhandledRejection', record);
        listeners.forEach((listener) => process.on('unhandledRejection', listener));
      }
      expect(unhandled.map(String)).to.deep.equal([]);
    });
  });

  describe('maxPayloadBytes', () => {
    it('should refuse a payload over the limit with MessageRejectedError and go on publishing', async () => {
      const limited = new InMemoryTransport({ maxPayloadBytes: 10 });
      try {
        const received: string[] = [];
        await limited.subscribe({ topics: ['t'], subscription: 's', handler: async (d) => void received.push(d.payload) });
        let error: unknown;
        await limited.publish('t', { key: 'k', payload: 'ñ'.repeat(6) }).catch((e: unknown) => (error = e)); // 12 bytes
        expect(error).to.be.instanceOf(MessageRejectedError);
        expect(error).to.include({ retryable: false, code: 'message_rejected' });
        await limited.publish('t', { key: 'k', payload: 'ñ'.repeat(5) }); // 10 bytes
        await waitFor(() => received.length === 1, 'the delivery');
        expect(received).to.deep.equal(['ñ'.repeat(5)]);
      } finally {
        await limited.close();
      }
    });
  });

  describe('drain()', () => {
    it('should let the subscription\'s other consumers take the keys a draining consumer no longer takes', async () => {
      const drainingSaw: string[] = [];
      const otherSaw: string[] = [];
      let release: () => void = () => undefined;
      const draining = await transport.subscribe({
        topics: ['t'],
        subscription: 's',
        handler: async (d) => {
          drainingSaw.push(d.payload);
          if (d.payload === 'slow') await new Promise<void>((resolve) => (release = resolve));
        },
      });
      await transport.subscribe({ topics: ['t'], subscription: 's', handler: async (d) => void otherSaw.push(d.payload) });
      // One key goes to one consumer: find a key of the first consumer's.
      let key = '';
      for (let i = 0; drainingSaw.length === 0; i++) {
        key = `k${i}`;
        await transport.publish('t', { key, payload: 'slow' });
        await waitFor(() => drainingSaw.length + otherSaw.length === i + 1, 'the delivery');
      }
      const drained = draining.drain(2_000);
      await transport.publish('t', { key, payload: 'same key, during the drain' });
      await delay(20);
      expect(otherSaw, 'waits behind the key in flight').to.not.include('same key, during the drain');
      release();
      await drained;
      await waitFor(() => otherSaw.includes('same key, during the drain'), 'the other consumer takes the key');
      expect(drainingSaw).to.deep.equal(['slow']);
    });
  });

  describe('delivery', () => {
    it('should deliver a message published with an empty key with key null', async () => {
      const received: Delivery[] = [];
      await transport.subscribe({ topics: ['t'], subscription: 's', handler: async (d) => void received.push(d) });
      await transport.publish('t', { key: '', payload: 'p' });
      await waitFor(() => received.length === 1, 'the delivery');
      expect(received[0].key).to.equal(null);
    });

    it('should deliver every message without a key', async () => {
      const received: string[] = [];
      await transport.subscribe({ topics: ['t'], subscription: 's', handler: async (d) => void received.push(d.payload) });
      const payloads = Array.from({ length: 10 }, (_, i) => `p${i}`);
      for (const payload of payloads) await transport.publish('t', { key: '', payload });
      await waitFor(() => received.length === payloads.length, `${payloads.length} deliveries`);
      expect(received.sort()).to.deep.equal([...payloads].sort());
    });

    it('should wait nackDelayMs before redelivering a negatively acknowledged message', async () => {
      const slow = new InMemoryTransport({ nackDelayMs: 60 });
      try {
        const at: number[] = [];
        await slow.subscribe({
          topics: ['t'],
          subscription: 's',
          handler: async () => {
            at.push(Date.now());
            if (at.length === 1) throw new Error('nack');
          },
        });
        await slow.publish('t', { key: 'k', payload: 'p' });
        await waitFor(() => at.length === 2, 'the redelivery');
        expect(at[1] - at[0]).to.be.at.least(55);
      } finally {
        await slow.close();
      }
    });

    it('should hold back later messages of a key while its nacked message waits for redelivery', async () => {
      const received: string[] = [];
      let failed = false;
      await transport.subscribe({
        topics: ['t'],
        subscription: 's',
        handler: async (d) => {
          if (d.payload === '1' && !failed) {
            failed = true;
            throw new Error('nack');
          }
          received.push(d.payload);
        },
      });
      for (const payload of ['1', '2', '3']) await transport.publish('t', { key: 'k', payload });
      await waitFor(() => received.length === 3, '3 acknowledged deliveries');
      expect(received).to.deep.equal(['1', '2', '3']);
    });

    it('should dead-letter to "<subscription>-DLQ" when no deadLetterTopic is given', async () => {
      const deadLetters: string[] = [];
      await transport.subscribe({ topics: ['s-DLQ'], subscription: 'dlq-reader', handler: async (d) => void deadLetters.push(d.payload) });
      await transport.subscribe({
        topics: ['t'],
        subscription: 's',
        maxRedeliveries: 1,
        handler: async () => {
          throw new Error('poison');
        },
      });
      await transport.publish('t', { key: 'k', payload: 'poison' });
      await waitFor(() => deadLetters.length === 1, 'the dead letter');
      expect(deadLetters).to.deep.equal(['poison']);
    });

    it('should hold no more than maxInFlightPerConsumer unfinished messages per consumer', async () => {
      const limited = new InMemoryTransport({ maxInFlightPerConsumer: 2 });
      const started: string[] = [];
      const finish: (() => void)[] = [];
      try {
        await limited.subscribe({
          topics: ['t'],
          subscription: 's',
          handler: (d) =>
            new Promise<void>((resolve) => {
              started.push(d.payload);
              finish.push(resolve);
            }),
        });
        for (let i = 0; i < 5; i++) await limited.publish('t', { key: `k${i}`, payload: `p${i}` });
        await waitFor(() => started.length === 2, '2 deliveries');
        await delay(10);
        expect(started).to.have.length(2);
        expect(limited.backlog('s')).to.equal(3);

        finish.splice(0).forEach((resolve) => resolve());
        await waitFor(() => started.length === 4, '2 more deliveries');
        finish.splice(0).forEach((resolve) => resolve());
        await waitFor(() => started.length === 5, 'the last delivery');
        expect([...started].sort()).to.deep.equal(['p0', 'p1', 'p2', 'p3', 'p4']);
      } finally {
        finish.forEach((resolve) => resolve());
        await limited.close();
      }
    });
  });
});

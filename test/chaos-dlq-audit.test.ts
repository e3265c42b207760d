import { expect } from 'chai';
import WebSocket from 'ws';
import { DlqAudit } from '../tools/chaos/dlq-audit.ts';
import { publishRaw } from '../tools/chaos/poison.ts';
import { deleteNamespace, freshNamespace } from '../tools/cluster/service-cluster.ts';
import { PULSAR_URL, requirePulsar } from './support/pulsar.ts';

/**
 * The chaos suite counts messages that the broker moved to a `<subscription>-DLQ` topic; this
 * checks the count against the broker's own dead-letter mechanism, with no runtime code.
 */
describe('DlqAudit (chaos suite) against a real broker', function () {
  this.timeout(60_000);
  let namespace: string;

  before(requirePulsar);
  before(async () => {
    namespace = await freshNamespace(PULSAR_URL, 'chaos-dlq');
  });
  after(async () => {
    if (namespace) await deleteNamespace(namespace, PULSAR_URL);
  });

  it('should count a message the broker dead-lettered after its redeliveries, and name its envelope', async () => {
    const audit = new DlqAudit(PULSAR_URL, namespace);
    await audit.prepare();
    expect(await audit.collect()).to.deep.equal([]);

    // A consumer of subscription "pagos" that refuses every delivery: after 1 redelivery the broker moves it to pagos-DLQ.
    const params = new URLSearchParams({ subscriptionType: 'Shared', maxRedeliverCount: '1', deadLetterTopic: `persistent://public/${namespace}/pagos-DLQ`, negativeAckRedeliveryDelay: '100' });
    const consumer = new WebSocket(`${PULSAR_URL.replace(/^http/, 'ws')}/ws/v2/consumer/persistent/public/${namespace}/comando-pagar-reserva/pagos?${params}`);
    await new Promise((resolve, reject) => {
      consumer.once('open', resolve);
      consumer.once('error', reject);
    });
    let deliveries = 0;
    consumer.on('message', (data) => {
      deliveries++;
      const { messageId } = JSON.parse(data.toString()) as { messageId: string };
      consumer.send(JSON.stringify({ type: 'negativeAcknowledge', messageId }));
    });
    await publishRaw(PULSAR_URL, namespace, 'comando-pagar-reserva', JSON.stringify({ id: 'm-1', type: 'PagarReserva', data: { id_correlacion: 'saga-dlq-1' } }));

    const until = Date.now() + 30_000;
    let found = await audit.collect();
    while (found.length === 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      found = await audit.collect();
    }
    consumer.terminate();
    expect(deliveries).to.be.at.least(2);
    expect(found).to.have.length(1);
    expect(found[0]).to.include({ topic: 'pagos-DLQ', messages: 1 });
    expect(found[0].examples[0]).to.match(/^PagarReserva saga-dlq-1/);
  });
});

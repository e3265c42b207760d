import { PulsarClientTransport } from '../runtime/pulsar-client-transport.ts';
const t = await PulsarClientTransport.create({ url: 'pulsar://127.0.0.1:6650', namespace: 'default' });
const topic = `lat-${Date.now()}`;
let resolve: (() => void) | null = null;
let recvAt = 0;
await t.subscribe({ topics: [topic], subscription: 's', handler: async () => { recvAt = performance.now(); resolve?.(); } });
const lat: number[] = []; const pub: number[] = [];
for (let i = 0; i < 200; i++) {
  const done = new Promise<void>((r) => (resolve = r));
  const t0 = performance.now();
  await t.publish(topic, { key: `k${i}`, payload: `{"i":${i}}` });
  pub.push(performance.now() - t0);
  await done;
  lat.push(recvAt - t0);
  await new Promise((r) => setTimeout(r, 5));
}
const p = (a: number[], q: number) => [...a].sort((x, y) => x - y)[Math.floor(q * a.length)].toFixed(2);
console.log('publish ack p50', p(pub, 0.5), 'p90', p(pub, 0.9), '| publish→handler p50', p(lat, 0.5), 'p90', p(lat, 0.9));
await t.close();

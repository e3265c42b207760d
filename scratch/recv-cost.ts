import Pulsar from 'pulsar-client';
const client = new Pulsar.Client({ serviceUrl: 'pulsar://127.0.0.1:6650', log: () => {} } as never);
const N = 3000;
async function run(mode: 'receive' | 'listener') {
  const topic = `persistent://public/default/cost-${mode}-${Date.now()}`;
  let got = 0; let done!: () => void; const all = new Promise<void>((r) => (done = r));
  const base = { topic, subscription: 's', subscriptionType: 'KeyShared' as const, receiverQueueSize: 100 };
  const consumer = mode === 'listener'
    ? await client.subscribe({ ...base, listener: (msg, c) => { void c.acknowledge(msg); if (++got === N) done(); } } as never)
    : await client.subscribe(base as never);
  const producer = await client.createProducer({ topic, batchingEnabled: false, maxPendingMessages: 10000 } as never);
  await Promise.all(Array.from({ length: N }, (_, i) => producer.send({ data: Buffer.from(`m${i}`), partitionKey: `k${i % 50}` })));
  const cpu0 = process.cpuUsage(); const t0 = performance.now();
  if (mode === 'receive') {
    while (got < N) { const m = await consumer.receive(); await consumer.acknowledge(m); got++; }
  } else await all;
  const cpu = process.cpuUsage(cpu0); const ms = performance.now() - t0;
  console.log(mode, `${((cpu.user + cpu.system) / 1000 / N).toFixed(3)} ms CPU/msg`, `${(N / ms * 1000).toFixed(0)} msg/s`);
  await consumer.close(); await producer.close();
}
await run('receive'); await run('listener'); await run('receive'); await run('listener');
await client.close();

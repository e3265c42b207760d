#!/usr/bin/env node
// Produce/consume round trip through Pulsar's WebSocket API (used by pulsar.sh
// to decide that the broker is really up).
//
//   node tools/pulsar/ws-smoke.mjs [--web 127.0.0.1:8080] [--timeout 15000] [--keep-topic]
//                                  [--token-file F] [--admin-token-file F]
//
// With token authentication (pulsar.sh start --auth) the WebSocket sockets use the token in
// --token-file (the clients' role) and the admin API calls the one in --admin-token-file.
//
// 1. opens a consumer  ws://HOST/ws/v2/consumer/persistent/public/default/smoke-<rand>/smoke-sub
// 2. opens a producer  ws://HOST/ws/v2/producer/persistent/public/default/smoke-<rand>
// 3. sends {"payload": base64, "key", "properties", "context"} and waits for {"result":"ok",...}
// 4. receives the message, checks payload/key/properties, acks it with {"messageId": ...}
// 5. checks over the admin API that the subscription backlog went to 0, then deletes the topic.
// Exit code 0 on success (one JSON line on stdout), 1 on failure (reason on stderr).
import WebSocket from 'ws';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const web = opt('--web', `127.0.0.1:${process.env.PULSAR_WEB_PORT || '8080'}`);
const timeoutMs = Number(opt('--timeout', '15000'));
const keepTopic = args.includes('--keep-topic');
const bearer = (file) => (file ? { Authorization: `Bearer ${readFileSync(file, 'utf8').trim()}` } : {});
const wsHeaders = bearer(opt('--token-file', ''));
const adminHeaders = bearer(opt('--admin-token-file', ''));

const topic = `smoke-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
const topicPath = `persistent/public/default/${topic}`;
const sub = 'smoke-sub';
const started = Date.now();
const sockets = [];

function fail(msg) {
  for (const s of sockets) {
    try { s.terminate(); } catch { /* ignore */ }
  }
  process.stderr.write(`ws-smoke: FAILED: ${msg}\n`);
  process.exit(1);
}
const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: wsHeaders });
    sockets.push(ws);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => reject(new Error(`${url} -> HTTP ${res.statusCode} ${body.slice(0, 300)}`)));
    });
    ws.once('error', (e) => reject(new Error(`${url} -> ${e.message}`)));
  });
}

function nextMessage(ws, label) {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => {
      try { resolve(JSON.parse(data.toString())); } catch (e) { reject(new Error(`${label}: bad JSON ${data}`)); }
    });
    ws.once('close', (code, reason) => reject(new Error(`${label}: socket closed ${code} ${reason}`)));
  });
}

async function http(method, path) {
  const res = await fetch(`http://${web}${path}`, { method, headers: adminHeaders });
  const text = await res.text();
  return { status: res.status, text };
}

try {
  const consumer = await open(`ws://${web}/ws/v2/consumer/${topicPath}/${sub}?subscriptionType=Exclusive`);
  const received = nextMessage(consumer, 'consumer');
  const producer = await open(`ws://${web}/ws/v2/producer/${topicPath}`);

  const body = `hello ${topic}`;
  const send = {
    payload: Buffer.from(body).toString('base64'),
    key: 'smoke-key',
    properties: { origin: 'ws-smoke' },
    context: 'ctx-1',
  };
  const ackP = nextMessage(producer, 'producer');
  producer.send(JSON.stringify(send));
  const pAck = await ackP;
  if (pAck.result !== 'ok' || pAck.context !== 'ctx-1' || !pAck.messageId) {
    fail(`unexpected producer response ${JSON.stringify(pAck)}`);
  }

  const msg = await received;
  const gotBody = Buffer.from(msg.payload ?? '', 'base64').toString();
  if (gotBody !== body || msg.key !== 'smoke-key' || msg.properties?.origin !== 'ws-smoke') {
    fail(`unexpected consumer message ${JSON.stringify(msg)}`);
  }
  consumer.send(JSON.stringify({ messageId: msg.messageId }));

  // Acks are batched by the client (~100 ms): poll the backlog until it is 0.
  let backlog = -1;
  for (let i = 0; i < 40 && backlog !== 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const st = await http('GET', `/admin/v2/${topicPath}/stats`);
    if (st.status === 200) backlog = JSON.parse(st.text).subscriptions?.[sub]?.msgBacklog ?? -1;
  }
  if (backlog !== 0) fail(`ack not applied, backlog=${backlog}`);

  producer.close();
  consumer.close();
  if (!keepTopic) {
    await new Promise((r) => setTimeout(r, 200));
    await http('DELETE', `/admin/v2/${topicPath}?force=true`).catch(() => undefined);
  }
  clearTimeout(timer);
  process.stdout.write(JSON.stringify({
    ok: true, topic: `persistent://public/default/${topic}`, ms: Date.now() - started,
    producerAck: pAck, consumerMessage: msg,
  }) + '\n');
  process.exit(0);
} catch (e) {
  fail(e.message);
}

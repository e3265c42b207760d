import WebSocket from 'ws';

/** A malformed message the run publishes on purpose, and the one dead letter it must become. */
export interface Poison {
  topic: string;
  marker: string;
  at: number;
}

/** Command topics with exactly one consumer in both styles (the participant's own subscription). */
export const POISON_TOPICS = ['comando-pagar-reserva', 'comando-confirmar-reserva'] as const;

/**
 * Publishes `payload` (not a valid envelope) to `topic` of `public/<namespace>` through the
 * broker's WebSocket API, and resolves once the broker stored it.
 *
 * @example
 * await publishRaw('http://127.0.0.1:8080', 'chaos-1a2b', 'comando-pagar-reserva', '{"not": "an envelope"}');
 */
export async function publishRaw(pulsarUrl: string, namespace: string, topic: string, payload: string, key = 'chaos-poison'): Promise<void> {
  const url = `${pulsarUrl.replace(/^http/, 'ws')}/ws/v2/producer/persistent/public/${namespace}/${topic}`;
  const socket = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const answer = new Promise<{ result: string; errorMsg?: string }>((resolve, reject) => {
      socket.once('message', (data) => resolve(JSON.parse(data.toString())));
      socket.once('close', () => reject(new Error(`producer ${url} closed before the broker answered`)));
    });
    socket.send(JSON.stringify({ payload: Buffer.from(payload).toString('base64'), key, context: 'chaos' }));
    const result = await Promise.race([answer, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer from ${url} in 15 s`)), 15_000))]);
    if (result.result !== 'ok') throw new Error(`the broker refused the message on ${topic}: ${result.errorMsg ?? result.result}`);
  } finally {
    socket.terminate();
  }
}

/**
 * Publishes one malformed message (an unterminated JSON envelope carrying `marker`) that
 * its consumer must dead-letter with its reason.
 *
 * @example
 * const poison = await publishPoison(url, namespace, 'comando-pagar-reserva', 'chaos-poison-run1-1');
 */
export async function publishPoison(pulsarUrl: string, namespace: string, topic: string, marker: string): Promise<Poison> {
  await publishRaw(pulsarUrl, namespace, topic, `{"id":"${marker}","type":"PagarReserva","data":{"id_correlacion":"${marker}"`);
  return { topic, marker, at: Date.now() };
}

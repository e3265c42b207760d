/**
 * How many envelopes per second `parseEnvelope` validates: a typical `ReservaCreada` as the
 * broker delivers it (JSON bytes, with a W3C `traceparent`), parsed `--count` times (default
 * 100,000) after a warm-up. It is on the path of every message a process receives.
 *
 * `--baseline <module>` times another module's `parseEnvelope` in the same run, alternating
 * rounds (say the validator before a change: `git show HEAD~1:machines/messages.ts > /tmp/old.ts`).
 *
 * @example
 * npx tsx bench/parse.ts
 * npx tsx bench/parse.ts --count 200000 --baseline /tmp/old-messages.ts
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { parseEnvelope, type ParseResult } from '../machines/messages.ts';
import { makeEnvelope } from '../runtime/envelope.ts';

type Parse = (raw: unknown) => ParseResult;

const { values } = parseArgs({ options: { count: { type: 'string', default: '100000' }, baseline: { type: 'string' }, rounds: { type: 'string', default: '3' } } });
const count = Number(values.count);
const rounds = Number(values.rounds);

const envelope = {
  ...makeEnvelope(
    'ReservaCreada',
    { id_correlacion: '4b0c6f3e-2f7e-4f6a-9b5e-1f0e8d7c6b5a', id_reserva: '9d8c7b6a-5f4e-4d3c-8b2a-1a0b9c8d7e6f', id_cliente: 'cliente-1', estado: 'pendiente', fecha_creacion: 1_767_225_600_000, monto: 250, monto_vat: 47.5 },
    'vuelos.aeroalpes',
  ),
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
};
const payload = Buffer.from(JSON.stringify(envelope));

function time(parse: Parse): number {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    if (!parse(payload).ok) throw new Error('the sample envelope was refused');
  }
  return count / ((performance.now() - started) / 1000);
}

const candidates: [string, Parse][] = [['current', parseEnvelope]];
if (values.baseline) {
  const module = (await import(pathToFileURL(resolve(values.baseline)).href)) as { parseEnvelope: Parse };
  candidates.unshift(['baseline', module.parseEnvelope]);
}
for (const [name, parse] of candidates) {
  const result = parse(payload);
  if (!result.ok) throw new Error(`${name} refuses the sample: ${result.reason}`);
  for (let i = 0; i < 20_000; i++) parse(payload); // warm-up
}
const best: Record<string, number> = {};
for (let round = 0; round < rounds; round++) {
  for (const [name, parse] of candidates) best[name] = Math.max(best[name] ?? 0, time(parse));
}
console.log(`parseEnvelope, ${payload.length}-byte ReservaCreada as bytes, ${count} parses, best of ${rounds} rounds:`);
for (const [name, perSecond] of Object.entries(best)) console.log(`  ${name.padEnd(9)} ${Math.round(perSecond).toLocaleString('en')} parses/s (${(1e6 / perSecond).toFixed(2)} µs each)`);

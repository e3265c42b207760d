/** Web service URL of the broker the Pulsar tests use (`npm run pulsar -- start` brings one up). */
export const PULSAR_URL = process.env.PULSAR_URL ?? 'http://127.0.0.1:8080';

async function pulsarProblem(): Promise<string | null> {
  try {
    const response = await fetch(`${PULSAR_URL}/admin/v2/clusters`, { signal: AbortSignal.timeout(3000) });
    return response.ok ? null : `admin API answered ${response.status}`;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * A `before` hook for suites that need the real broker: skips them locally when it is not
 * running, and fails them under `CI=true`.
 *
 * @example
 * describe('over Pulsar', function () { before(requirePulsar); ... });
 */
export async function requirePulsar(this: Mocha.Context): Promise<void> {
  const problem = await pulsarProblem();
  if (!problem) return;
  if (process.env.CI) throw new Error(`the Pulsar broker at ${PULSAR_URL} is required in CI (npm run pulsar -- start): ${problem}`);
  console.warn(`    (skipping: no Pulsar broker at ${PULSAR_URL}: ${problem}; run npm run pulsar -- start)`);
  this.skip();
}

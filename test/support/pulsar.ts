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

/** Whether the native driver (`pulsar-client`, built by `npm run setup:native`) loads here, and why not. */
export const nativeDriver = await import('pulsar-client' as string).then(
  () => ({ loads: true as const, reason: '' }),
  (error: unknown) => ({ loads: false as const, reason: (error as Error).message }),
);

/** The Pulsar drivers the end-to-end suites run over, each in its own `describe`. */
export const PULSAR_DRIVERS = ['websocket', 'native'] as const;

/**
 * A `before` hook for a suite over `driver`: the native one needs `pulsar-client` to load
 * (`npm run setup:native`); skipped locally without it, a failure under `CI=true`.
 *
 * @example
 * for (const driver of PULSAR_DRIVERS) describe(`over ${driver}`, function () { before(requireDriver(driver)); ... });
 */
export function requireDriver(driver: (typeof PULSAR_DRIVERS)[number]) {
  return async function (this: Mocha.Context): Promise<void> {
    await requirePulsar.call(this);
    if (driver !== 'native' || nativeDriver.loads) return;
    if (process.env.CI) throw new Error(`the native Pulsar driver is required in CI (.ci/run runs npm run setup:native): ${nativeDriver.reason}`);
    console.warn(`    (skipping the native driver: pulsar-client does not load here: ${nativeDriver.reason}; run npm run setup:native)`);
    this.skip();
  };
}

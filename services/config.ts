import { DEFAULT_DATABASE_URL } from '../db/connect.ts';

/** One process's settings, from environment variables with safe local defaults. */
export interface Config {
  host: string;
  port: number;
  databaseUrl: string;
  transport: 'memory' | 'pulsar';
  /** Test endpoints (`/prueba-*`, `simular_fallo`): on unless NODE_ENV=production, where SAGA_TEST_ENDPOINTS=1 enables them. */
  testEndpoints: boolean;
  /** Default deadlines of new sagas, in ms. */
  plazoPasoMs: number;
  plazoCompensacionMs: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const flag = env.SAGA_TEST_ENDPOINTS;
  const transport = env.SAGA_TRANSPORT ?? 'memory';
  if (transport !== 'memory' && transport !== 'pulsar') throw new Error(`SAGA_TRANSPORT must be memory or pulsar, got "${transport}"`);
  return {
    host: env.HOST ?? '127.0.0.1',
    port: int(env, 'PORT', 3000),
    databaseUrl: env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    transport,
    testEndpoints: flag === undefined ? !production : flag === '1' || flag === 'true',
    plazoPasoMs: int(env, 'SAGA_PLAZO_PASO_MS', 30_000),
    plazoCompensacionMs: int(env, 'SAGA_PLAZO_COMPENSACION_MS', 10_000),
  };
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

import type { ServiceName } from '../../services/config.ts';
import type { Scenario } from './expectations.ts';

/**
 * Environment of every service process under chaos: the one place to add a setting.
 *
 * - Deadlines must outlast a SIGKILL and restart of a participant (a tsx process takes a
 *   few seconds to start on a loaded 2-core machine): 20 s per step, 5 s per compensation
 *   attempt.
 * - `revertir-pago` must end in manual repair within the run, so the compensation horizon
 *   (how long a failing compensation is retried before manual repair) must be short here,
 *   yet longer than the outages, or a real compensation caught by an outage would end in
 *   manual repair too.
 *
 * An outage grace period (deadlines that fell due while a dependency was down, or while a
 * service was restarting, wait this long after it is back) keeps outages from deciding
 * outcomes.
 *
 * @example
 * // npm run chaos -- --env SAGA_PLAZO_PASO_MS=30000   (one run), or edit this map (every run)
 */
export const CHAOS_SERVICE_ENV: Record<string, string> = {
  SAGA_PLAZO_PASO_MS: '20000',
  SAGA_PLAZO_COMPENSACION_MS: '5000',
  // Deadlines wait this long after an outage of the database or broker ends, and after a restart.
  SAGA_OUTAGE_GRACE_MS: '15000',
  // Compensation attempts: 5, 10, 20, 20 s (a horizon of 60 s), then manual repair.
  SAGA_PLAZO_COMPENSACION_MAX_MS: '20000',
  SAGA_HORIZONTE_COMPENSACION_MS: '60000',
};

/** How a run is made: how many sagas, how fast, and which faults at which point of the load. */
export interface ChaosProfile {
  name: string;
  /** Reservations the client must get accepted (the load goes on while faults remain). */
  sagas: number;
  /** New reservations per second. */
  rate: number;
  /** Most reservations in flight: being posted, or accepted and their saga not finished (load.ts). */
  maxInFlight: number;
  /** Faults, in order; each starts once `at` (a fraction of `sagas`) were accepted and the previous one recovered. */
  faults: FaultPlan[];
  /** Share of each scenario in the load (normalised). */
  mix: Record<Scenario, number>;
  /** How long to wait, after the load, for the system to settle before checking. */
  quiescenceTimeoutMs: number;
  /** How long a fault may take to recover (every service ready, a probe saga completed). */
  recoveryTimeoutMs: number;
  /** Malformed messages published on purpose (each must become exactly one dead letter). */
  poison: number;
}

export type FaultPlan =
  /** SIGKILL of `target`, else of the next service of a shuffled deck (every service once before any twice). */
  | { kind: 'kill'; at: number; target?: ServiceName }
  | { kind: 'broker'; at: number; downMs: number }
  | { kind: 'database'; at: number; downMs: number };

const MIX: Record<Scenario, number> = { none: 4, reserva: 1, pago: 1, gds: 1, aprobacion: 1, 'timeout-pago': 1, 'revertir-pago': 1 };

/** `npm run chaos`: 500 sagas per style, SIGKILLs all along, a 30 s broker stop, a 20 s database cut. */
export const FULL_PROFILE: ChaosProfile = {
  name: 'full',
  sagas: 500,
  rate: 5,
  maxInFlight: 40,
  faults: [
    { kind: 'kill', at: 0.05 },
    { kind: 'kill', at: 0.1 },
    { kind: 'broker', at: 0.15, downMs: 30_000 },
    { kind: 'kill', at: 0.35 },
    { kind: 'kill', at: 0.42 },
    { kind: 'database', at: 0.5, downMs: 20_000 },
    { kind: 'kill', at: 0.65 },
    { kind: 'kill', at: 0.72 },
    { kind: 'kill', at: 0.8 },
    { kind: 'kill', at: 0.88 },
  ],
  mix: MIX,
  quiescenceTimeoutMs: 240_000,
  recoveryTimeoutMs: 240_000,
  poison: 2,
};

/** The short version `npm test` runs: 100 sagas, 3 kills, a 10 s database cut, one broker restart. */
export const SHORT_PROFILE: ChaosProfile = {
  name: 'short',
  sagas: 100,
  rate: 3,
  maxInFlight: 24,
  faults: [
    { kind: 'kill', at: 0.1, target: 'coordinator' },
    { kind: 'broker', at: 0.25, downMs: 0 },
    { kind: 'kill', at: 0.45 },
    { kind: 'database', at: 0.6, downMs: 10_000 },
    { kind: 'kill', at: 0.8 },
  ],
  mix: MIX,
  quiescenceTimeoutMs: 150_000,
  recoveryTimeoutMs: 180_000,
  poison: 1,
};

/** No fault at all: the same load and checks on a quiet system, to tell the harness's findings from the faults' (`--profile calm`). */
export const CALM_PROFILE: ChaosProfile = { ...SHORT_PROFILE, name: 'calm', faults: [], quiescenceTimeoutMs: 120_000 };

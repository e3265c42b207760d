import * as choreography from '../../../machines/coreografia/index.ts';
import * as orchestration from '../../../machines/index.ts';
import type { ReservaInput } from '../../../machines/reserva.ts';
import type { SagaDefinition } from '../../../runtime/registry.ts';
import { sampleData, type Correlation } from './messages.ts';

/**
 * Every saga definition `machines/` exports (the orchestrated saga and the choreography's
 * participants and tracker), found by shape, so a new definition exported there gets its
 * model-based tests without anyone listing it here.
 */
export const SAGA_DEFINITIONS: readonly SagaDefinition[] = discover([orchestration, choreography]);

function isSagaDefinition(value: unknown): value is SagaDefinition {
  if (!value || typeof value !== 'object') return false;
  const v = value as Partial<SagaDefinition>;
  return (
    typeof v.type === 'string' &&
    typeof v.version === 'number' &&
    typeof v.serviceName === 'string' &&
    !!v.consumes &&
    typeof v.consumes === 'object' &&
    !!v.commands &&
    typeof v.commands === 'object' &&
    !!v.machine &&
    typeof (v.machine as { getStateNodeById?: unknown }).getStateNodeById === 'function'
  );
}

function discover(modules: readonly Record<string, unknown>[]): SagaDefinition[] {
  const found = new Map<string, SagaDefinition>();
  for (const module of modules) {
    for (const value of Object.values(module)) {
      if (isSagaDefinition(value)) found.set(`${value.type}@${value.version}`, value);
    }
  }
  // Orchestrated sagas (started by the runtime's caller) first, then the ones a message starts.
  return [...found.values()].sort((a, b) => Number(!!a.startedBy) - Number(!!b.startedBy) || a.type.localeCompare(b.type) || a.version - b.version);
}

/** Deadlines far in the future: only the test's clock makes them due. */
// The horizon fits three attempts of a compensation (300 + 600 + 600 s), so the paths stay few.
export const MODEL_PLAZOS = { paso: 600_000, compensacion: 300_000, compensacionMax: 600_000, horizonte: 1_500_000 };

/** What the participants' processes pass to `startedBy` (see `services/process.ts`). */
export const MODEL_START_SETTINGS = { plazos: MODEL_PLAZOS };

/**
 * How the test starts an orchestrated saga (one without `startedBy`): its input. A new
 * orchestrated saga type needs an entry here; the suite says so when one is missing.
 */
export const ORCHESTRATED_INPUTS: Record<string, (ids: Correlation, plazos?: ReservaInput['plazos']) => unknown> = {
  reserva: (ids, plazos = MODEL_PLAZOS): ReservaInput => {
    const data = sampleData('IniciarReserva', ids);
    return {
      id_correlacion: ids.id_correlacion,
      id_reserva: ids.id_reserva,
      id_cliente: data.id_cliente as string,
      monto: data.monto as number,
      monto_vat: data.monto_vat as number,
      itinerarios: data.itinerarios as ReservaInput['itinerarios'],
      plazos,
    };
  },
};

/** The input a definition's instance starts with, for a start message (or the orchestrated input). */
export function startInput(definition: SagaDefinition, ids: Correlation, startType?: string, startData?: Record<string, unknown>): unknown {
  if (!definition.startedBy) {
    const build = ORCHESTRATED_INPUTS[definition.type];
    if (!build) throw new Error(`model-based tests: no input for orchestrated saga "${definition.type}": add it to ORCHESTRATED_INPUTS in test/support/model/definitions.ts`);
    return build(ids);
  }
  const type = startType ?? Object.keys(definition.startedBy)[0];
  const starter = definition.startedBy[type] as unknown as (data: unknown, settings: unknown) => unknown;
  return starter(startData ?? sampleData(type, ids), MODEL_START_SETTINGS);
}

import { gdsReservaSaga, pagosReservaSaga, seguimientoSaga, vuelosReservaSaga } from './coreografia/index.ts';
import { reservaSaga } from './reserva.ts';

/**
 * Every saga type of the system, in one place: which style runs it and which service's
 * process runs it. The processes (`services/process.ts`, `services/system.ts`), `/ui`'s
 * catalog and `npm run viz` read it from here.
 *
 * @example
 * sagasOf('choreography').map((p) => p.saga.type); // ['vuelos-reserva', 'pagos-reserva', 'gds-reserva', 'reserva-coreografia']
 */
export const SAGA_CATALOG = [
  { style: 'orchestration', runBy: 'coordinator', saga: reservaSaga },
  { style: 'choreography', runBy: 'vuelos', saga: vuelosReservaSaga },
  { style: 'choreography', runBy: 'pagos', saga: pagosReservaSaga },
  { style: 'choreography', runBy: 'gds', saga: gdsReservaSaga },
  // The tracker: one view of each choreographed saga, kept where the coordinator would be.
  { style: 'choreography', runBy: 'coordinator', saga: seguimientoSaga },
] as const;

export type SagaStyle = (typeof SAGA_CATALOG)[number]['style'];
type Entry = (typeof SAGA_CATALOG)[number];

/** Every saga definition, each once. */
export const ALL_SAGAS: readonly Entry['saga'][] = SAGA_CATALOG.map((entry) => entry.saga);

/** The sagas of one style (what one process running the whole system registers). */
export function sagasOf(style: SagaStyle): Entry[] {
  return SAGA_CATALOG.filter((entry) => entry.style === style);
}

/** The saga a service's process runs in a style, if any. */
export function sagaRunBy(service: string, style: SagaStyle): Entry['saga'] | undefined {
  return SAGA_CATALOG.find((entry) => entry.style === style && entry.runBy === service)?.saga;
}

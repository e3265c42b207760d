import { gdsReservaSaga, pagosReservaSaga, seguimientoSaga, vuelosReservaSaga } from './coreografia/index.ts';
import { reservaSaga } from './reserva.ts';

/**
 * Every AeroAlpes saga type, in one place: which style runs it and which service's process
 * runs it. The service catalog (`services/catalog.ts`, which the processes read), `/ui`'s
 * catalog and `npm run viz` take it from here.
 *
 * @example
 * SAGA_CATALOG.filter((e) => e.style === 'choreography').map((e) => e.saga.type); // ['vuelos-reserva', 'pagos-reserva', 'gds-reserva', 'reserva-coreografia']
 */
export const SAGA_CATALOG = [
  { style: 'orchestration', runBy: 'coordinator', saga: reservaSaga },
  { style: 'choreography', runBy: 'vuelos', saga: vuelosReservaSaga },
  { style: 'choreography', runBy: 'pagos', saga: pagosReservaSaga },
  { style: 'choreography', runBy: 'gds', saga: gdsReservaSaga },
  // The tracker: one view of each choreographed saga, kept where the coordinator would be.
  { style: 'choreography', runBy: 'coordinator', saga: seguimientoSaga },
] as const;

/** Every saga definition, each once (`/ui`'s catalog, `npm run viz`). */
export const ALL_SAGAS = SAGA_CATALOG.map((entry) => entry.saga);

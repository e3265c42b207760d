/**
 * How long a saga keeps trying to undo a step: a compensation is sent again when it fails
 * or is not confirmed in time, waiting longer each time (doubling from `compensacion` up to
 * `compensacionMax`), for about `horizonte` in all; only then does the saga stop for manual
 * repair. An outage of a participant or of the broker is outlasted, not turned into manual
 * work.
 */
export interface Plazos {
  /** How long a step may take to answer (ms). */
  paso: number;
  /** The first wait for a compensation's confirmation (ms). */
  compensacion: number;
  /** The longest wait between two attempts of a compensation (ms). */
  compensacionMax: number;
  /** How long a compensation is retried in all before manual repair (ms). */
  horizonte: number;
}

export const DEFAULT_PLAZOS: Plazos = { paso: 30_000, compensacion: 10_000, compensacionMax: 600_000, horizonte: 6 * 3_600_000 };

/** The plazos of an input, with the defaults for what it leaves out. */
export function plazosDe(input?: Partial<Plazos>): Plazos {
  const given = Object.fromEntries(Object.entries(input ?? {}).filter(([, v]) => typeof v === 'number')) as Partial<Plazos>;
  return { ...DEFAULT_PLAZOS, ...given };
}

/**
 * The wait after attempt `intento` (1 for the first send) of a compensation.
 *
 * @example
 * esperaCompensacion({ ...DEFAULT_PLAZOS, compensacion: 10_000 }, 3); // 40_000
 */
export function esperaCompensacion(plazos: Plazos, intento: number): number {
  return Math.min(plazos.compensacionMax, plazos.compensacion * 2 ** Math.max(0, Math.min(intento - 1, 30)));
}

/**
 * How many attempts fit in the horizon: the attempts whose waits, added up, stay within it
 * (at least 1).
 *
 * @example
 * intentosEnHorizonte(DEFAULT_PLAZOS); // 40: 10 s, 20 s, … 10 min, 10 min … over 6 h
 */
export function intentosEnHorizonte(plazos: Plazos): number {
  let intentos = 0;
  let total = 0;
  while (intentos < 10_000) {
    const espera = esperaCompensacion(plazos, intentos + 1);
    if (intentos > 0 && total + espera > plazos.horizonte) break;
    total += espera;
    intentos++;
  }
  return Math.max(1, intentos);
}

/** An event as the reason helpers read it: a failure event carries `data.motivo`; a deadline has no data. */
type Motivado = { type: string; data?: object };

/**
 * The reason to record: the one given, else the failure event's own, else its type.
 *
 * @example
 * motivoDe({ type: 'PagoFallido', data: { motivo: 'sin fondos' } }, {}); // 'sin fondos'
 */
export function motivoDe(event: Motivado, params: { motivo?: string }): string {
  return params.motivo ?? ultimoFalloDe({ event });
}

/** The reason a compensation's attempt failed: the failure event's own, else its type. */
export function ultimoFalloDe({ event }: { event: Motivado }): string {
  return event.data && 'motivo' in event.data ? String(event.data.motivo) : event.type;
}

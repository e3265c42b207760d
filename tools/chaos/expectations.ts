/**
 * What the domain (../shared/docs/domain.md, README "The saga") says each injected failure
 * must lead to, written out by hand: the chaos suite compares the system against this
 * table, never against the runtime's own functions.
 */

/** The outcome a reservation is asked for: no failure, or the `simular_fallo` it carries. */
export const SCENARIOS = ['none', 'reserva', 'pago', 'gds', 'aprobacion', 'timeout-pago', 'revertir-pago'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export type Status = 'running' | 'completed' | 'compensated' | 'failed';
export type Style = 'orchestration' | 'choreography';

/** The choreography participants' own parts of a saga (saga types in `saga_instances`). */
export const PARTS = ['vuelos-reserva', 'pagos-reserva', 'gds-reserva'] as const;
export type Part = (typeof PARTS)[number];

export interface Expectation {
  /** The saga's status: the orchestrated saga's, or the choreography tracker's. */
  status: Status;
  /** The notices sent for this reservation (`notificaciones.tipo`), exactly. */
  notifications: string[];
  /**
   * The participants' effects, as their tables show them. null: no effect. A compensation
   * that finds nothing to undo leaves a tombstone row (so a late command is refused): a
   * cancelled reservation with no customer, a payment with 0 charges, a reversal with the
   * same creation and update time; a tombstone is no effect.
   */
  /** vuelos' reservation (`vuelos_reservas.estado`). */
  vuelos: 'pendiente' | 'aprobada' | 'cancelada' | null;
  /** pagos' payment: charged once, or charged once and refunded once. */
  pagos: { estado: 'pagado' | 'revertido'; cargos: number; reembolsos: number } | null;
  /** The GDS confirmation: confirmed, or confirmed and then reverted. */
  gds: 'confirmada' | 'revertida' | null;
  /** Choreography: the statuses each participant's part may end in; null: the part never starts. */
  parts: Record<Part, Status[] | null>;
}

const charged = { estado: 'pagado', cargos: 1, reembolsos: 0 } as const;
const refunded = { estado: 'revertido', cargos: 1, reembolsos: 1 } as const;

/**
 * The expected end of each scenario.
 *
 * - none: every step succeeds: approved, charged once, confirmed; "ReservaAprobada" mailed.
 * - reserva: vuelos cannot create the reservation: nothing else happens; the customer is
 *   told the reservation could not be created.
 * - pago: the charge is refused: the reservation is cancelled, never charged.
 * - gds: the GDS refuses: the charge is refunded, the reservation cancelled.
 * - aprobacion: the approval fails: the GDS confirmation is reverted, the charge refunded,
 *   the reservation cancelled (newest first).
 * - timeout-pago: pagos never answers; the step's deadline compensates it as if it might
 *   have charged: the refund finds nothing charged (a tombstone: no effect), the reservation
 *   is cancelled.
 * - revertir-pago: the GDS refuses and the refund keeps failing: the saga stops in manual
 *   repair (failed) with the customer charged and the reservation still pending; no notice
 *   (nothing was decided for the customer). In choreography vuelos' part waits for the
 *   refund that a person must complete, so it may still be running.
 */
export const EXPECTED: Record<Scenario, Expectation> = {
  none: {
    status: 'completed',
    notifications: ['ReservaAprobada'],
    vuelos: 'aprobada',
    pagos: charged,
    gds: 'confirmada',
    parts: { 'vuelos-reserva': ['completed'], 'pagos-reserva': ['completed'], 'gds-reserva': ['completed'] },
  },
  reserva: {
    status: 'compensated',
    notifications: ['CreacionReservaFallida'],
    vuelos: null,
    pagos: null,
    gds: null,
    parts: { 'vuelos-reserva': ['compensated'], 'pagos-reserva': null, 'gds-reserva': null },
  },
  pago: {
    status: 'compensated',
    notifications: ['ReservaCancelada'],
    vuelos: 'cancelada',
    pagos: null,
    gds: null,
    parts: { 'vuelos-reserva': ['compensated'], 'pagos-reserva': ['compensated'], 'gds-reserva': null },
  },
  gds: {
    status: 'compensated',
    notifications: ['ReservaCancelada'],
    vuelos: 'cancelada',
    pagos: refunded,
    gds: null,
    parts: { 'vuelos-reserva': ['compensated'], 'pagos-reserva': ['compensated'], 'gds-reserva': ['compensated'] },
  },
  aprobacion: {
    status: 'compensated',
    notifications: ['ReservaCancelada'],
    vuelos: 'cancelada',
    pagos: refunded,
    gds: 'revertida',
    parts: { 'vuelos-reserva': ['compensated'], 'pagos-reserva': ['compensated'], 'gds-reserva': ['compensated'] },
  },
  'timeout-pago': {
    status: 'compensated',
    notifications: ['ReservaCancelada'],
    vuelos: 'cancelada',
    pagos: null,
    gds: null,
    parts: { 'vuelos-reserva': ['compensated'], 'pagos-reserva': ['compensated'], 'gds-reserva': null },
  },
  'revertir-pago': {
    status: 'failed',
    notifications: [],
    vuelos: 'pendiente',
    pagos: charged,
    gds: null,
    parts: { 'vuelos-reserva': ['running', 'failed'], 'pagos-reserva': ['failed'], 'gds-reserva': ['compensated'] },
  },
};

/** The saga type whose instance is "the saga" in each style (the orchestrated saga, or the tracker). */
export const SAGA_TYPE: Record<Style, string> = { orchestration: 'reserva', choreography: 'reserva-coreografia' };

/** The saga type whose context holds the customer (`id_cliente`) in each style. */
export const CLIENT_SAGA_TYPE: Record<Style, string> = { orchestration: 'reserva', choreography: 'vuelos-reserva' };

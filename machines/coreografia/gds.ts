import { AEROALPES_MESSAGES } from '../messages.ts';
import { reservaSteps } from '../reserva.ts';
import { base } from './shared.ts';
import { stepPartSaga, type StepPartDeclaration } from './step-part.ts';

/**
 * gds' part of one reservation in the choreographed saga, as the runtime registers it:
 * confirms with the GDS once the reservation is paid (ReservaPagada starts an instance), and
 * undoes the confirmation when the approval fails or its own answer does not come in time.
 *
 * The part as declared: a saga with other steps reuses it with its own step list.
 */
export const gdsPart: StepPartDeclaration = {
  id: 'gdsReserva',
  service: 'gds',
  steps: reservaSteps.steps as never,
  step: 2,
  states: { working: 'confirmando', done: 'confirmado' },
  params: {
    command: ({ context }) => base(context),
    compensation: ({ context }) => ({ id_correlacion: context.id_correlacion, id_reserva: context.id_reserva, motivo: context.motivo ?? 'compensación' }),
  },
  undoneAs: { PagoRevertido: 'pago revertido', ReservaCancelada: 'reserva cancelada' },
};

export const gdsReservaSaga = stepPartSaga(gdsPart, { type: 'gds-reserva', serviceName: 'integracion_gds.aeroalpes', messages: AEROALPES_MESSAGES });

export const gdsReservaMachine = gdsReservaSaga.machine;

import { AEROALPES_MESSAGES } from '../messages.ts';
import { reservaSteps } from '../reserva.ts';
import { base } from './shared.ts';
import { stepPartSaga, type StepPartDeclaration } from './step-part.ts';

/**
 * pagos' part of one reservation in the choreographed saga, as the runtime registers it.
 * No coordinator: it charges when vuelos announces the reservation (ReservaCreada starts an
 * instance), and refunds when the GDS step fails or is undone after it (newest first:
 * ConfirmacionFallida or ConfirmacionGDSRevertida), or when its own answer does not come in time.
 *
 * The part as declared: a saga with other steps reuses it with its own step list.
 */
export const pagosPart: StepPartDeclaration = {
  id: 'pagosReserva',
  service: 'pagos',
  steps: reservaSteps.steps as never,
  step: 1,
  states: { working: 'pagando', done: 'pagado' },
  params: {
    command: ({ context, event }) => ({ ...base(context), monto: event.data.monto, monto_vat: event.data.monto_vat }),
    compensation: ({ context }) => ({ ...base(context), motivo: context.motivo ?? 'compensación' }),
  },
  undoneAs: { ConfirmacionGDSRevertida: 'confirmación revertida', ReservaCancelada: 'reserva cancelada' },
};

export const pagosReservaSaga = stepPartSaga(pagosPart, { type: 'pagos-reserva', serviceName: 'pagos.aeroalpes', messages: AEROALPES_MESSAGES });

export const pagosReservaMachine = pagosReservaSaga.machine;

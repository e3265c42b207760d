import { AEROALPES_MESSAGES, type Commands } from '../messages.ts';
import { reservaSteps } from '../reserva.ts';
import { edgePartSaga, type EdgePartDeclaration } from './edge-part.ts';
import { base, type ParticipanteContext, type ParticipanteInput, type ParticipanteSettings } from './shared.ts';

export interface VuelosReservaContext extends ParticipanteContext {
  solicitud: Omit<Commands['IniciarReserva'], 'plazos' | 'simular_fallo'>;
}
type VuelosReservaInput = ParticipanteInput & { solicitud: VuelosReservaContext['solicitud'] };

/**
 * vuelos' part of one reservation in the choreographed saga, as the runtime registers it. It
 * creates the reservation when a customer asks (IniciarReserva starts an instance), approves
 * it once the GDS confirmed it, and cancels it last, after a payment failed or was refunded
 * (so the compensations run newest first across services).
 *
 * The part as declared: a saga with other steps reuses it with its own step list.
 */
export const vuelosPart: EdgePartDeclaration<VuelosReservaContext, VuelosReservaInput, Commands['IniciarReserva']> = {
  id: 'vuelosReserva',
  service: 'vuelos',
  steps: reservaSteps.steps as never,
  start: {
    event: 'IniciarReserva',
    input: (data: Commands['IniciarReserva'], settings: ParticipanteSettings) => ({
      id_correlacion: data.id_correlacion,
      id_reserva: data.id_reserva,
      ...(data.simular_fallo ? { simular_fallo: data.simular_fallo } : {}),
      plazos: { ...settings.plazos, ...data.plazos },
      solicitud: { id_correlacion: data.id_correlacion, id_reserva: data.id_reserva, id_cliente: data.id_cliente, monto: data.monto, monto_vat: data.monto_vat, itinerarios: data.itinerarios },
    }),
  },
  context: (input) => ({ solicitud: input.solicitud }),
  params: {
    first: ({ context }) => ({
      ...base(context),
      id_cliente: context.solicitud.id_cliente,
      monto: context.solicitud.monto,
      monto_vat: context.solicitud.monto_vat,
      itinerarios: context.solicitud.itinerarios,
    }),
    last: ({ context }) => base(context),
    compensation: ({ context }) => ({ id_correlacion: context.id_correlacion, id_reserva: context.id_reserva, motivo: context.motivo ?? 'compensación' }),
  },
  states: {
    first: 'creando',
    waiting: { pagando: 'esperandoPago', confirmandoGds: 'esperandoConfirmacion' },
    last: 'aprobando',
    awaitingUndo: 'esperandoReversiones',
    undoing: 'cancelando',
    ends: { completed: 'aprobada', failed: 'fallida', undone: 'cancelada' },
  },
  undoneAs: 'pago revertido',
};

export const vuelosReservaSaga = edgePartSaga(vuelosPart, { type: 'vuelos-reserva', serviceName: 'vuelos.aeroalpes', messages: AEROALPES_MESSAGES, customerOf: (context) => context.solicitud.id_cliente });

export const vuelosReservaMachine = vuelosReservaSaga.machine;

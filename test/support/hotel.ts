import type { Application } from '../../services/catalog.ts';
import { AEROALPES } from '../../services/catalog.ts';
import { column, defineTable } from '../../db/table.ts';
import { edgePartSaga } from '../../machines/coreografia/edge-part.ts';
import { gdsPart } from '../../machines/coreografia/gds.ts';
import { pagosPart } from '../../machines/coreografia/pagos.ts';
import { trackerSaga } from '../../machines/coreografia/seguimiento.ts';
import { stepPartSaga } from '../../machines/coreografia/step-part.ts';
import { vuelosPart } from '../../machines/coreografia/vuelos.ts';
import * as z from 'zod';
import { AEROALPES_MESSAGES, CORRELATED, SIMULAR_FALLO, text, type MessageSpecs } from '../../machines/messages.ts';
import { reservaSteps, type ReservaContext } from '../../machines/reserva.ts';
import { stepSaga, type SagaStep, type StepSagaContext } from '../../machines/steps.ts';
import { declareParticipant } from '../../services/participants/declare.ts';

/**
 * A fifth step, a hotel booking between GDS and approval, added the way the README's "Adding
 * a step" says: each section below is what would go in the file it names. Nothing else of
 * the system changes; test/five-steps.test.ts runs it end to end in both styles.
 */

// --- machines/messages.ts: the step's messages, each described once -------------------------
const ids = z.object(CORRELATED);
const refused = z.object({ ...CORRELATED, motivo: text('motivo') });
export const HOTEL_MESSAGES: MessageSpecs = {
  commands: {
    ReservarHotel: { topic: 'comando-reservar-hotel', schema: z.object({ ...CORRELATED, simular_fallo: SIMULAR_FALLO.optional() }) },
    LiberarHotel: { topic: 'comando-liberar-hotel', schema: z.object({ ...CORRELATED, motivo: text('motivo'), simular_fallo: SIMULAR_FALLO.optional() }) },
  },
  events: {
    HotelReservado: { topic: 'evento-hotel', schema: ids },
    HotelRechazado: { topic: 'evento-hotel', schema: refused },
    HotelLiberado: { topic: 'evento-hotel', schema: ids },
    LiberacionHotelFallida: { topic: 'evento-hotel', schema: refused },
  },
};

// --- machines/reserva.ts: the step's declaration, one entry in the list ----------------------
type Ctx = ReservaContext & StepSagaContext;
export const HOTEL_STEP: SagaStep<Ctx> = {
  state: 'reservandoHotel',
  command: { type: 'ReservarHotel', params: ({ context }) => ({ id_correlacion: context.id_correlacion, id_reserva: context.id_reserva }) },
  success: { event: 'HotelReservado' },
  failure: { event: 'HotelRechazado' },
  compensation: {
    state: 'liberandoHotel',
    command: { type: 'LiberarHotel', params: ({ context }) => ({ id_correlacion: context.id_correlacion, id_reserva: context.id_reserva, motivo: context.motivo ?? 'compensación' }) },
    confirmedBy: 'HotelLiberado',
    failedBy: 'LiberacionHotelFallida',
  },
};
const [crear, pagar, confirmar, aprobar] = reservaSteps.steps;
export const HOTEL_STEPS = { ...reservaSteps, steps: [crear, pagar, confirmar, HOTEL_STEP, aprobar] };

// --- services/participants/hotel.ts: the participant, its table and its command handlers -----
/** Created by the step's migration (here the test creates it from this description). */
export const HOTEL_RESERVAS = defineTable('hotel_reservas', {
  id_reserva: column.id().key(),
  id_correlacion: column.id(),
  estado: column.string<'reservada' | 'liberada'>(32),
  /** Times a room was booked for this reservation: 1 at most. */
  reservas: column.int(),
  liberaciones: column.int(),
  fecha_actualizacion: column.millis(),
});

/** The hotel has no room for a reservation whose id starts with this (how a test asks for a refusal). */
export const SIN_HABITACION = 'LLENO-';

type HotelEvents = { [T in keyof (typeof HOTEL_MESSAGES)['events']]: { id_correlacion: string; id_reserva: string; motivo?: string } };

export const hotel = declareParticipant<(typeof HOTEL_RESERVAS)['definition'], HotelEvents>({
  name: 'hotel',
  serviceName: 'hotel.aeroalpes',
  table: HOTEL_RESERVAS,
  read: { path: '/hotel/:id', what: 'hotel booking of reservation' },
  commands: {
    ReservarHotel: ({ ids, row, put, now }) => {
      if (ids.id_reserva.startsWith(SIN_HABITACION)) return [{ type: 'HotelRechazado', data: { ...ids, motivo: 'sin habitaciones' } }];
      if (row?.estado === 'liberada') return [{ type: 'HotelRechazado', data: { ...ids, motivo: 'la reserva de hotel ya fue liberada' } }];
      if (!row) put({ ...ids, estado: 'reservada', reservas: 1, liberaciones: 0, fecha_actualizacion: now });
      return [{ type: 'HotelReservado', data: ids }];
    },
    LiberarHotel: ({ ids, row, put, now }) => {
      // Releasing before the booking arrived leaves a tombstone, so a late ReservarHotel is refused.
      if (!row) put({ ...ids, estado: 'liberada', reservas: 0, liberaciones: 0, fecha_actualizacion: now });
      else if (row.estado === 'reservada') put({ ...row, estado: 'liberada', liberaciones: row.liberaciones + 1, fecha_actualizacion: now });
      return [{ type: 'HotelLiberado', data: ids }];
    },
  },
});

// --- services/catalog.ts: the service, and the sagas built from the new step list -----------
const messages = AEROALPES_MESSAGES.with(HOTEL_MESSAGES);
const steps = HOTEL_STEPS.steps as readonly SagaStep<never>[];
export const HOTEL_APPLICATION: Application = {
  services: [...AEROALPES.services, { name: 'hotel', port: 3005, participant: hotel }],
  messages,
  sagas: [
    { style: 'orchestration', runBy: 'coordinator', saga: stepSaga(HOTEL_STEPS, { type: 'reserva', version: 1, serviceName: 'sagas.aeroalpes', messages }) },
    { style: 'choreography', runBy: 'vuelos', saga: edgePartSaga({ ...vuelosPart, steps }, { type: 'vuelos-reserva', serviceName: 'vuelos.aeroalpes', messages }) },
    { style: 'choreography', runBy: 'pagos', saga: stepPartSaga({ ...pagosPart, steps }, { type: 'pagos-reserva', serviceName: 'pagos.aeroalpes', messages }) },
    { style: 'choreography', runBy: 'gds', saga: stepPartSaga({ ...gdsPart, steps }, { type: 'gds-reserva', serviceName: 'integracion_gds.aeroalpes', messages }) },
    { style: 'choreography', runBy: 'hotel', saga: stepPartSaga({ id: 'hotelReserva', service: 'hotel', steps, step: 3 }, { type: 'hotel-reserva', serviceName: 'hotel.aeroalpes', messages }) },
    { style: 'choreography', runBy: 'coordinator', saga: trackerSaga(steps, { type: 'reserva-coreografia', serviceName: 'sagas.aeroalpes', messages }) },
  ],
};

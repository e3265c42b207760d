import { assign, setup } from 'xstate';
import type { SeguimientoContext } from '../../../machines/coreografia/seguimiento.ts';
import type { Evento } from '../../../machines/coreografia/shared.ts';

/** The choreography's tracker as written by hand, before its transitions were derived from the steps: the oracle of test/steps.test.ts. */

const FALLOS = ['PagoFallido', 'ConfirmacionFallida', 'AprobacionReservaFallida', 'PagoRevertido', 'ConfirmacionGDSRevertida'] as const;

/**
 * The read model of a choreographed saga, which no single process holds: it follows one
 * reservation's domain events on the event topics and tells where the saga stands
 * (`enCurso`, `compensando`, then `completada` or `compensada`, or `reparacionManual` when a
 * participant gave up a compensation). It sends nothing.
 */
export const handWrittenSeguimientoMachine = setup({
  types: { context: {} as SeguimientoContext, input: {} as { id_correlacion: string; id_reserva: string }, events: {} as Evento },
  actions: {
    registrarPaso: assign({ pasos: ({ context, event }) => [...context.pasos, event.type] }),
    registrarMotivo: assign({ motivo: ({ context, event }) => context.motivo ?? ('motivo' in event.data ? String(event.data.motivo) : event.type) }),
  },
}).createMachine({
  id: 'seguimientoReserva',
  context: ({ input }) => ({ id_correlacion: input.id_correlacion, id_reserva: input.id_reserva, pasos: [] }),
  initial: 'enCurso',
  on: { '*': { actions: 'registrarPaso' } },
  states: {
    enCurso: {
      on: {
        ReservaAprobada: { target: 'completada', actions: 'registrarPaso' },
        CreacionReservaFallida: { target: 'compensada', actions: ['registrarPaso', 'registrarMotivo'] },
        ReservaCancelada: { target: 'compensada', actions: ['registrarPaso', 'registrarMotivo'] },
        ...Object.fromEntries(FALLOS.map((f) => [f, { target: 'compensando', actions: ['registrarPaso', 'registrarMotivo'] }])),
        ReparacionManualRequerida: { target: 'reparacionManual', actions: ['registrarPaso', 'registrarMotivo'] },
      },
    },
    compensando: {
      on: {
        ReservaCancelada: { target: 'compensada', actions: 'registrarPaso' },
        ReparacionManualRequerida: { target: 'reparacionManual', actions: ['registrarPaso', 'registrarMotivo'] },
      },
    },
    // A participant gave up a compensation: a person must repair it. Not final: once the late
    // confirmation lets vuelos cancel, the saga ends compensated.
    reparacionManual: {
      tags: ['failed'],
      on: { ReservaCancelada: { target: 'compensada', actions: 'registrarPaso' } },
    },
    completada: { type: 'final', tags: ['completed'] },
    compensada: { type: 'final', tags: ['compensated'] },
  },
});


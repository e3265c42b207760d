import { TOPICS, type Commands, type Envelope } from '../../machines/messages.ts';
import { defineParticipantModels, RESERVAS, type ParticipantModels, type ReservaRow } from '../../db/participant-models.ts';
import type { SequelizeUnitOfWork } from '../../db/sequelize-unit-of-work.ts';
import { Participant, propagate, type ParticipantDeps, type Reply, type Validated } from './participant.ts';

/** vuelos: owns reservations; creates, approves and cancels them. */
export class VuelosService extends Participant {
  readonly name = 'vuelos';
  readonly serviceName = 'vuelos.aeroalpes';
  readonly topics = [TOPICS.CrearReserva, TOPICS.AprobarReserva, TOPICS.CancelarReserva];
  protected readonly handles = ['CrearReserva', 'AprobarReserva', 'CancelarReserva'];
  private readonly models: ParticipantModels;

  constructor(deps: ParticipantDeps) {
    super(deps);
    this.models = defineParticipantModels(deps.store.sequelize);
  }

  async reserva(id: string): Promise<ReservaRow | null> {
    return this.models.Reserva.findByPk(id, { raw: true });
  }

  protected async prefetch(uow: SequelizeUnitOfWork, messages: Envelope[]): Promise<void> {
    await uow.rows(RESERVAS).prefetch(messages.map((m) => (m.data as Validated).id_reserva));
  }

  protected async apply(message: Envelope, uow: SequelizeUnitOfWork): Promise<Reply[]> {
    const now = this.clock();
    const reservas = uow.rows(RESERVAS);
    const data = message.data as Validated; // parseEnvelope checked the schema of message.type
    const base = { id_correlacion: data.id_correlacion, id_reserva: data.id_reserva };
    const existing = await reservas.get(data.id_reserva);
    switch (message.type) {
      case 'CrearReserva': {
        const cmd = data as Commands['CrearReserva'];
        if (cmd.simular_fallo === 'reserva') return [{ type: 'CreacionReservaFallida', data: { ...base, motivo: 'simulado: sin sillas disponibles' } }];
        if (existing?.estado === 'cancelada') return [{ type: 'CreacionReservaFallida', data: { ...base, motivo: 'la reserva ya fue cancelada' } }];
        const row =
          existing ??
          reservas.put({ ...base, id_cliente: cmd.id_cliente, estado: 'pendiente', monto: cmd.monto, monto_vat: cmd.monto_vat, itinerarios: JSON.stringify(cmd.itinerarios), fecha_creacion: now, fecha_actualizacion: now });
        return [{ type: 'ReservaCreada', data: { ...base, id_cliente: row.id_cliente, estado: row.estado, fecha_creacion: Number(row.fecha_creacion), monto: row.monto, monto_vat: row.monto_vat, ...propagate(cmd) } }];
      }
      case 'AprobarReserva': {
        const cmd = data as Commands['AprobarReserva'];
        if (cmd.simular_fallo === 'aprobacion') return [{ type: 'AprobacionReservaFallida', data: { ...base, motivo: 'simulado: aprobación rechazada' } }];
        if (!existing || existing.estado === 'cancelada') return [{ type: 'AprobacionReservaFallida', data: { ...base, motivo: existing ? 'la reserva está cancelada' : 'la reserva no existe' } }];
        if (existing.estado !== 'aprobada') reservas.put({ ...existing, estado: 'aprobada', fecha_actualizacion: now });
        return [{ type: 'ReservaAprobada', data: { ...base, estado: 'aprobada', fecha_actualizacion: now } }];
      }
      case 'CancelarReserva': {
        // Cancelling what does not exist yet leaves a tombstone, so a late CrearReserva fails.
        if (!existing) {
          reservas.put({ ...base, id_cliente: '', estado: 'cancelada', monto: 0, monto_vat: 0, itinerarios: '[]', fecha_creacion: now, fecha_actualizacion: now });
        } else if (existing.estado !== 'cancelada') {
          reservas.put({ ...existing, estado: 'cancelada', fecha_actualizacion: now });
        }
        return [{ type: 'ReservaCancelada', data: { ...base, estado: 'cancelada', fecha_actualizacion: now } }];
      }
      default:
        this.log('vuelos: ignored message', { type: message.type });
        return [];
    }
  }
}

import { TOPICS, type Commands, type Envelope } from '../../machines/messages.ts';
import { CONFIRMACIONES_GDS, defineParticipantModels, type ConfirmacionGdsRow, type ParticipantModels } from '../../db/participant-models.ts';
import type { SequelizeUnitOfWork } from '../../db/sequelize-unit-of-work.ts';
import { Participant, type ParticipantDeps, type Reply, type Validated } from './participant.ts';

/** gds (integracion_gds): confirms the reservation with the Global Distribution System. */
export class GdsService extends Participant {
  readonly name = 'gds';
  readonly serviceName = 'integracion_gds.aeroalpes';
  readonly topics = [TOPICS.ConfirmarReserva, TOPICS.RevertirConfirmacion];
  protected readonly handles = ['ConfirmarReserva', 'RevertirConfirmacion'];
  private readonly models: ParticipantModels;

  constructor(deps: ParticipantDeps) {
    super(deps);
    this.models = defineParticipantModels(deps.store.sequelize);
  }

  async confirmacion(idReserva: string): Promise<ConfirmacionGdsRow | null> {
    return this.models.ConfirmacionGds.findByPk(idReserva, { raw: true });
  }

  protected async prefetch(uow: SequelizeUnitOfWork, messages: Envelope[]): Promise<void> {
    await uow.rows(CONFIRMACIONES_GDS).prefetch(messages.map((m) => (m.data as Validated).id_reserva));
  }

  protected async apply(message: Envelope, uow: SequelizeUnitOfWork): Promise<Reply[]> {
    const now = this.clock();
    const confirmaciones = uow.rows(CONFIRMACIONES_GDS);
    const data = message.data as Validated; // parseEnvelope checked the schema of message.type
    const base = { id_correlacion: data.id_correlacion, id_reserva: data.id_reserva };
    const existing = await confirmaciones.get(data.id_reserva);
    switch (message.type) {
      case 'ConfirmarReserva': {
        const cmd = data as Commands['ConfirmarReserva'];
        if (cmd.simular_fallo === 'gds' || cmd.simular_fallo === 'revertir-pago') return [{ type: 'ConfirmacionFallida', data: { ...base, motivo: 'simulado: el GDS rechazó la reserva' } }];
        if (existing?.estado === 'revertida') return [{ type: 'ConfirmacionFallida', data: { ...base, motivo: 'la confirmación ya fue revertida' } }];
        if (!existing) confirmaciones.put({ ...base, estado: 'confirmada', fecha_creacion: now, fecha_actualizacion: now });
        return [{ type: 'ReservaGDSConfirmada', data: { ...base, fecha_confirmacion: existing ? Number(existing.fecha_creacion) : now } }];
      }
      case 'RevertirConfirmacion': {
        if (!existing) confirmaciones.put({ ...base, estado: 'revertida', fecha_creacion: now, fecha_actualizacion: now });
        else if (existing.estado !== 'revertida') confirmaciones.put({ ...existing, estado: 'revertida', fecha_actualizacion: now });
        return [{ type: 'ConfirmacionGDSRevertida', data: { ...base, fecha_actualizacion: now } }];
      }
      default:
        return [];
    }
  }
}

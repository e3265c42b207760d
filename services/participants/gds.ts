import type { Transaction } from 'sequelize';
import { TOPICS, type Commands, type Envelope } from '../../machines/messages.ts';
import { defineParticipantModels, type ConfirmacionGdsRow, type ParticipantModels } from '../../db/participant-models.ts';
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

  protected async apply(message: Envelope, transaction: Transaction): Promise<Reply[]> {
    const now = this.clock();
    const { ConfirmacionGds } = this.models;
    const data = message.data as Validated; // parseEnvelope checked the schema of message.type
    const base = { id_correlacion: data.id_correlacion, id_reserva: data.id_reserva };
    const existing = await ConfirmacionGds.findByPk(data.id_reserva, { transaction, lock: transaction.LOCK.UPDATE });
    switch (message.type) {
      case 'ConfirmarReserva': {
        const cmd = data as Commands['ConfirmarReserva'];
        if (cmd.simular_fallo === 'gds' || cmd.simular_fallo === 'revertir-pago') return [{ type: 'ConfirmacionFallida', data: { ...base, motivo: 'simulado: el GDS rechazó la reserva' } }];
        if (existing?.estado === 'revertida') return [{ type: 'ConfirmacionFallida', data: { ...base, motivo: 'la confirmación ya fue revertida' } }];
        if (!existing) await ConfirmacionGds.create({ ...base, estado: 'confirmada', fecha_creacion: now, fecha_actualizacion: now }, { transaction });
        return [{ type: 'ReservaGDSConfirmada', data: { ...base, fecha_confirmacion: existing ? Number(existing.fecha_creacion) : now } }];
      }
      case 'RevertirConfirmacion': {
        if (!existing) await ConfirmacionGds.create({ ...base, estado: 'revertida', fecha_creacion: now, fecha_actualizacion: now }, { transaction });
        else if (existing.estado !== 'revertida') await existing.update({ estado: 'revertida', fecha_actualizacion: now }, { transaction });
        return [{ type: 'ConfirmacionGDSRevertida', data: { ...base, fecha_actualizacion: now } }];
      }
      default:
        return [];
    }
  }
}

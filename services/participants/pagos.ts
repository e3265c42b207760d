import { randomUUID } from 'node:crypto';
import { TOPICS, type Commands, type Envelope } from '../../machines/messages.ts';
import { defineParticipantModels, PAGOS, type PagoRow, type ParticipantModels } from '../../db/participant-models.ts';
import type { SequelizeUnitOfWork } from '../../db/sequelize-unit-of-work.ts';
import { Participant, propagate, type ParticipantDeps, type Reply, type Validated } from './participant.ts';

/** pagos: charges a reservation once and refunds it. */
export class PagosService extends Participant {
  readonly name = 'pagos';
  readonly serviceName = 'pagos.aeroalpes';
  readonly topics = [TOPICS.PagarReserva, TOPICS.RevertirPago];
  protected readonly handles = ['PagarReserva', 'RevertirPago'];
  private readonly models: ParticipantModels;

  constructor(deps: ParticipantDeps) {
    super(deps);
    this.models = defineParticipantModels(deps.store.sequelize);
  }

  async pago(idReserva: string): Promise<PagoRow | null> {
    return this.models.Pago.findByPk(idReserva, { raw: true });
  }

  protected async prefetch(uow: SequelizeUnitOfWork, messages: Envelope[]): Promise<void> {
    await uow.rows(PAGOS).prefetch(messages.map((m) => (m.data as Validated).id_reserva));
  }

  protected async apply(message: Envelope, uow: SequelizeUnitOfWork): Promise<Reply[]> {
    const now = this.clock();
    const pagos = uow.rows(PAGOS);
    const data = message.data as Validated; // parseEnvelope checked the schema of message.type
    const base = { id_correlacion: data.id_correlacion, id_reserva: data.id_reserva };
    const existing = await pagos.get(data.id_reserva);
    switch (message.type) {
      case 'PagarReserva': {
        const cmd = data as Commands['PagarReserva'];
        if (cmd.simular_fallo === 'pago') return [{ type: 'PagoFallido', data: { ...base, motivo: 'simulado: tarjeta rechazada' } }];
        if (cmd.simular_fallo === 'timeout-pago') return []; // never answers: the saga's deadline decides
        if (existing?.estado === 'revertido') return [{ type: 'PagoFallido', data: { ...base, motivo: 'el pago de esta reserva ya fue revertido' } }];
        // The primary key on id_reserva is what makes a second charge impossible.
        const pago =
          existing ??
          pagos.put({ ...base, id_pago: randomUUID(), estado: 'pagado', monto: cmd.monto, monto_vat: cmd.monto_vat, cargos: 1, reembolsos: 0, fecha_creacion: now, fecha_actualizacion: now });
        return [{ type: 'ReservaPagada', data: { ...base, id_pago: pago.id_pago, monto: pago.monto, monto_vat: pago.monto_vat, fecha_creacion: Number(pago.fecha_creacion), ...propagate(cmd) } }];
      }
      case 'RevertirPago': {
        const cmd = data as Commands['RevertirPago'];
        if (cmd.simular_fallo === 'revertir-pago') return [{ type: 'ReversionPagoFallida', data: { ...base, motivo: 'simulado: la pasarela no responde' } }];
        let idPago = existing?.id_pago;
        if (!existing) {
          // Refunding before the charge arrived: leave a tombstone so a late PagarReserva is refused.
          idPago = randomUUID();
          pagos.put({ ...base, id_pago: idPago, estado: 'revertido', monto: 0, monto_vat: 0, cargos: 0, reembolsos: 0, fecha_creacion: now, fecha_actualizacion: now });
        } else if (existing.estado === 'pagado') {
          pagos.put({ ...existing, estado: 'revertido', reembolsos: existing.reembolsos + 1, fecha_actualizacion: now });
        }
        return [{ type: 'PagoRevertido', data: { ...base, id_pago: idPago!, fecha_actualizacion: now } }];
      }
      default:
        return [];
    }
  }
}

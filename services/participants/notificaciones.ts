import { TOPICS, type Envelope } from '../../machines/messages.ts';
import { defineParticipantModels, NOTIFICACIONES, type NotificacionRow, type ParticipantModels } from '../../db/participant-models.ts';
import type { SequelizeUnitOfWork } from '../../db/sequelize-unit-of-work.ts';
import { Participant, type ParticipantDeps, type Reply } from './participant.ts';

const NOTICES: Record<string, string> = {
  ReservaAprobada: 'Su reserva {id} fue aprobada. ¡Buen viaje!',
  ReservaCancelada: 'Su reserva {id} fue cancelada; si hubo un cobro, fue reembolsado.',
  CreacionReservaFallida: 'No pudimos crear su reserva {id}.',
};

/** notificaciones: "sends" an e-mail for reservation outcomes (recorded, once per event). */
export class NotificacionesService extends Participant {
  readonly name = 'notificaciones';
  readonly serviceName = 'notificaciones.aeroalpes';
  readonly topics = [TOPICS.ReservaCreada];
  protected readonly handles = Object.keys(NOTICES);
  private readonly models: ParticipantModels;

  constructor(deps: ParticipantDeps) {
    super(deps);
    this.models = defineParticipantModels(deps.store.sequelize);
  }

  async enviadas(idCorrelacion: string): Promise<NotificacionRow[]> {
    return this.models.Notificacion.findAll({ where: { id_correlacion: idCorrelacion }, order: [['fecha', 'ASC']], raw: true });
  }

  protected async apply(message: Envelope, uow: SequelizeUnitOfWork): Promise<Reply[]> {
    const template = NOTICES[message.type];
    if (!template) return [];
    const data = message.data as { id_correlacion: string; id_reserva: string };
    const mensaje = template.replace('{id}', data.id_reserva);
    uow.rows(NOTIFICACIONES).put({ message_id: message.id, id_correlacion: data.id_correlacion, id_reserva: data.id_reserva, tipo: message.type, mensaje, fecha: this.clock() });
    this.log(`notificaciones: e-mail "${mensaje}"`);
    return [];
  }
}

import { TOPICS, type Envelope } from '../../machines/messages.ts';
import { defineParticipantModels, NOTIFICACIONES, type NotificacionRow, type ParticipantModels } from '../../db/participant-models.ts';
import type { SequelizeUnitOfWork } from '../../db/sequelize-unit-of-work.ts';
import { chunks } from '../../db/sql.ts';
import { Participant, type ParticipantDeps, type Reply } from './participant.ts';

const NOTICES: Record<string, string> = {
  ReservaAprobada: 'Su reserva {id} fue aprobada. ¡Buen viaje!',
  ReservaCancelada: 'Su reserva {id} fue cancelada; si hubo un cobro, fue reembolsado.',
  CreacionReservaFallida: 'No pudimos crear su reserva {id}.',
};

/**
 * notificaciones: "sends" an e-mail for reservation outcomes, once per reservation and
 * outcome (`id_correlacion`, `tipo`) however often it is told: a compensation resent by
 * the saga is answered again under a new message id, and the customer must not get that
 * e-mail twice. `apply` skips an outcome already notified; the unique index on
 * `notificaciones (id_correlacion, tipo)` makes a concurrent second one fail and retry.
 */
export class NotificacionesService extends Participant {
  readonly name = 'notificaciones';
  readonly serviceName = 'notificaciones.aeroalpes';
  readonly topics = [TOPICS.ReservaCreada];
  protected readonly handles = Object.keys(NOTICES);
  private readonly models: ParticipantModels;
  /** Per transaction: the outcomes notified so far of each reservation it read (committed, or written by it). */
  private readonly notified = new WeakMap<SequelizeUnitOfWork, Map<string, Set<string>>>();

  constructor(deps: ParticipantDeps) {
    super(deps);
    this.models = defineParticipantModels(deps.store.sequelize);
  }

  async enviadas(idCorrelacion: string): Promise<NotificacionRow[]> {
    return this.models.Notificacion.findAll({ where: { id_correlacion: idCorrelacion }, order: [['fecha', 'ASC']], raw: true });
  }

  /** Reads, in one statement per 200 reservations, which outcomes of the batch's reservations were notified. */
  protected async prefetch(uow: SequelizeUnitOfWork, messages: Envelope[]): Promise<void> {
    const ids = [...new Set(messages.filter((m) => NOTICES[m.type]).map((m) => m.data.id_correlacion))];
    const known = this.known(uow);
    const sql = uow.sql;
    for (const part of chunks(ids.filter((id) => !known.has(id)))) {
      const rows = await sql.select<{ id_correlacion: string; tipo: string }>(
        `SELECT id_correlacion, tipo FROM notificaciones WHERE id_correlacion IN (${part.map((id) => sql.escape(id)).join(', ')})`,
      );
      // A row a MySQL collation matched inexactly leaves its reservations to `apply`'s own read.
      if (!rows.every((row) => part.includes(row.id_correlacion))) continue;
      for (const id of part) known.set(id, new Set());
      for (const row of rows) known.get(row.id_correlacion)!.add(row.tipo);
    }
  }

  protected async apply(message: Envelope, uow: SequelizeUnitOfWork): Promise<Reply[]> {
    const template = NOTICES[message.type];
    if (!template) return [];
    const data = message.data as { id_correlacion: string; id_reserva: string };
    const sent = await this.sentOf(uow, data.id_correlacion);
    if (sent.has(message.type)) {
      this.log('notificaciones: outcome already notified', { id_correlacion: data.id_correlacion, tipo: message.type, messageId: message.id });
      return [];
    }
    sent.add(message.type);
    const mensaje = template.replace('{id}', data.id_reserva);
    uow.rows(NOTIFICACIONES).put({ message_id: message.id, id_correlacion: data.id_correlacion, id_reserva: data.id_reserva, tipo: message.type, mensaje, fecha: this.clock() });
    this.log(`notificaciones: e-mail "${mensaje}"`);
    return [];
  }

  private known(uow: SequelizeUnitOfWork): Map<string, Set<string>> {
    let known = this.notified.get(uow);
    if (!known) this.notified.set(uow, (known = new Map()));
    return known;
  }

  /** The outcomes of a reservation notified so far, as this transaction sees them. */
  private async sentOf(uow: SequelizeUnitOfWork, id: string): Promise<Set<string>> {
    const known = this.known(uow);
    let sent = known.get(id);
    if (!sent) {
      const rows = await uow.sql.select<{ tipo: string }>(`SELECT tipo FROM notificaciones WHERE id_correlacion = ${uow.sql.escape(id)}`);
      known.set(id, (sent = new Set(rows.map((row) => row.tipo))));
    }
    return sent;
  }
}

import type Router from '@koa/router';
import type { Envelope } from '../../machines/messages.ts';
import type { SequelizeUnitOfWork } from '../../db/sequelize-unit-of-work.ts';
import { chunks } from '../../db/sql.ts';
import { column, defineTable, type RowOf } from '../../db/table.ts';
import { HttpError } from '../http/errors.ts';
import type { ParticipantModule } from './declare.ts';
import { Participant, type AnyReply } from './participant.ts';

/** The e-mails sent, one per reservation and outcome (a unique index on `id_correlacion, tipo`). Created by migration 0002. */
export const NOTIFICACIONES = defineTable('notificaciones', {
  message_id: column.id().key(),
  id_correlacion: column.id(),
  id_reserva: column.id(),
  tipo: column.id(),
  mensaje: column.text(),
  fecha: column.millis(),
});
export type NotificacionRow = RowOf<typeof NOTIFICACIONES.definition>;

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
  readonly topics = [...new Set(Object.keys(NOTICES).map((type) => this.messages.topicOf(type)))];
  readonly handles = Object.keys(NOTICES);
  /** Per transaction: the outcomes notified so far of each reservation it read (committed, or written by it). */
  private readonly notified = new WeakMap<SequelizeUnitOfWork, Map<string, Set<string>>>();

  async enviadas(idCorrelacion: string): Promise<NotificacionRow[]> {
    return NOTIFICACIONES.model(this.deps.store.sequelize).findAll({ where: { id_correlacion: idCorrelacion }, order: [['fecha', 'ASC']], raw: true }) as unknown as Promise<NotificacionRow[]>;
  }

  /** `GET /notificaciones?id_correlacion=`: the e-mails of one reservation. */
  routes(router: Router): void {
    router.get('/notificaciones', async (ctx) => {
      const id = typeof ctx.query.id_correlacion === 'string' ? ctx.query.id_correlacion : '';
      if (!id) throw new HttpError(400, 'invalid', 'query parameter "id_correlacion" is required');
      ctx.body = { notificaciones: await this.enviadas(id) };
    });
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

  protected async apply(message: Envelope, uow: SequelizeUnitOfWork): Promise<AnyReply[]> {
    const template = NOTICES[message.type];
    if (!template) return [];
    const data = message.data as { id_correlacion: string; id_reserva: string };
    const sent = await this.sentOf(uow, data.id_correlacion);
    if (sent.has(message.type)) {
      this.log('outcome already notified', { level: 'info', ...this.about(message) });
      return [];
    }
    sent.add(message.type);
    const mensaje = template.replace('{id}', data.id_reserva);
    uow.rows(NOTIFICACIONES).put({ message_id: message.id, id_correlacion: data.id_correlacion, id_reserva: data.id_reserva, tipo: message.type, mensaje, fecha: this.clock() });
    this.log(`e-mail "${mensaje}"`, { level: 'info', ...this.about(message) });
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

/** notificaciones as the service catalog holds it. */
export const notificaciones: ParticipantModule = {
  name: 'notificaciones',
  serviceName: 'notificaciones.aeroalpes',
  create: (deps) => new NotificacionesService(deps),
};

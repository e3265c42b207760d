import type Router from '@koa/router';
import type { Envelope, Events } from '../../machines/messages.ts';
import type { SequelizeUnitOfWork } from '../../db/sequelize-unit-of-work.ts';
import type { Columns, RowOf, Table } from '../../db/table.ts';
import { HttpError } from '../http/errors.ts';
import { Participant, type ParticipantDeps, type Reply } from './participant.ts';

/** What a command handler sees: the command's payload, its own row of the reservation, and how to change it. */
export interface CommandArgs<R, D = Record<string, unknown>> {
  /** The payload, checked against its type's schema where it entered. */
  data: D & { id_correlacion: string; id_reserva: string };
  /** `{ id_correlacion, id_reserva }`, which every reply carries. */
  ids: { id_correlacion: string; id_reserva: string };
  /** Its row for this message (`row.id_reserva === data.id_reserva`) as this transaction sees it, or null. */
  row: R | null;
  /** Inserts or replaces its row; written with the outbox rows and the processed id in one commit. */
  put(row: R): R;
  now: number;
}

/**
 * A participant, declared once: its name, its own table, and what each command it handles
 * does to its row and answers. Everything else (subscriptions, batching, idempotency by
 * message id, the outbox, dead letters, its read endpoint) is the same for every participant.
 */
export interface ParticipantDeclaration<C extends Columns, E = Events> {
  /** Its subscription and the name the processes, catalog and replicas know it by (`pagos`). */
  name: string;
  /** The `service_name` of the events it publishes (`pagos.aeroalpes`). */
  serviceName: string;
  /** Its own table, keyed by the reservation (`id_reserva`) its commands are about. */
  table: Table<C>;
  /**
   * Its command handlers, by command type. Each runs inside the transaction that remembers
   * the message and queues the replies, so a redelivered command is answered once; it
   * should be idempotent against its own row all the same (a saga may send a command again).
   */
  commands: Readonly<Record<string, (args: CommandArgs<RowOf<C>>) => Reply<E>[]>>;
  /** `GET` path of one row by key (`/pagos/:id`), and what the 404 calls it. */
  read?: { path: `${string}/:id`; what: string };
}

/** A participant as the service catalog holds it: what a process needs to run it. */
export interface ParticipantModule {
  name: string;
  serviceName: string;
  create(deps: ParticipantDeps): Participant;
}

/**
 * Declares a participant from its command handlers over its own table.
 *
 * @example
 * export const HOTEL_RESERVAS = defineTable('hotel_reservas', { id_reserva: column.id().key(), id_correlacion: column.id(), estado: column.string(32) });
 * export const hotel = declareParticipant({
 *   name: 'hotel',
 *   serviceName: 'hotel.aeroalpes',
 *   table: HOTEL_RESERVAS,
 *   commands: {
 *     ReservarHotel: ({ ids, row, put, now }) => {
 *       if (row?.estado === 'liberada') return [{ type: 'HotelRechazado', data: { ...ids, motivo: 'ya liberada' } }];
 *       if (!row) put({ ...ids, estado: 'reservada' });
 *       return [{ type: 'HotelReservado', data: ids }];
 *     },
 *     LiberarHotel: ({ ids, put }) => { put({ ...ids, estado: 'liberada' }); return [{ type: 'HotelLiberado', data: ids }]; },
 *   },
 *   read: { path: '/hotel/:id', what: 'hotel booking' },
 * });
 */
export function declareParticipant<C extends Columns, E = Events>(declaration: ParticipantDeclaration<C, E>): ParticipantModule & { declaration: ParticipantDeclaration<C, E> } {
  return {
    name: declaration.name,
    serviceName: declaration.serviceName,
    declaration,
    create: (deps) => new DeclaredParticipant<C, E>(declaration, deps),
  };
}

/** A participant run from its declaration. */
export class DeclaredParticipant<C extends Columns, E = Events> extends Participant {
  readonly name: string;
  readonly serviceName: string;
  readonly topics: readonly string[];
  readonly handles: readonly string[];

  constructor(
    readonly declaration: ParticipantDeclaration<C, E>,
    deps: ParticipantDeps,
  ) {
    super(deps);
    this.name = declaration.name;
    this.serviceName = declaration.serviceName;
    this.handles = Object.keys(declaration.commands);
    this.topics = [...new Set(this.handles.map((type) => this.messages.topicOf(type)))];
  }

  /** Its row of a reservation, as committed. */
  async row(key: string): Promise<RowOf<C> | null> {
    return (await this.declaration.table.model(this.deps.store.sequelize).findByPk(key, { raw: true })) as RowOf<C> | null;
  }

  routes(router: Router): void {
    const { read } = this.declaration;
    if (!read) return;
    router.get(read.path, async (ctx) => {
      const row = await this.row(ctx.params.id);
      if (!row) throw new HttpError(404, 'not_found', `${read.what} ${ctx.params.id} not found`);
      ctx.body = row;
    });
  }

  protected async prefetch(uow: SequelizeUnitOfWork, messages: Envelope[]): Promise<void> {
    await uow.rows<RowOf<C>>(this.declaration.table).prefetch(messages.map((m) => String(m.data.id_reserva)));
  }

  protected async apply(message: Envelope, uow: SequelizeUnitOfWork): Promise<Reply<E>[]> {
    const handler = this.declaration.commands[message.type];
    if (!handler) return [];
    const rows = uow.rows<RowOf<C>>(this.declaration.table);
    const data = message.data as CommandArgs<RowOf<C>>['data'];
    const ids = { id_correlacion: data.id_correlacion, id_reserva: data.id_reserva };
    return handler({ data, ids, row: await rows.get(data.id_reserva), put: (row) => rows.put(row), now: this.clock() });
  }
}

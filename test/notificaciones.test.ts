import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { QueryTypes, UniqueConstraintError } from 'sequelize';
import { TOPICS, type EventType, type Events } from '../machines/messages.ts';
import { connect } from '../db/connect.ts';
import { migrate, MIGRATIONS } from '../db/migrator.ts';
import { makeEnvelope } from '../runtime/envelope.ts';
import type { System } from '../services/system.ts';
import { eachDatabase } from './support/databases.ts';
import { startSystem } from './support/system.ts';

/** A delivery of `type` for reservation `id`, under a message id of its own. */
function delivery<T extends EventType>(type: T, data: Events[T]) {
  const envelope = makeEnvelope(type, data, 'vuelos.aeroalpes', { id: randomUUID() });
  return { topic: TOPICS[type], key: data.id_correlacion, payload: JSON.stringify(envelope), redeliveryCount: 0 };
}

const cancelada = (id: string): Events['ReservaCancelada'] => ({ id_correlacion: id, id_reserva: `R-${id.slice(0, 8)}`, estado: 'cancelada', fecha_actualizacion: Date.now() });

describe('notificaciones', function () {
  this.timeout(30_000);

  eachDatabase((db) => {
    describe('NotificacionesService', function () {
      let system: System;
      before(async function () {
        system = await startSystem(await db.fresh(), { listen: false });
      });
      after(async () => system?.close());

      it('should notify an outcome once per reservation, however many messages (with new ids) announce it', async function () {
        const id = randomUUID();
        // A compensation sent again, answered again: the same outcome under another message id.
        await system.notificaciones.deliver(delivery('ReservaCancelada', cancelada(id)));
        await system.notificaciones.deliver(delivery('ReservaCancelada', cancelada(id)));
        const sent = await system.notificaciones.enviadas(id);
        expect(sent.map((n) => n.tipo)).to.deep.equal(['ReservaCancelada']);
      });

      it('should notify once when the repeated messages arrive together, in one batch', async function () {
        const id = randomUUID();
        await Promise.all(Array.from({ length: 5 }, () => system.notificaciones.deliver(delivery('ReservaCancelada', cancelada(id)))));
        expect((await system.notificaciones.enviadas(id)).map((n) => n.tipo)).to.deep.equal(['ReservaCancelada']);
      });

      it('should still notify each other outcome and each other reservation', async function () {
        const [a, b] = [randomUUID(), randomUUID()];
        await Promise.all([
          system.notificaciones.deliver(delivery('ReservaCancelada', cancelada(a))),
          system.notificaciones.deliver(delivery('ReservaCancelada', cancelada(b))),
          system.notificaciones.deliver(delivery('CreacionReservaFallida', { id_correlacion: a, id_reserva: 'R-a', motivo: 'sin cupo' })),
        ]);
        expect((await system.notificaciones.enviadas(a)).map((n) => n.tipo).sort()).to.deep.equal(['CreacionReservaFallida', 'ReservaCancelada']);
        expect((await system.notificaciones.enviadas(b)).map((n) => n.tipo)).to.deep.equal(['ReservaCancelada']);
      });
    });

    describe('migration 0004', function () {
      it('should keep the earliest of the duplicates an older version recorded, then refuse a second notification of an outcome', async function () {
        const sequelize = await connect(await db.fresh());
        try {
          // A database as the previous version left it: migrations up to 0003, one notification per message.
          const qi = sequelize.getQueryInterface();
          await sequelize.query('CREATE TABLE schema_migrations (name VARCHAR(191) NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)');
          const before = MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === '0004-entry'));
          for (const migration of before) {
            await migration.up(qi);
            await sequelize.query('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)', { replacements: [migration.name, Date.now()] });
          }
          const row = (messageId: string, id: string, tipo: string, fecha: number) => [messageId, id, 'R-1', tipo, `aviso ${messageId}`, fecha];
          const rows = [
            row('m-3', 'c-1', 'ReservaCancelada', 30),
            row('m-1', 'c-1', 'ReservaCancelada', 10),
            row('m-2', 'c-1', 'ReservaCancelada', 20),
            row('m-0', 'c-1', 'ReservaCancelada', 10), // same time as m-1: the lower id stays
            row('m-4', 'c-1', 'CreacionReservaFallida', 40),
            row('m-5', 'c-2', 'ReservaCancelada', 50),
          ];
          for (const values of rows) {
            await sequelize.query('INSERT INTO notificaciones (message_id, id_correlacion, id_reserva, tipo, mensaje, fecha) VALUES (?, ?, ?, ?, ?, ?)', { replacements: values });
          }

          expect(await migrate(sequelize)).to.include('0004-entry');
          const left = await sequelize.query<{ message_id: string }>('SELECT message_id FROM notificaciones ORDER BY message_id', { type: QueryTypes.SELECT });
          expect(left.map((r) => r.message_id)).to.deep.equal(['m-0', 'm-4', 'm-5']);
          let refused: unknown = null;
          await sequelize
            .query('INSERT INTO notificaciones (message_id, id_correlacion, id_reserva, tipo, mensaje, fecha) VALUES (?, ?, ?, ?, ?, ?)', { replacements: row('m-6', 'c-2', 'ReservaCancelada', 60) })
            .catch((error) => (refused = error));
          expect(refused).to.be.instanceOf(UniqueConstraintError);
        } finally {
          await sequelize.close();
        }
      });
    });
  });
});

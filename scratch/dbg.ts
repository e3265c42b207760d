import { connect } from '../db/connect.ts';
import { migrate } from '../db/migrator.ts';
import { SequelizeSagaStore } from '../db/sequelize-saga-store.ts';
const s = await connect('mysql://root@127.0.0.1:3306/dbg_raw');
await migrate(s);
const store = new SequelizeSagaStore(s);
await store.transaction(async (uow) => {
  const a = await uow.sql.select('SELECT 1 AS x');
  console.log('first', JSON.stringify(a));
  const b = await uow.sql.select('SELECT 2 AS x');
  console.log('second', JSON.stringify(b));
  const c = await uow.sql.selectAll(['SELECT 3 AS x', 'SELECT 4 AS y']);
  console.log('all', JSON.stringify(c));
  const d = await uow.sql.change("UPDATE outbox SET sent_at = 1 WHERE message_id = 'none'");
  console.log('change', d);
});
await s.query('DROP DATABASE dbg_raw');
await s.close();

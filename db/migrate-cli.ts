import { connect, DEFAULT_DATABASE_URL, redact } from './connect.ts';
import { migrate } from './migrator.ts';

/**
 * `npm run migrate`: applies the pending migrations to DATABASE_URL (default
 * `sqlite:./data/sagas.db`), prints them, and exits (1 when the database cannot be reached).
 *
 * @example
 * // DATABASE_URL=mysql://root@127.0.0.1:3306/sagas npm run migrate
 * process.exitCode = await migrateCli(process.env);
 */
async function migrateCli(env: NodeJS.ProcessEnv): Promise<number> {
  const url = env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  let sequelize;
  try {
    sequelize = await connect(url);
  } catch (error) {
    console.error(`error: cannot open the database ${redact(url)}: ${(error as Error).message}`);
    return 1;
  }
  try {
    const applied = await migrate(sequelize);
    if (applied.length === 0) console.log(`${redact(url)}: up to date, no migration applied`);
    else console.log(`${redact(url)}: applied ${applied.length} migration(s):\n${applied.map((name) => `  ${name}`).join('\n')}`);
    return 0;
  } catch (error) {
    console.error(`error: migration failed on ${redact(url)}: ${(error as Error).stack ?? error}`);
    return 1;
  } finally {
    await sequelize.close();
  }
}

process.exitCode = await migrateCli(process.env);

import type { Sequelize } from 'sequelize';
import { connect } from '../../../db/connect.ts';
import { migrate } from '../../../db/migrator.ts';
import type { TestDatabase } from '../databases.ts';

/**
 * A fresh, migrated database for each path, the next one prepared while the current path
 * runs (creating and migrating a MariaDB database costs about as much as driving a path).
 * The databases are dropped by the `TestDatabase`'s cleanup.
 *
 * @example
 * const databases = new FreshDatabases(db, paths.length);
 * const sequelize = await databases.take();
 */
export class FreshDatabases {
  private next: Promise<Sequelize> | null = null;
  private taken = 0;

  constructor(
    private readonly db: TestDatabase,
    /** How many `take` calls will come: none is prepared after the last. */
    private readonly total: number,
  ) {}

  take(): Promise<Sequelize> {
    const current = this.next ?? this.open();
    this.taken++;
    this.next = this.taken < this.total ? this.open() : null;
    return current;
  }

  private open(): Promise<Sequelize> {
    const opened = (async () => {
      const sequelize = await connect(await this.db.fresh());
      try {
        await migrate(sequelize);
      } catch (error) {
        await sequelize.close();
        throw error;
      }
      return sequelize;
    })();
    opened.catch(() => undefined); // reported to the path that takes it
    return opened;
  }
}

// The stores the work-queue tests run on, side by side: SQLite (a file per database, a second handle on the same
// file stands for a second process) and, when a PostgreSQL server is available, a database of the test cluster
// (test/helpers/postgres.ts; a second pool stands for a second process). Every database is migrated.
import { join } from 'node:path';
import { openDb, type Db, type Dialect } from '../../server/src/db/connection.js';
import { migrate } from '../../server/src/db/migrate.js';
import { openPostgres } from '../../server/src/db/postgres.js';
import { requirePostgres, testPostgres } from './postgres.js';
import { tempDir } from './tmp.js';

export interface QueueStore {
  readonly name: Dialect;
  /** A new, migrated, empty database. */
  fresh(): Promise<Db>;
  /** Another handle (SQLite) or pool (PostgreSQL) on the database of `db`: another process's view. */
  another(db: Db): Promise<Db>;
  /** Close every handle opened here (and stop the private cluster this process started). */
  close(): Promise<void>;
}

function sqliteStore(): QueueStore {
  let tmp: Promise<{ path: string; cleanup(): Promise<void> }> | undefined;
  const where = new Map<Db, string>();
  let n = 0;
  return {
    name: 'sqlite',
    async fresh() {
      tmp ??= tempDir('gf-queue-');
      const file = join((await tmp).path, `q${++n}.db`);
      const db = await openDb(file);
      where.set(db, file);
      await migrate(db);
      return db;
    },
    async another(db) {
      const file = where.get(db);
      if (!file) throw new Error('another(): not a database of this store');
      const d = await openDb(file);
      where.set(d, file);
      return d;
    },
    async close() {
      for (const db of where.keys()) await db.close().catch(() => undefined);
      where.clear();
      if (tmp) await (await tmp).cleanup();
    },
  };
}

function postgresStore(): QueueStore {
  const where = new Map<Db, string>();
  return {
    name: 'postgres',
    async fresh() {
      const url = await (await testPostgres()).createDatabase('gitfleet_queue');
      const db = await openPostgres(url);
      where.set(db, url);
      await migrate(db);
      return db;
    },
    async another(db) {
      const url = where.get(db);
      if (!url) throw new Error('another(): not a database of this store');
      const d = await openPostgres(url);
      where.set(d, url);
      return d;
    },
    async close() {
      for (const db of where.keys()) await db.close().catch(() => undefined);
      where.clear();
      await (await testPostgres()).stop();
    },
  };
}

/** SQLite always; PostgreSQL when it can run here (else requirePostgres() registers a skipped test saying why). */
export function queueStores(): QueueStore[] {
  return [sqliteStore(), ...(requirePostgres() ? [postgresStore()] : [])];
}

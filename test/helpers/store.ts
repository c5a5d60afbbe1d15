// The store a test runs on: SQLite (default) or, with GITFLEET_TEST_STORE=postgres, a fresh database of the test
// cluster (test/helpers/postgres.ts). Conformance runs (test/db/conformance.test.ts) set it for chosen files.
import { openDb, type Db } from '../../server/src/db/connection.js';
import { openPostgres } from '../../server/src/db/postgres.js';
import { testPostgres } from './postgres.js';

export type StoreKind = 'sqlite' | 'postgres';

export function testStoreKind(): StoreKind {
  const v = process.env.GITFLEET_TEST_STORE ?? 'sqlite';
  if (v !== 'sqlite' && v !== 'postgres') throw new Error(`GITFLEET_TEST_STORE must be sqlite or postgres, not ${v}`);
  return v;
}

/** Config to merge into a test server's: {} on SQLite, { db: { url } } of a new database on PostgreSQL. */
export async function testDbConfig(): Promise<{ db?: { url: string } }> {
  if (testStoreKind() === 'sqlite') return {};
  return { db: { url: await (await testPostgres()).createDatabase() } };
}

/** A store for a db-level test: `file` in SQLite, or a new PostgreSQL database (the file is then unused). */
export async function openTestDb(file: string, kind: StoreKind = testStoreKind()): Promise<Db> {
  if (kind === 'sqlite') return openDb(file);
  return openPostgres(await (await testPostgres()).createDatabase());
}

// The store a test runs on: SQLite (default) or, with GITFLEET_TEST_STORE=postgres, a database of the test cluster
// (test/helpers/postgres.ts), one per data dir so that a restarted server finds its records again. The conformance
// run (test/db/conformance.test.ts) sets the variable for the files that exercise the store.
import { dirname, resolve } from 'node:path';
import { openDb, type Db } from '../../server/src/db/connection.js';
import { openPostgres } from '../../server/src/db/postgres.js';
import { testPostgres } from './postgres.js';

export type StoreKind = 'sqlite' | 'postgres';

export function testStoreKind(): StoreKind {
  const v = process.env.GITFLEET_TEST_STORE ?? 'sqlite';
  if (v !== 'sqlite' && v !== 'postgres') throw new Error(`GITFLEET_TEST_STORE must be sqlite or postgres, not ${v}`);
  return v;
}

const byDataDir = new Map<string, Promise<string>>();

/** The PostgreSQL database of a data dir (created on first use). */
export function testDbUrl(dataDir: string): Promise<string> {
  const key = resolve(dataDir);
  let url = byDataDir.get(key);
  if (!url) {
    url = testPostgres().then((c) => c.createDatabase());
    byDataDir.set(key, url);
  }
  return url;
}

/** Config to merge into a test server's: {} on SQLite, { db: { url } } on PostgreSQL. */
export async function testDbConfig(dataDir: string): Promise<{ db?: { url: string } }> {
  return testStoreKind() === 'sqlite' ? {} : { db: { url: await testDbUrl(dataDir) } };
}

/** The same as YAML lines for a config file ([] on SQLite). */
export async function testDbYaml(dataDir: string): Promise<string[]> {
  return testStoreKind() === 'sqlite' ? [] : [`db: { url: '${await testDbUrl(dataDir)}' }`];
}

/** The store of a test: the SQLite `file`, or on PostgreSQL the database of the file's directory (the data dir). */
export async function openTestDb(file: string, kind: StoreKind = testStoreKind()): Promise<Db> {
  return kind === 'sqlite' ? openDb(file) : openPostgres(await testDbUrl(dirname(file)));
}

// Shared bits of the host-sync tests: a migrated temp database and small builders.
import { join } from 'node:path';
import { openDb, type Db } from '../../server/src/db/connection.js';
import { migrate } from '../../server/src/db/migrate.js';
import { tempDir } from '../helpers/tmp.js';
import { openTestDb } from '../helpers/store.js';

export async function tempDb(): Promise<{ db: Db; dir: string; cleanup(): Promise<void> }> {
  const t = await tempDir('gf-hs-');
  const db = await openTestDb(join(t.path, 'test.db'));
  await migrate(db);
  return { db, dir: t.path, async cleanup() { await db.close(); await t.cleanup(); } };
}

export async function memDb(): Promise<Db> {
  const db = await openDb(':memory:');
  await migrate(db);
  return db;
}

/** Every host row with its apps, for before/after comparisons. */
export async function snapshot(db: Db): Promise<Map<number, Record<string, unknown>>> {
  const apps = db.dialect === 'postgres' ? "(SELECT string_agg(app, ',' ORDER BY app) FROM host_apps a WHERE a.host_id = h.id)"
    : "(SELECT group_concat(app, ',') FROM (SELECT app FROM host_apps a WHERE a.host_id = h.id ORDER BY app))";
  const rows = await db.all<Record<string, unknown>>(`SELECT h.*, ${apps} AS apps FROM hosts h`);
  return new Map(rows.map((r) => [r.id as number, r]));
}

// Which store a config names: SQLite in the data dir (the default) or the PostgreSQL database of `db.url`.
import { join } from 'node:path';
import { openDb, type Db } from './connection.js';
import { openPostgres } from './postgres.js';

export async function openStore(config: { dataDir: string; db: { url?: string } }): Promise<Db> {
  return config.db.url ? openPostgres(config.db.url) : openDb(join(config.dataDir, 'gitfleet.db'));
}

// Schema migrations: db/migrations/NNN_name.sql (SQLite) or db/migrations/pg/NNN_name.sql (PostgreSQL, same names)
// applied in order, each in a write transaction, tracked by name in schema_migrations (by name, not by a high-water
// mark, so migrations written on parallel branches are never skipped). Safe when several processes start at once:
// each migration re-checks inside its transaction, which holds the store's write lock (SQLite's, or the
// database-wide advisory lock every PostgreSQL tx takes), so exactly one process applies it.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './connection.js';

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');
export const PG_MIGRATIONS_DIR = join(MIGRATIONS_DIR, 'pg');

export interface Migration { version: number; name: string; sql: string }

/** Every migration file, sorted by its number (numbers must be unique). */
export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const out = readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: readFileSync(join(dir, f), 'utf8') }))
    .sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.version === out[i - 1]!.version) throw new Error(`duplicate migration number ${out[i]!.version}`);
  }
  return out;
}

/** Apply every migration not yet recorded; returns the names applied. */
export async function migrate(db: Db, migrations = listMigrations(db.dialect === 'postgres' ? PG_MIGRATIONS_DIR : MIGRATIONS_DIR)): Promise<string[]> {
  await db.tx((q) => q.exec('CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)'));
  const done = new Set((await db.all<{ name: string }>('SELECT name FROM schema_migrations')).map((r) => r.name));
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.name)) continue;
    // A table rebuild (e.g. to add AUTOINCREMENT) must not cascade the old table's drop into its children: such a
    // migration says so on its first line; foreign keys are off around its transaction (a pragma a transaction
    // ignores) and checked before its commit. (SQLite only: PostgreSQL rebuilds nothing.)
    const fkOff = db.dialect === 'sqlite' && m.sql.startsWith('-- migrate: foreign-keys off');
    if (fkOff) await db.exec('PRAGMA foreign_keys = OFF');
    try {
      const ran = await db.tx(async (q) => {
        // Another process may have applied it since the read above.
        if (await q.get('SELECT name FROM schema_migrations WHERE name = ?', [m.name])) return false;
        await q.exec(m.sql);
        if (fkOff) {
          const broken = await q.all<{ table: string }>('PRAGMA foreign_key_check');
          if (broken.length) throw new Error(`migration ${m.name} leaves ${broken.length} broken foreign key(s), first in ${broken[0]!.table}`);
        }
        await q.run('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)', [m.name, new Date().toISOString()]);
        return true;
      });
      if (ran) applied.push(m.name);
    } finally {
      if (fkOff) await db.exec('PRAGMA foreign_keys = ON');
    }
  }
  return applied;
}

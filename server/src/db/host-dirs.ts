// The directories gitfleet created on each host for a unit (so that it removes those, and only those).
import type { Queryable } from './connection.js';

export async function createdDirs(q: Queryable, unit: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const r of await q.all<{ ip: string; path: string }>('SELECT ip, path FROM unit_host_dirs WHERE unit = ? ORDER BY ip, path', [unit])) {
    out.set(r.ip, [...(out.get(r.ip) ?? []), r.path]);
  }
  return out;
}

/** Statements per batch: a first push creates a handful per host, each a write (on PostgreSQL a transaction) of its own. */
const BATCH = 200;

export async function addCreatedDirs(q: Queryable, unit: string, ip: string, paths: string[], now: string): Promise<void> {
  for (let i = 0; i < paths.length; i += BATCH) {
    const part = paths.slice(i, i + BATCH);
    await q.run(`INSERT INTO unit_host_dirs (unit, ip, path, created_at) VALUES ${part.map(() => '(?, ?, ?, ?)').join(', ')} ON CONFLICT DO NOTHING`,
      part.flatMap((p) => [unit, ip, p, now]));
  }
}

export async function forgetCreatedDirs(q: Queryable, unit: string, ip: string, paths: string[]): Promise<void> {
  for (let i = 0; i < paths.length; i += BATCH) {
    const part = paths.slice(i, i + BATCH);
    await q.run(`DELETE FROM unit_host_dirs WHERE unit = ? AND ip = ? AND path IN (${part.map(() => '?').join(', ')})`, [unit, ip, ...part]);
  }
}

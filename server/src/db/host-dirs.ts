// The directories gitfleet created on each host for a unit (so that it removes those, and only those).
import type { Queryable } from './connection.js';

export async function createdDirs(q: Queryable, unit: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const r of await q.all<{ ip: string; path: string }>('SELECT ip, path FROM unit_host_dirs WHERE unit = ? ORDER BY ip, path', [unit])) {
    out.set(r.ip, [...(out.get(r.ip) ?? []), r.path]);
  }
  return out;
}

export async function addCreatedDirs(q: Queryable, unit: string, ip: string, paths: string[], now: string): Promise<void> {
  for (const p of paths) await q.run('INSERT INTO unit_host_dirs (unit, ip, path, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING', [unit, ip, p, now]);
}

export async function forgetCreatedDirs(q: Queryable, unit: string, ip: string, paths: string[]): Promise<void> {
  for (const p of paths) await q.run('DELETE FROM unit_host_dirs WHERE unit = ? AND ip = ? AND path = ?', [unit, ip, p]);
}

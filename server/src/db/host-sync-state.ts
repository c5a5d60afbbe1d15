// Host-sync sources enabled / disabled through the API (a runtime switch over the configuration's `enabled`).
import type { Queryable } from './connection.js';

export interface SourceSwitch { enabled: boolean; updatedAt: string; updatedBy: string | null }

export async function sourceSwitches(q: Queryable): Promise<Map<string, SourceSwitch>> {
  const rows = await q.all<{ name: string; enabled: number; updated_at: string; updated_by: string | null }>('SELECT * FROM host_sync_source_state');
  return new Map(rows.map((r) => [r.name, { enabled: r.enabled === 1, updatedAt: r.updated_at, updatedBy: r.updated_by }]));
}

export async function setSourceSwitch(q: Queryable, name: string, enabled: boolean, now: string, by: string | null): Promise<void> {
  await q.run(`INSERT INTO host_sync_source_state (name, enabled, updated_at, updated_by) VALUES (?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
  [name, enabled ? 1 : 0, now, by]);
}

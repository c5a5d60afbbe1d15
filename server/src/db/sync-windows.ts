// Sync windows kept through the API, and the units windows hold (held_units): the only SQL of the windows feature.
import type { Queryable } from './connection.js';
import type { SyncWindowSpec } from '../windows/model.js';

export async function listApiWindows(q: Queryable): Promise<SyncWindowSpec[]> {
  const rows = await q.all<{ spec: string }>('SELECT spec FROM sync_windows ORDER BY name');
  return rows.map((r) => JSON.parse(r.spec) as SyncWindowSpec);
}

/** Insert or replace; true when it was new. */
export async function putApiWindow(q: Queryable, w: SyncWindowSpec, actor: string | null, now: string): Promise<boolean> {
  const had = await q.get<{ name: string }>('SELECT name FROM sync_windows WHERE name = ?', [w.name]);
  await q.run(`INSERT INTO sync_windows (name, spec, actor, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, actor = excluded.actor, updated_at = excluded.updated_at`, [w.name, JSON.stringify(w), actor, now, now]);
  return !had;
}

export async function deleteApiWindow(q: Queryable, name: string): Promise<boolean> {
  return (await q.run('DELETE FROM sync_windows WHERE name = ?', [name])).changes > 0;
}

export interface HeldUnit {
  unit: string;
  /** null: the branch head when released. */
  commit: string | null;
  /** null: every host of the unit. */
  hosts: string[] | null;
  trigger: string;
  deploymentIds: number[];
  reason: string;
  heldAt: string;
  updatedAt: string;
}

interface HeldRow { unit: string; commit_key: string; hosts: string | null; trigger: string; deployment_ids: string; reason: string; held_at: string; updated_at: string }

const toHeld = (r: HeldRow): HeldUnit => ({
  unit: r.unit, commit: r.commit_key || null, hosts: r.hosts ? (JSON.parse(r.hosts) as string[]) : null, trigger: r.trigger,
  deploymentIds: JSON.parse(r.deployment_ids) as number[], reason: r.reason, heldAt: r.held_at, updatedAt: r.updated_at,
});

export async function listHeld(q: Queryable): Promise<HeldUnit[]> {
  return (await q.all<HeldRow>('SELECT * FROM held_units ORDER BY unit, commit_key')).map(toHeld);
}

/**
 * Hold a unit (call inside a transaction): joins the unit's held work rather than adding more. A whole-unit hold at
 * the head absorbs every other hold of the unit (it deploys the newest files to every host); host-limited holds at
 * the same commit merge their hosts.
 */
export async function holdUnit(q: Queryable, h: { unit: string; commit: string | null; hosts: string[] | null; trigger: string; deploymentId: number; reason: string }, now: string): Promise<void> {
  const rows = (await q.all<HeldRow>('SELECT * FROM held_units WHERE unit = ?', [h.unit])).map(toHeld);
  const whole = rows.find((r) => r.commit === null && r.hosts === null);
  const key = h.commit ?? '';
  const same = rows.find((r) => (r.commit ?? '') === key);
  const absorbing = h.commit === null && h.hosts === null;
  const target = whole ?? same;
  const ids = (extra: HeldUnit[]) => [...new Set([...extra.flatMap((r) => r.deploymentIds), h.deploymentId])].sort((a, b) => a - b);
  if (target && !absorbing) {
    const hosts = target.hosts === null || h.hosts === null ? null : [...new Set([...target.hosts, ...h.hosts])].sort();
    await q.run('UPDATE held_units SET hosts = ?, deployment_ids = ?, reason = ?, updated_at = ? WHERE unit = ? AND commit_key = ?',
      [hosts ? JSON.stringify(hosts) : null, JSON.stringify(ids([target])), h.reason, now, h.unit, target.commit ?? '']);
    return;
  }
  // A whole-unit hold at the head replaces the unit's other holds (and keeps their deployments); else a new hold.
  const absorbed = absorbing ? rows : [];
  if (absorbing) await q.run('DELETE FROM held_units WHERE unit = ?', [h.unit]);
  await q.run('INSERT INTO held_units (unit, commit_key, hosts, trigger, deployment_ids, reason, held_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [h.unit, key, h.hosts ? JSON.stringify([...h.hosts].sort()) : null, whole?.trigger ?? h.trigger, JSON.stringify(ids(absorbed)), h.reason, absorbed.map((r) => r.heldAt).sort()[0] ?? now, now]);
}

/** Remove released holds (inside the transaction that records their deployment). */
export async function releaseHeld(q: Queryable, rows: Array<Pick<HeldUnit, 'unit' | 'commit' | 'updatedAt'>>): Promise<void> {
  // A hold joined since it was read stays (released next round): its newer hosts are not lost.
  for (const r of rows) await q.run('DELETE FROM held_units WHERE unit = ? AND commit_key = ? AND updated_at = ?', [r.unit, r.commit ?? '', r.updatedAt]);
}

/** The deployments that held units say which deployment runs them now. */
export async function noteReleased(q: Queryable, rows: HeldUnit[], releasedAs: number): Promise<void> {
  for (const r of rows) {
    for (const id of r.deploymentIds) {
      await q.run("UPDATE deployment_units SET reason = reason || ? WHERE deployment_id = ? AND unit = ? AND status = 'held'", [`; released as deployment #${releasedAs}`, id, r.unit]);
    }
  }
}

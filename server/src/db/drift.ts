// Drift verdicts per (unit, host), replaced as a whole at each check of a unit.
import type { Db } from './connection.js';

export type DriftState = 'in_sync' | 'drifted' | 'unreachable' | 'error';
export interface DriftRow { unit: string; ip: string; state: DriftState; files: string[]; reason: string | null; commit: string | null; checkedAt: string }

export async function replaceUnitDrift(db: Db, unit: string, rows: DriftRow[]): Promise<void> {
  await db.tx(async (q) => {
    await q.run('DELETE FROM drift_status WHERE unit = ?', [unit]);
    for (const r of rows) {
      await q.run('INSERT INTO drift_status (unit, ip, state, files, reason, commit_sha, checked_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [unit, r.ip, r.state, JSON.stringify(r.files.slice(0, 500)), r.reason, r.commit, r.checkedAt]);
    }
  });
}

export async function unitDrift(db: Db, unit?: string): Promise<DriftRow[]> {
  const rows = await db.all<{ unit: string; ip: string; state: string; files: string; reason: string | null; commit_sha: string | null; checked_at: string }>(
    `SELECT * FROM drift_status${unit ? ' WHERE unit = ?' : ''} ORDER BY unit, ip`, unit ? [unit] : []);
  return rows.map((r) => ({ unit: r.unit, ip: r.ip, state: r.state as DriftState, files: JSON.parse(r.files) as string[], reason: r.reason, commit: r.commit_sha, checkedAt: r.checked_at }));
}

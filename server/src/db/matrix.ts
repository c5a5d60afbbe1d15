// The units × hosts matrix's raw material. What each host holds is read as ONE string in a sequential scan of
// unit_hosts (250,000 row objects, or a GROUP BY walking the (unit, ip) index with a table lookup per row, cost 5-10
// times more); the few cells whose state is not plain in sync / behind come in small reads beside it.
import type { Queryable } from './connection.js';
import { realRun, wholeUnit } from './request-json.js';

/** Codes of the cell states, in this order (the API sends the list beside the codes). */
export const CELL_STATES = ['in_sync', 'behind', 'drifted', 'failed', 'unreachable'] as const;

/** Each unit's intended commit: that of its latest whole-unit, real deployment (a push, sync or rollback), whatever
 * its outcome (a failed push still says where the unit should be; a partial one does not move the unit's state). */
export async function unitTargets(q: Queryable): Promise<Map<string, string>> {
  const rows = await q.all<{ unit: string; commit_sha: string }>(
    `SELECT du.unit, du.commit_sha FROM deployment_units du JOIN deployments d ON d.id = du.deployment_id
     WHERE du.commit_sha IS NOT NULL AND du.status != 'skipped' AND ${realRun(q.dialect, 'd')}
       AND ${wholeUnit(q.dialect, 'd')}
     ORDER BY du.deployment_id`);
  return new Map(rows.map((r) => [r.unit, r.commit_sha]));
}

// Latest finished push per (unit, ip), dry runs left out: they change nothing on the host.
const lastPush = (q: Queryable) => `SELECT hp.unit, hp.ip, hp.status FROM host_pushes hp
  JOIN (SELECT h.unit, h.ip, MAX(h.id) AS id FROM host_pushes h JOIN deployments d ON d.id = h.deployment_id
        WHERE h.status IN ('succeeded', 'failed') AND ${realRun(q.dialect, 'd')}
        GROUP BY h.unit, h.ip) m ON m.id = hp.id`;

export interface MatrixRows {
  /** "unit ip commit,unit ip commit,..." over unit_hosts (null: empty). */
  held: string | null;
  /** Latest real push failed: the cell is failed, whatever else. */
  failed: Array<{ unit: string; ip: string }>;
  /** Drifted / unreachable checks newer than the host's commit (older ones say nothing of the current copy). */
  drift: Array<{ unit: string; ip: string; state: 'drifted' | 'unreachable' }>;
  hostnames: Map<string, string | null>;
}

export async function matrixRows(q: Queryable): Promise<MatrixRows> {
  const concat = q.dialect === 'postgres' ? 'string_agg' : 'group_concat';
  const held = await q.get<{ cells: string | null }>(`SELECT ${concat}(unit || ' ' || ip || ' ' || commit_sha, ',') AS cells FROM unit_hosts`);
  const failed = await q.all<{ unit: string; ip: string }>(`SELECT unit, ip FROM (${lastPush(q)}) lp WHERE status = 'failed'`);
  const drift = await q.all<{ unit: string; ip: string; state: 'drifted' | 'unreachable' }>(
    `SELECT ds.unit, ds.ip, ds.state FROM drift_status ds LEFT JOIN unit_hosts uh ON uh.unit = ds.unit AND uh.ip = ds.ip
     WHERE ds.state IN ('drifted', 'unreachable') AND (uh.deployed_at IS NULL OR ds.checked_at >= uh.deployed_at)`);
  const hosts = await q.all<{ ip: string; hostname: string | null }>('SELECT ip, hostname FROM hosts');
  return { held: held?.cells ?? null, failed, drift, hostnames: new Map(hosts.map((h) => [h.ip, h.hostname])) };
}

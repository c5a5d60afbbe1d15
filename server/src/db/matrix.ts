// The units × hosts matrix's raw material in three reads: what each host holds per unit, its latest real (not dry)
// push result per unit, and the last drift check.
import type { Queryable } from './connection.js';
import { realRun, wholeUnit } from './request-json.js';

export interface HeldRow { unit: string; ip: string; commit: string; deployedAt: string }
export interface LastPushRow { unit: string; ip: string; status: string; reason: string | null; deploymentId: number }
export interface DriftCell { unit: string; ip: string; state: string; checkedAt: string }

export async function matrixRows(q: Queryable): Promise<{ held: HeldRow[]; lastPush: LastPushRow[]; drift: DriftCell[]; hostnames: Map<string, string | null>; targets: Map<string, string> }> {
  const held = await q.all<{ unit: string; ip: string; commit_sha: string; deployed_at: string }>('SELECT unit, ip, commit_sha, deployed_at FROM unit_hosts');
  // Latest finished push per (unit, ip), dry runs left out: they change nothing on the host.
  const lastPush = await q.all<{ unit: string; ip: string; status: string; reason: string | null; deployment_id: number }>(
    `SELECT hp.unit, hp.ip, hp.status, hp.reason, hp.deployment_id FROM host_pushes hp
     JOIN (SELECT h.unit, h.ip, MAX(h.id) AS id FROM host_pushes h JOIN deployments d ON d.id = h.deployment_id
           WHERE h.status IN ('succeeded', 'failed') AND ${realRun(q.dialect, 'd')}
           GROUP BY h.unit, h.ip) m ON m.id = hp.id`);
  const drift = await q.all<{ unit: string; ip: string; state: string; checked_at: string }>('SELECT unit, ip, state, checked_at FROM drift_status');
  const hosts = await q.all<{ ip: string; hostname: string | null }>('SELECT ip, hostname FROM hosts');
  // Each unit's intended commit: that of its latest whole-unit, real deployment (a push, sync or rollback), whatever
  // its outcome (a failed push still says where the unit should be; a partial one does not move the unit's state).
  const intended = await q.all<{ unit: string; commit_sha: string }>(
    `SELECT du.unit, du.commit_sha FROM deployment_units du JOIN deployments d ON d.id = du.deployment_id
     WHERE du.commit_sha IS NOT NULL AND du.status != 'skipped' AND ${realRun(q.dialect, 'd')}
       AND ${wholeUnit(q.dialect, 'd')}
     ORDER BY du.deployment_id`);
  return {
    held: held.map((r) => ({ unit: r.unit, ip: r.ip, commit: r.commit_sha, deployedAt: r.deployed_at })),
    lastPush: lastPush.map((r) => ({ unit: r.unit, ip: r.ip, status: r.status, reason: r.reason, deploymentId: r.deployment_id })),
    drift: drift.map((r) => ({ unit: r.unit, ip: r.ip, state: r.state, checkedAt: r.checked_at })),
    hostnames: new Map(hosts.map((h) => [h.ip, h.hostname])),
    targets: new Map(intended.map((r) => [r.unit, r.commit_sha])),
  };
}

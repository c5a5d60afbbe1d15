// The content diffs of dry-run hosts (deploy/host-diff.ts), one JSON document per host_pushes row.
import type { Queryable } from './connection.js';
import type { HostDiff } from '../deploy/host-diff.js';
import type { HostPushView } from '../deploy/types.js';
import { hostPushes } from './deployments.js';

export async function saveHostDiff(q: Queryable, hostPushId: number, d: HostDiff): Promise<void> {
  await q.run('INSERT INTO host_push_diffs (host_push_id, diff) VALUES (?, ?) ON CONFLICT (host_push_id) DO UPDATE SET diff = excluded.diff', [hostPushId, JSON.stringify(d)]);
}

/** The diffs of a deployment's hosts, by "unit ip". */
export async function hostDiffs(q: Queryable, deploymentId: number): Promise<Map<string, HostDiff>> {
  const rows = await q.all<{ unit: string; ip: string; diff: string }>(
    'SELECT p.unit, p.ip, d.diff FROM host_push_diffs d JOIN host_pushes p ON p.id = d.host_push_id WHERE p.deployment_id = ?', [deploymentId]);
  return new Map(rows.map((r) => [`${r.unit} ${r.ip}`, JSON.parse(r.diff) as HostDiff]));
}

/** A deployment's host rows, each dry-run host with its content diff (`diff`). */
export async function hostPushesWithDiffs(q: Queryable, deploymentId: number): Promise<Array<HostPushView & { diff?: HostDiff }>> {
  const [rows, diffs] = await Promise.all([hostPushes(q, deploymentId), hostDiffs(q, deploymentId)]);
  return rows.map((r) => {
    const d = diffs.get(`${r.unit} ${r.ip}`);
    return d ? { ...r, diff: d } : r;
  });
}

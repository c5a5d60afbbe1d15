// Dashboard reads about what needs attention: units held or stopped short, and a host's recent pushes.
// or a rollout stopped after too many failed hosts (the rest skipped). For the dashboard's overview.
import type { Queryable } from './connection.js';
import { dryFlag, realRun, wholeUnit } from './request-json.js';

export interface HeldUnit { unit: string; deploymentId: number; commit: string | null; kind: 'held' | 'rollout_stopped'; reason: string | null }

export async function heldUnits(q: Queryable): Promise<HeldUnit[]> {
  const rows = await q.all<{ unit: string; deployment_id: number; commit_sha: string | null; status: string; reason: string | null; stopped: string | null }>(
    `SELECT du.unit, du.deployment_id, du.commit_sha, du.status, du.reason,
            (SELECT hp.reason FROM host_pushes hp WHERE hp.deployment_id = du.deployment_id AND hp.unit = du.unit
               AND hp.status = 'skipped' AND hp.reason LIKE 'not attempted: rollout stopped%' LIMIT 1) AS stopped
     FROM deployment_units du
     JOIN (SELECT du2.unit, MAX(du2.deployment_id) AS id FROM deployment_units du2 JOIN deployments d ON d.id = du2.deployment_id
           WHERE ${realRun(q.dialect, 'd')} AND ${wholeUnit(q.dialect, 'd')}
           GROUP BY du2.unit) last ON last.unit = du.unit AND last.id = du.deployment_id
     ORDER BY du.unit`);
  return rows.filter((r) => r.status === 'held' || r.stopped).map((r) => ({
    unit: r.unit, deploymentId: r.deployment_id, commit: r.commit_sha,
    kind: r.status === 'held' ? 'held' : 'rollout_stopped', reason: r.status === 'held' ? r.reason : r.stopped,
  }));
}

export interface HostPushOfHost { deploymentId: number; unit: string; status: string; reason: string | null; filesChanged: number | null; startedAt: string | null; finishedAt: string | null; dryRun: boolean; commit: string | null }

/** A host's latest pushes (any unit), newest first: the host page's history. */
export async function pushesOfHost(q: Queryable, ip: string, limit: number): Promise<HostPushOfHost[]> {
  const rows = await q.all<{ deployment_id: number; unit: string; status: string; reason: string | null; files_changed: number | null; started_at: string | null; finished_at: string | null; dry: number | null; after_sha: string | null }>(
    `SELECT hp.deployment_id, hp.unit, hp.status, hp.reason, hp.files_changed, hp.started_at, hp.finished_at,
            ${dryFlag(q.dialect, 'd')} AS dry, d.after_sha
     FROM host_pushes hp JOIN deployments d ON d.id = hp.deployment_id WHERE hp.ip = ? ORDER BY hp.id DESC LIMIT ?`, [ip, limit]);
  return rows.map((r) => ({ deploymentId: r.deployment_id, unit: r.unit, status: r.status, reason: r.reason, filesChanged: r.files_changed, startedAt: r.started_at, finishedAt: r.finished_at, dryRun: r.dry === 1, commit: r.after_sha }));
}

// Deployment records: deployments, their units and one row per host push; unit state and per-host commits.
import type { Db, Queryable } from './connection.js';
import { pageNewestFirst } from './paged.js';
import type { DeployRequest, DeploymentStatus, DeploymentView, HostPushStatus, HostPushView, UnitStatus, UnitView } from '../deploy/types.js';

interface DeploymentRow {
  id: number; trigger: string; actor: string | null; branch: string; before_sha: string | null; after_sha: string | null;
  request: string; units: string; status: string; error: string | null; created_at: string; started_at: string | null; finished_at: string | null;
}

function toView(r: DeploymentRow): DeploymentView {
  return {
    id: r.id, trigger: r.trigger as DeploymentView['trigger'], actor: r.actor, branch: r.branch, before: r.before_sha, after: r.after_sha,
    request: JSON.parse(r.request) as DeployRequest, units: JSON.parse(r.units) as string[], status: r.status as DeploymentStatus,
    error: r.error, createdAt: r.created_at, startedAt: r.started_at, finishedAt: r.finished_at,
  };
}

export async function insertDeployment(q: Queryable, d: { trigger: string; actor?: string | null; branch: string; before?: string | null; after?: string | null; request: DeployRequest }, now: string): Promise<number> {
  return q.insert(
    'INSERT INTO deployments (trigger, actor, branch, before_sha, after_sha, request, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [d.trigger, d.actor ?? null, d.branch, d.before ?? null, d.after ?? null, JSON.stringify(d.request), 'queued', now],
  );
}

export async function markDeploymentRunning(q: Queryable, id: number, now: string): Promise<void> {
  await q.run("UPDATE deployments SET status = 'running', started_at = ? WHERE id = ?", [now, id]);
}

export async function setDeploymentUnits(q: Queryable, id: number, units: string[], range: { before: string | null; after: string | null }): Promise<void> {
  await q.run('UPDATE deployments SET units = ?, before_sha = COALESCE(?, before_sha), after_sha = ? WHERE id = ?', [JSON.stringify(units), range.before, range.after, id]);
}

export async function finishDeployment(q: Queryable, id: number, status: DeploymentStatus, error: string | null, now: string): Promise<void> {
  await q.run('UPDATE deployments SET status = ?, error = ?, finished_at = ? WHERE id = ?', [status, error, now, id]);
}

export async function getDeployment(q: Queryable, id: number): Promise<DeploymentView | undefined> {
  const r = await q.get<DeploymentRow>('SELECT * FROM deployments WHERE id = ?', [id]);
  return r && toView(r);
}

export interface DeploymentFilter { status?: string; unit?: string; trigger?: string; limit: number; offset: number }

export async function listDeployments(q: Queryable, f: DeploymentFilter): Promise<{ items: DeploymentView[]; total: number }> {
  const { rows, total } = await pageNewestFirst<DeploymentRow>(q, 'deployments', [
    f.status ? ['status = ?', f.status] : undefined,
    f.trigger ? ['trigger = ?', f.trigger] : undefined,
    f.unit ? ['EXISTS (SELECT 1 FROM deployment_units u WHERE u.deployment_id = deployments.id AND u.unit = ?)', f.unit] : undefined,
  ], f.limit, f.offset);
  return { items: rows.map(toView), total };
}

export async function deploymentsWithStatus(q: Queryable, statuses: DeploymentStatus[]): Promise<DeploymentView[]> {
  const rows = await q.all<DeploymentRow>(`SELECT * FROM deployments WHERE status IN (${statuses.map(() => '?').join(',')}) ORDER BY id`, statuses);
  return rows.map(toView);
}

/** The deployment that re-ran an interrupted one, if any. */
export async function resumedBy(q: Queryable, id: number): Promise<number | null> {
  return (await q.get<{ resumed_by: number | null }>('SELECT resumed_by FROM deployments WHERE id = ?', [id]))?.resumed_by ?? null;
}

export async function setResumedBy(q: Queryable, id: number, by: number): Promise<void> {
  await q.run('UPDATE deployments SET resumed_by = ? WHERE id = ?', [by, id]);
}

export async function upsertDeploymentUnit(q: Queryable, id: number, u: { unit: string; commit: string | null; status: UnitStatus; reason?: string | null; hostCount?: number }, now: string): Promise<void> {
  await q.run(
    `INSERT INTO deployment_units (deployment_id, unit, commit_sha, status, reason, host_count, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (deployment_id, unit) DO UPDATE SET commit_sha = excluded.commit_sha, status = excluded.status, reason = excluded.reason,
       host_count = excluded.host_count, finished_at = CASE WHEN excluded.status IN ('pending','running') THEN NULL ELSE ? END`,
    [id, u.unit, u.commit, u.status, u.reason ?? null, u.hostCount ?? 0, now, now],
  );
}

/** One pending row per host, in one transaction; returns the row ids in order. */
export async function insertHostPushes(db: Db, deploymentId: number, unit: string, hosts: Array<{ ip: string; hostname?: string | null }>): Promise<number[]> {
  return db.tx(async (q) => {
    const ids: number[] = [];
    for (const h of hosts) {
      ids.push(await q.insert("INSERT INTO host_pushes (deployment_id, unit, ip, hostname, status) VALUES (?, ?, ?, ?, 'pending')", [deploymentId, unit, h.ip, h.hostname ?? null]));
    }
    return ids;
  });
}

export async function startHostPush(q: Queryable, id: number, now: string): Promise<void> {
  await q.run("UPDATE host_pushes SET status = 'running', started_at = ? WHERE id = ?", [now, id]);
}

export interface HostPushResult { status: HostPushStatus; exitCode: number | null; reason: string | null; changes: string[]; stderrTail: string | null; attempts: number; durationMs: number }

export async function finishHostPush(q: Queryable, id: number, r: HostPushResult, now: string): Promise<void> {
  await q.run(
    'UPDATE host_pushes SET status = ?, exit_code = ?, reason = ?, files_changed = ?, changes = ?, stderr_tail = ?, attempts = ?, duration_ms = ?, finished_at = ? WHERE id = ?',
    [r.status, r.exitCode, r.reason, r.changes.length, JSON.stringify(r.changes.slice(0, 200)), r.stderrTail, r.attempts, r.durationMs, now, id],
  );
}

/** Host pushes left running by a crash are closed as aborted; their rows stay. */
export async function abortOpenHostPushes(q: Queryable, deploymentId: number, now: string): Promise<void> {
  await q.run("UPDATE host_pushes SET status = 'aborted', reason = COALESCE(reason, 'server stopped during the push'), finished_at = ? WHERE deployment_id = ? AND status IN ('pending','running')", [now, deploymentId]);
  await q.run("UPDATE deployment_units SET status = 'failed', reason = COALESCE(reason, 'server stopped during the deployment'), finished_at = ? WHERE deployment_id = ? AND status IN ('pending','running')", [now, deploymentId]);
}

export async function unitResults(q: Queryable, id: number): Promise<UnitView[]> {
  const rows = await q.all<{ unit: string; commit_sha: string | null; status: string; reason: string | null; host_count: number; started_at: string | null; finished_at: string | null }>(
    'SELECT * FROM deployment_units WHERE deployment_id = ? ORDER BY unit', [id]);
  return rows.map((r) => ({ unit: r.unit, commit: r.commit_sha, status: r.status as UnitStatus, reason: r.reason, hostCount: r.host_count, startedAt: r.started_at, finishedAt: r.finished_at }));
}

export async function hostPushes(q: Queryable, id: number): Promise<HostPushView[]> {
  const rows = await q.all<{ unit: string; ip: string; hostname: string | null; status: string; exit_code: number | null; reason: string | null; files_changed: number | null; changes: string | null; stderr_tail: string | null; attempts: number; duration_ms: number | null; started_at: string | null; finished_at: string | null; render_hash?: string | null }>(
    'SELECT * FROM host_pushes WHERE deployment_id = ? ORDER BY unit, ip, id', [id]);
  return rows.map((r) => ({
    unit: r.unit, ip: r.ip, hostname: r.hostname, status: r.status as HostPushStatus, exitCode: r.exit_code, reason: r.reason,
    filesChanged: r.files_changed, changes: r.changes ? (JSON.parse(r.changes) as string[]) : [], stderrTail: r.stderr_tail,
    attempts: r.attempts, durationMs: r.duration_ms, startedAt: r.started_at, finishedAt: r.finished_at,
    ...(r.render_hash ? { renderHash: r.render_hash } : {}),
  }));
}

// --- unit state: what is deployed where -------------------------------------------------------

export async function getUnitState(q: Queryable, unit: string): Promise<{ lastCommit: string; lastDeployedAt: string } | undefined> {
  const r = await q.get<{ last_commit: string; last_deployed_at: string }>('SELECT * FROM unit_state WHERE unit = ?', [unit]);
  return r && { lastCommit: r.last_commit, lastDeployedAt: r.last_deployed_at };
}

export async function setUnitState(q: Queryable, unit: string, commit: string, deploymentId: number, now: string): Promise<void> {
  await q.run(`INSERT INTO unit_state (unit, last_commit, last_deployed_at, deployment_id) VALUES (?, ?, ?, ?)
    ON CONFLICT (unit) DO UPDATE SET last_commit = excluded.last_commit, last_deployed_at = excluded.last_deployed_at, deployment_id = excluded.deployment_id`, [unit, commit, now, deploymentId]);
}

export async function listUnitStates(q: Queryable): Promise<Array<{ unit: string; lastCommit: string; lastDeployedAt: string; deploymentId: number | null }>> {
  const rows = await q.all<{ unit: string; last_commit: string; last_deployed_at: string; deployment_id: number | null }>('SELECT * FROM unit_state ORDER BY unit');
  return rows.map((r) => ({ unit: r.unit, lastCommit: r.last_commit, lastDeployedAt: r.last_deployed_at, deploymentId: r.deployment_id }));
}

export async function hostCommits(q: Queryable, unit: string): Promise<Map<string, string>> {
  const rows = await q.all<{ ip: string; commit_sha: string }>('SELECT ip, commit_sha FROM unit_hosts WHERE unit = ?', [unit]);
  return new Map(rows.map((r) => [r.ip, r.commit_sha]));
}

export async function setHostCommit(q: Queryable, unit: string, ip: string, commit: string, deploymentId: number, now: string): Promise<void> {
  await q.run(`INSERT INTO unit_hosts (unit, ip, commit_sha, deployed_at, deployment_id) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (unit, ip) DO UPDATE SET commit_sha = excluded.commit_sha, deployed_at = excluded.deployed_at, deployment_id = excluded.deployment_id`, [unit, ip, commit, now, deploymentId]);
}

export async function unitHosts(q: Queryable, unit: string): Promise<Array<{ ip: string; commit: string; deployedAt: string; deploymentId: number | null }>> {
  const rows = await q.all<{ ip: string; commit_sha: string; deployed_at: string; deployment_id: number | null }>('SELECT * FROM unit_hosts WHERE unit = ? ORDER BY ip', [unit]);
  return rows.map((r) => ({ ip: r.ip, commit: r.commit_sha, deployedAt: r.deployed_at, deploymentId: r.deployment_id }));
}

// --- branch state and webhook dedupe --------------------------------------------------------

export async function getLastSeen(q: Queryable, branch: string): Promise<string | undefined> {
  return (await q.get<{ last_seen: string }>('SELECT last_seen FROM repo_state WHERE branch = ?', [branch]))?.last_seen;
}

export async function setLastSeen(q: Queryable, branch: string, sha: string, now: string): Promise<void> {
  await q.run(`INSERT INTO repo_state (branch, last_seen, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (branch) DO UPDATE SET last_seen = excluded.last_seen, updated_at = excluded.updated_at`, [branch, sha, now]);
}

/** A delivery key already claimed, and the deployment it led to (a read: the claim below decides). */
export async function findDelivery(q: Queryable, key: string): Promise<{ deploymentId: number | null } | undefined> {
  const r = await q.get<{ deployment_id: number | null }>('SELECT deployment_id FROM webhook_deliveries WHERE key = ?', [key]);
  return r && { deploymentId: r.deployment_id };
}

/**
 * Claim a delivery key: one statement decides (the key is the primary key), so of any number of concurrent copies
 * exactly one claims it. Returns null when claimed, else the deployment the earlier claim led to (or null).
 */
export async function claimDelivery(q: Queryable, key: string, source: string, now: string): Promise<{ deploymentId: number | null } | null> {
  const r = await q.run('INSERT INTO webhook_deliveries (key, source, deployment_id, received_at) VALUES (?, ?, NULL, ?) ON CONFLICT (key) DO NOTHING', [key, source, now]);
  if (r.changes === 1) return null;
  const prior = await q.get<{ deployment_id: number | null }>('SELECT deployment_id FROM webhook_deliveries WHERE key = ?', [key]);
  return { deploymentId: prior?.deployment_id ?? null };
}

export async function linkDelivery(q: Queryable, key: string, deploymentId: number): Promise<void> {
  await q.run('UPDATE webhook_deliveries SET deployment_id = ? WHERE key = ?', [deploymentId, key]);
}

// --- coalescing: what a new request may join (read inside the submitting transaction) ----------

/** The push deployment of the branch still waiting to start (at most one exists). */
export async function waitingPush(q: Queryable, branch: string): Promise<number | undefined> {
  const kind = q.dialect === 'postgres' ? "request::json->>'kind'" : "json_extract(request, '$.kind')";
  return (await q.get<{ id: number }>(
    `SELECT id FROM deployments WHERE status = 'queued' AND lease_attempt = 0 AND branch = ? AND ${kind} = 'push' ORDER BY id DESC LIMIT 1`, [branch]))?.id;
}

/** A deployment with exactly this request still waiting to start. */
export async function waitingSame(q: Queryable, request: DeployRequest): Promise<number | undefined> {
  return (await q.get<{ id: number }>("SELECT id FROM deployments WHERE status = 'queued' AND lease_attempt = 0 AND request = ? ORDER BY id DESC LIMIT 1", [JSON.stringify(request)]))?.id;
}

// --- records nobody works on any more (reaper.ts) ---------------------------------------------

/** Does the deployment have a row still open (itself, a unit or a host push not final)? */
export async function hasOpenRecords(q: Queryable, id: number): Promise<boolean> {
  const r = await q.get<{ open: number }>(
    `SELECT (SELECT COUNT(*) FROM deployments WHERE id = ? AND status IN ('queued','running'))
          + (SELECT COUNT(*) FROM deployment_units WHERE deployment_id = ? AND status IN ('pending','running'))
          + (SELECT COUNT(*) FROM host_pushes WHERE deployment_id = ? AND status IN ('pending','running')) AS open`, [id, id, id]);
  return (r?.open ?? 0) > 0;
}

/**
 * Close what a finished deployment left open (its end could not be written): host pushes aborted, units failed,
 * the deployment interrupted; rows already final keep their result. True when the deployment itself was open.
 */
export async function closeOrphan(q: Queryable, id: number, reason: string, now: string): Promise<boolean> {
  await q.run("UPDATE host_pushes SET status = 'aborted', reason = COALESCE(reason, ?), finished_at = ? WHERE deployment_id = ? AND status IN ('pending','running')", [reason, now, id]);
  await q.run("UPDATE deployment_units SET status = 'failed', reason = COALESCE(reason, ?), finished_at = ? WHERE deployment_id = ? AND status IN ('pending','running')", [reason, now, id]);
  const r = await q.run("UPDATE deployments SET status = 'interrupted', error = ?, finished_at = ? WHERE id = ? AND status IN ('queued','running')", [reason, now, id]);
  return r.changes > 0;
}

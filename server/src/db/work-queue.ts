// The work queue of a cluster (README "Scale-out"): deployments and host pushes are claimed straight from their
// rows, with a lease (owner + expiry from the DATABASE clock, so clock skew between boxes does not matter).
// Every write here runs in a write transaction: on PostgreSQL that takes the database-wide write lock (db/postgres.ts),
// on SQLite BEGIN IMMEDIATE, so a claim's count and its update see no other writer (per-DC caps are exact).
import type { Db, Queryable } from './connection.js';
import type { HostPushResult } from './deployments.js';

/** The database's clock as ISO text (same shape as every other time column), `plus` seconds ahead. */
export function dbTime(q: Pick<Queryable, 'dialect'>, plusSeconds = 0): string {
  const n = Math.trunc(plusSeconds);
  if (q.dialect === 'sqlite') return `strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '${n >= 0 ? '+' : ''}${n} seconds')`;
  return `to_char((clock_timestamp() + interval '${n} seconds') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

const kindOf = (q: Queryable, col = 'request') => (q.dialect === 'postgres' ? `${col}::json->>'kind'` : `json_extract(${col}, '$.kind')`);

export interface ClaimedDeployment { id: number; attempt: number }

/** How long a queued host push waits for the live worker that pushed the host last (warm connection) before any worker of its DC may take it. */
export const AFFINITY_GRACE_SECONDS = 2;

/**
 * Claim the oldest deployment that may start: a sync at once; a push only when it is its branch's oldest waiting
 * push and no push of the branch runs (pushes diff from where the previous one ended). Status → running.
 */
export async function claimDeployment(db: Db, owner: string, leaseSeconds: number): Promise<ClaimedDeployment | undefined> {
  return db.tx(async (q) => {
    const kind = kindOf(q, 'd.request');
    const other = kindOf(q, 'p.request');
    // A sync naming units another deployment runs stays queued (so identical syncs still join it, as on one process).
    const named = { postgres: "SELECT jsonb_array_elements_text(d.request::jsonb->'units')", sqlite: "SELECT value FROM json_each(d.request, '$.units')" }[q.dialect];
    const row = await q.get<{ id: number }>(
      `SELECT d.id FROM deployments d WHERE d.status = 'queued' AND (${kind} <> 'push' OR (
         NOT EXISTS (SELECT 1 FROM deployments p WHERE p.branch = d.branch AND ${other} = 'push' AND (p.status = 'running' OR (p.status = 'queued' AND p.id < d.id)))))
         AND NOT EXISTS (SELECT 1 FROM unit_runs ur WHERE ur.unit IN (${named}))
       ORDER BY d.id LIMIT 1`);
    if (!row) return undefined;
    const now = dbTime(q);
    const got = await q.all<{ id: number; lease_attempt: number }>(
      `UPDATE deployments SET status = 'running', started_at = COALESCE(started_at, ${now}), lease_owner = ?, lease_until = ${dbTime(q, leaseSeconds)},
         lease_attempt = lease_attempt + 1 WHERE id = ? AND status = 'queued' RETURNING id, lease_attempt`, [owner, row.id]);
    return got[0] && { id: Number(got[0].id), attempt: got[0].lease_attempt };
  });
}

export interface ClaimedHostPush { id: number; deploymentId: number; unit: string; ip: string; hostname: string | null; port: number | null; user: string | null; attempt: number; dc: string | null }

export interface HostClaimLimits {
  /** This worker's data centre: it takes hosts of it and hosts with none (null: any host). */
  dc: string | null;
  /** How many this worker may start now (its own cap minus what it runs). */
  free: number;
  /** Running host pushes allowed per data centre (hosts without one count as the DC ''). */
  dcCap: number;
  /** Prefer these hosts (the worker holds their warm connections). */
  prefer?: ReadonlySet<string>;
  /** How long a queued row waits for the live worker that last pushed its host (default AFFINITY_GRACE_SECONDS; 0: no wait). */
  affinitySeconds?: number;
}

/**
 * Claim up to `free` queued host pushes: never two of the same unit and host at once (a converge and a push of the
 * host run in claim order), never more running in a data centre than dcCap. Status → running, attempt + 1.
 */
export async function claimHostPushes(db: Db, owner: string, leaseSeconds: number, lim: HostClaimLimits): Promise<ClaimedHostPush[]> {
  if (lim.free <= 0) return [];
  return db.tx(async (q) => {
    const running = new Map((await q.all<{ dc: string; n: number }>(
      "SELECT COALESCE(dc, '') AS dc, COUNT(*) AS n FROM host_pushes WHERE status = 'running' GROUP BY COALESCE(dc, '')")).map((r) => [r.dc, Number(r.n)]));
    const dcFilter = lim.dc === null ? '' : 'AND (hp.dc = ? OR hp.dc IS NULL)';
    // Full DCs are left out of the window, else many queued rows of one full DC would hide every other DC's.
    const full = [...running].filter(([, n]) => n >= lim.dcCap).map(([dc]) => dc);
    const fullFilter = full.length ? `AND COALESCE(hp.dc, '') NOT IN (${full.map(() => '?').join(',')})` : '';
    // last_owner: the worker that last pushed this unit to the host; while it is alive it has the host's warm SSH
    // connection, so for a short grace after queueing the row is left to it.
    const candidates = await q.all<{ id: number; unit: string; ip: string; dc: string | null; last_owner: string | null; fresh: number }>(
      `SELECT hp.id, hp.unit, hp.ip, hp.dc,
          (SELECT p.lease_owner FROM host_pushes p WHERE p.unit = hp.unit AND p.ip = hp.ip AND p.id < hp.id AND p.status = 'succeeded' ORDER BY p.id DESC LIMIT 1) AS last_owner,
          CASE WHEN hp.queued_at > ${dbTime(q, -(lim.affinitySeconds ?? AFFINITY_GRACE_SECONDS))} THEN 1 ELSE 0 END AS fresh
        FROM host_pushes hp
        WHERE hp.status = 'pending' AND hp.queued_at IS NOT NULL ${dcFilter} ${fullFilter}
          AND NOT EXISTS (SELECT 1 FROM host_pushes r WHERE r.unit = hp.unit AND r.ip = hp.ip AND r.status = 'running')
        ORDER BY hp.id LIMIT ?`, [...(lim.dc === null ? [] : [lim.dc]), ...full, Math.max(lim.free * 4, 64)]);
    if (!candidates.length) return [];
    const alive = new Set((await liveNodes(q, leaseSeconds)).map((n) => n.id));
    const ordered = lim.prefer?.size ? [...candidates.filter((c) => lim.prefer!.has(c.ip)), ...candidates.filter((c) => !lim.prefer!.has(c.ip))] : candidates;
    const taken: number[] = [];
    const busy = new Set<string>();
    for (const c of ordered) {
      if (taken.length >= lim.free) break;
      const dc = c.dc ?? '';
      const key = `${c.unit}\u0000${c.ip}`;
      if ((running.get(dc) ?? 0) >= lim.dcCap || busy.has(key)) continue;
      if (c.fresh && c.last_owner && c.last_owner !== owner && alive.has(c.last_owner)) continue; // its warm worker's turn
      running.set(dc, (running.get(dc) ?? 0) + 1);
      busy.add(key);
      taken.push(Number(c.id));
    }
    if (!taken.length) return [];
    const rows = await q.all<{ id: number; deployment_id: number; unit: string; ip: string; hostname: string | null; port: number | null; ssh_user: string | null; attempt: number; dc: string | null }>(
      `UPDATE host_pushes SET status = 'running', lease_owner = ?, lease_until = ${dbTime(q, leaseSeconds)}, attempt = attempt + 1, started_at = ${dbTime(q)}
        WHERE id IN (${taken.map(() => '?').join(',')}) AND status = 'pending' RETURNING id, deployment_id, unit, ip, hostname, port, ssh_user, attempt, dc`, [owner, ...taken]);
    return rows.map((r) => ({ id: Number(r.id), deploymentId: Number(r.deployment_id), unit: r.unit, ip: r.ip, hostname: r.hostname, port: r.port, user: r.ssh_user, attempt: r.attempt, dc: r.dc }))
      .sort((a, b) => a.id - b.id);
  });
}

/**
 * Record a claimed host push's result (and the host's commit) only if the lease is still this attempt's: false
 * when it was reaped and perhaps claimed again, so a late worker never records twice.
 */
export async function finishHostPushFenced(db: Db, row: { id: number; owner: string; attempt: number }, r: HostPushResult & { failureKind?: string },
  commit: { unit: string; ip: string; commit: string; deploymentId: number } | null, now: string): Promise<boolean> {
  return db.tx(async (q) => {
    const res = await q.run(
      `UPDATE host_pushes SET status = ?, exit_code = ?, reason = ?, files_changed = ?, changes = ?, stderr_tail = ?, attempts = ?, duration_ms = ?,
         finished_at = ?, failure_kind = ? WHERE id = ? AND lease_owner = ? AND attempt = ? AND status = 'running'`,
      [r.status, r.exitCode, r.reason, r.changes.length, JSON.stringify(r.changes.slice(0, 200)), r.stderrTail, r.attempts, r.durationMs, now, r.failureKind ?? null,
        row.id, row.owner, row.attempt]);
    if (res.changes !== 1) return false;
    if (commit) {
      await q.run(`INSERT INTO unit_hosts (unit, ip, commit_sha, deployed_at, deployment_id) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (unit, ip) DO UPDATE SET commit_sha = excluded.commit_sha, deployed_at = excluded.deployed_at, deployment_id = excluded.deployment_id`,
      [commit.unit, commit.ip, commit.commit, now, commit.deploymentId]);
    }
    return true;
  });
}

/** Give a claimed host push back to the queue unrecorded (this worker stops before it could finish it): attempt kept. */
export async function releaseHostPush(db: Db, row: { id: number; owner: string; attempt: number }): Promise<boolean> {
  const r = await db.run("UPDATE host_pushes SET status = 'pending', lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ? AND attempt = ? AND status = 'running'",
    [row.id, row.owner, row.attempt]);
  return r.changes === 1;
}

/** The coordinator's side: host rows of a unit in a deployment (existing ones are reused when a run resumes). */
export async function ensureHostPushes(db: Db, deploymentId: number, unit: string,
  hosts: Array<{ ip: string; hostname?: string | null; port?: number | null; user?: string | null; dc: string | null }>): Promise<Map<string, number>> {
  return db.tx(async (q) => {
    const have = new Map((await q.all<{ id: number; ip: string }>('SELECT id, ip FROM host_pushes WHERE deployment_id = ? AND unit = ?', [deploymentId, unit])).map((r) => [r.ip, Number(r.id)]));
    for (const h of hosts) {
      if (have.has(h.ip)) continue;
      have.set(h.ip, await q.insert("INSERT INTO host_pushes (deployment_id, unit, ip, hostname, status, dc, port, ssh_user) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
        [deploymentId, unit, h.ip, h.hostname ?? null, h.dc, h.port ?? null, h.user ?? null]));
    }
    return have;
  });
}

/** Let workers claim these rows (a rollout batch starts). */
export async function queueHostPushes(db: Db, ids: number[]): Promise<void> {
  if (!ids.length) return;
  await db.tx(async (q) => {
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      await q.run(`UPDATE host_pushes SET queued_at = ${dbTime(q)} WHERE id IN (${part.map(() => '?').join(',')}) AND queued_at IS NULL AND status = 'pending'`, part);
    }
  });
}

/** Host pushes of a unit in a deployment queued and not final yet (the current batch's outstanding rows). */
export async function outstandingHostPushes(q: Queryable, deploymentId: number, unit: string): Promise<number> {
  const r = await q.get<{ n: number }>(
    "SELECT COUNT(*) AS n FROM host_pushes WHERE status IN ('pending', 'running') AND deployment_id = ? AND unit = ? AND queued_at IS NOT NULL", [deploymentId, unit]);
  return Number(r?.n ?? 0);
}

export interface HostPushState { id: number; ip: string; status: string; failureKind: string | null; durationMs: number | null }

/** Run a finished host row again (a deferred unreachable host's retry at the end of the rollout). */
export async function requeueHostPush(db: Db, id: number): Promise<void> {
  await db.tx((q) => q.run(`UPDATE host_pushes SET status = 'pending', queued_at = ${dbTime(q)}, finished_at = NULL WHERE id = ? AND status = 'failed'`, [id]));
}

export async function hostPushStates(q: Queryable, ids: number[]): Promise<HostPushState[]> {
  const out: HostPushState[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const part = ids.slice(i, i + 500);
    const rows = await q.all<{ id: number; ip: string; status: string; failure_kind: string | null; duration_ms: number | null }>(
      `SELECT id, ip, status, failure_kind, duration_ms FROM host_pushes WHERE id IN (${part.map(() => '?').join(',')})`, part);
    out.push(...rows.map((r) => ({ id: Number(r.id), ip: r.ip, status: r.status, failureKind: r.failure_kind, durationMs: r.duration_ms })));
  }
  return out;
}

/** A pending host row closed by the coordinator (rollout stopped before it); only while nobody claimed it. */
export async function skipHostPush(db: Db, id: number, reason: string, now: string): Promise<void> {
  await db.run("UPDATE host_pushes SET status = 'skipped', reason = ?, attempts = 0, duration_ms = 0, finished_at = ? WHERE id = ? AND status = 'pending'", [reason, now, id]);
}

/** Take the unit for a deployment (a primary key: one run of a unit at a time across processes); false: held by another (or expired-but-not-reaped by itself). Deployment 0 = a drift check. */
export async function acquireUnitRun(db: Db, unit: string, deploymentId: number, owner: string, leaseSeconds: number): Promise<boolean> {
  return db.tx(async (q) => {
    const r = await q.run(
      `INSERT INTO unit_runs (unit, deployment_id, owner, lease_until) VALUES (?, ?, ?, ${dbTime(q, leaseSeconds)})
       ON CONFLICT (unit) DO UPDATE SET deployment_id = excluded.deployment_id, owner = excluded.owner, lease_until = excluded.lease_until
       WHERE unit_runs.lease_until < ${dbTime(q)} OR (unit_runs.deployment_id = excluded.deployment_id AND unit_runs.owner = excluded.owner)`, [unit, deploymentId, owner]);
    return r.changes === 1;
  });
}

export async function releaseUnitRun(db: Db, unit: string, deploymentId: number, owner: string): Promise<void> {
  await db.run('DELETE FROM unit_runs WHERE unit = ? AND deployment_id = ? AND owner = ?', [unit, deploymentId, owner]);
}

/** Does `owner` still hold the deployment? Used inside a transaction before a write only the owner may make. */
export async function holdsDeployment(q: Queryable, id: number, owner: string, attempt?: number): Promise<boolean> {
  // The attempt tells apart two claims of one process (its lease reaped during a database outage, then claimed again).
  const byAttempt = attempt === undefined ? '' : ' AND lease_attempt = ?';
  return !!(await q.get(`SELECT 1 AS x FROM deployments WHERE id = ? AND lease_owner = ? AND status = 'running'${byAttempt}`, [id, owner, ...(attempt === undefined ? [] : [attempt])]));
}

/** The deployment's end, written only by its lease holder. */
export async function finishDeploymentFenced(db: Db, id: number, owner: string, status: string, error: string | null, now: string, attempt?: number): Promise<boolean> {
  const byAttempt = attempt === undefined ? '' : ' AND lease_attempt = ?';
  const r = await db.run(`UPDATE deployments SET status = ?, error = ?, finished_at = ?, lease_until = NULL WHERE id = ? AND lease_owner = ? AND status = 'running'${byAttempt}`,
    [status, error, now, id, owner, ...(attempt === undefined ? [] : [attempt])]);
  return r.changes === 1;
}

export interface Heartbeat { deployments: Set<number>; hosts: Set<number> }

/** Extend every lease `owner` holds and say which it still holds (a missing one was reaped: its work must stop). */
export async function heartbeat(db: Db, node: { id: string; role: string; dc: string | null }, leaseSeconds: number): Promise<Heartbeat> {
  return db.tx(async (q) => {
    const until = dbTime(q, leaseSeconds);
    const d = await q.all<{ id: number }>(`UPDATE deployments SET lease_until = ${until} WHERE lease_owner = ? AND status = 'running' RETURNING id`, [node.id]);
    const h = await q.all<{ id: number }>(`UPDATE host_pushes SET lease_until = ${until} WHERE lease_owner = ? AND status = 'running' RETURNING id`, [node.id]);
    await q.run(`UPDATE unit_runs SET lease_until = ${until} WHERE owner = ?`, [node.id]);
    await q.run(`INSERT INTO cluster_nodes (id, role, dc, started_at, seen_at) VALUES (?, ?, ?, ${dbTime(q)}, ${dbTime(q)})
      ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, [node.id, node.role, node.dc]);
    return { deployments: new Set(d.map((r) => Number(r.id))), hosts: new Set(h.map((r) => Number(r.id))) };
  });
}

/** A stopping process gives back what it coordinates: its deployments queued again, its units free (no lease expiry to wait for). */
export async function handBack(db: Db, owner: string): Promise<void> {
  await db.tx(async (q) => {
    await q.run("UPDATE deployments SET status = 'queued', lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? AND status = 'running'", [owner]);
    await q.run('DELETE FROM unit_runs WHERE owner = ?', [owner]);
  });
}

export interface Reaped { hosts: Array<{ id: number; dc: string | null }>; deployments: number[]; unitRuns: number }

/**
 * Return expired work to the queue: a host push whose worker stopped heartbeating goes back to pending (its attempt
 * kept, so the late worker is fenced out; the next claim runs it as attempt + 1, with the hooks it may owe); a
 * deployment whose coordinator died goes back to queued (the next claim resumes it from its rows).
 */
export async function reapExpired(db: Db): Promise<Reaped> {
  return db.tx(async (q) => {
    const now = dbTime(q);
    const hosts = await q.all<{ id: number; dc: string | null }>(
      `UPDATE host_pushes SET status = 'pending', lease_owner = NULL, lease_until = NULL
        WHERE status = 'running' AND lease_until IS NOT NULL AND lease_until < ${now} RETURNING id, dc`);
    const deps = await q.all<{ id: number }>(
      `UPDATE deployments SET status = 'queued', lease_owner = NULL, lease_until = NULL
        WHERE status = 'running' AND lease_until IS NOT NULL AND lease_until < ${now} RETURNING id`);
    const units = await q.run(`DELETE FROM unit_runs WHERE lease_until < ${now}`);
    await q.run(`DELETE FROM cluster_nodes WHERE seen_at < ${dbTime(q, -86400)}`);
    return { hosts: hosts.map((r) => ({ id: Number(r.id), dc: r.dc })), deployments: deps.map((r) => Number(r.id)), unitRuns: units.changes };
  });
}

/** Claimable host pushes per data centre ('' = none): the queue depth metric. */
export async function queueDepth(q: Queryable): Promise<Map<string, number>> {
  const rows = await q.all<{ dc: string; n: number }>(
    "SELECT COALESCE(dc, '') AS dc, COUNT(*) AS n FROM host_pushes WHERE status = 'pending' AND queued_at IS NOT NULL GROUP BY COALESCE(dc, '')");
  return new Map(rows.map((r) => [r.dc, Number(r.n)]));
}

/** Deployments waiting or running anywhere in the cluster (previews and the poller wait while there are). */
export async function openDeployments(q: Queryable): Promise<{ queued: number; running: number; pushes: number }> {
  const kind = kindOf(q);
  const r = await q.get<{ queued: number; running: number; pushes: number }>(
    `SELECT COALESCE(SUM(CASE WHEN status = 'queued' THEN 1 ELSE 0 END), 0) AS queued, COALESCE(SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END), 0) AS running,
            COALESCE(SUM(CASE WHEN ${kind} = 'push' THEN 1 ELSE 0 END), 0) AS pushes
       FROM deployments WHERE status IN ('queued', 'running')`);
  return { queued: Number(r?.queued ?? 0), running: Number(r?.running ?? 0), pushes: Number(r?.pushes ?? 0) };
}

/** Worker nodes heard from within `seconds` (routing prefers hosts' last workers only while they are alive). */
export async function liveNodes(q: Queryable, seconds: number): Promise<Array<{ id: string; role: string; dc: string | null; seenAt: string }>> {
  const rows = await q.all<{ id: string; role: string; dc: string | null; seen_at: string }>(`SELECT * FROM cluster_nodes WHERE seen_at >= ${dbTime(q, -seconds)} ORDER BY id`);
  return rows.map((r) => ({ id: r.id, role: r.role, dc: r.dc, seenAt: r.seen_at }));
}

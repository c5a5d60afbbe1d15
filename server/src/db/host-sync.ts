// Host-sync storage: a source's hosts as reconcile needs them, applying a plan (inside the caller's transaction),
// run records, change-feed cursors and upstream sync runs. Every parameter bound.
import type { Queryable } from './connection.js';
import { pageNewestFirst } from './paged.js';
import * as hosts from './hosts.js';
import type { Candidate, LocalHost, Plan } from '../hostsync/reconcile.js';

const PAGE = 5000;

/** The hosts of one source: just what reconcile compares. */
export async function sourceHosts(q: Queryable, source: string): Promise<LocalHost[]> {
  // Keyset pages: one `all` of 100k rows costs several times the rows' own size in transient driver memory.
  // Columns are named as LocalHost, so the driver's row objects are used as they are.
  const out: LocalHost[] = [];
  for (let after = 0; ;) {
    const rows = await q.all<LocalHost>("SELECT id, COALESCE(source_uid, '#' || id) AS uid, hash, ip FROM hosts WHERE source = ? AND id > ? ORDER BY id LIMIT ?", [source, after, PAGE]);
    for (const r of rows) out.push(r);
    if (rows.length < PAGE) return out;
    after = rows[rows.length - 1]!.id;
  }
}

/** IPs held by every other writer (other sources, manual, agents) → their source name. */
export async function foreignIps(q: Queryable, source: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let after = 0; ;) {
    const rows = await q.all<{ id: number; ip: string; source: string }>('SELECT id, ip, source FROM hosts WHERE source <> ? AND id > ? ORDER BY id LIMIT ?', [source, after, PAGE]);
    for (const r of rows) out.set(r.ip, r.source);
    if (rows.length < PAGE) return out;
    after = rows[rows.length - 1]!.id;
  }
}

export async function hasSourceUid(q: Queryable, source: string, uid: string): Promise<boolean> {
  return !!(await q.get('SELECT 1 AS x FROM hosts WHERE source = ? AND source_uid = ?', [source, uid]));
}

export interface Applied {
  added: Array<{ id: number; uid: string }>;
  modified: Array<{ id: number; uid: string; previous: { env: string; apps: string[]; ip: string } }>;
  deleted: Array<{ id: number; ip: string; uid: string }>;
  errors: Array<{ uid: string; error: string }>;
}

/** Run fn under a savepoint: a failing operation is undone alone and reported, the rest of the run goes on. */
async function step(q: Queryable, fn: () => Promise<void>): Promise<string | null> {
  await q.exec('SAVEPOINT hostsync_op');
  try {
    await fn();
    await q.exec('RELEASE hostsync_op');
    return null;
  } catch (err) {
    await q.exec('ROLLBACK TO hostsync_op');
    await q.exec('RELEASE hostsync_op');
    return (err as Error).message;
  }
}

/** Apply a plan for one source inside the caller's transaction: deletes, then modifies (IP swaps via a placeholder), then adds. */
export async function applyPlan(q: Queryable, source: string, plan: Plan, now: string): Promise<Applied> {
  const out: Applied = { added: [], modified: [], deleted: [], errors: [] };
  for (const d of plan.delete) {
    const err = await step(q, async () => {
      const r = await q.run('DELETE FROM hosts WHERE id = ? AND source = ?', [d.id, source]);
      if (r.changes !== 1) throw new Error('host vanished before it could be deleted');
    });
    if (err) out.errors.push({ uid: d.uid, error: `delete failed: ${err}` }); else out.deleted.push({ id: d.id, ip: d.ip, uid: d.uid });
  }
  // Hosts whose IP changes let go of it first, so that two hosts swapping IPs do not collide.
  const moving = plan.modify.filter((m) => m.host.ip !== m.previousIp);
  for (const m of moving) await q.run('UPDATE hosts SET ip = ? WHERE id = ? AND source = ?', [`swap:${m.id}`, m.id, source]);
  for (const m of plan.modify) {
    const before = await hosts.getHost(q, m.id, false);
    const err = await step(q, async () => {
      if (!before || before.source !== source) throw new Error('host vanished before it could be modified');
      if (!(await hosts.updateHost(q, m.id, m.host, { hash: m.hash }, now))) throw new Error('host vanished before it could be modified');
    });
    if (!err) { out.modified.push({ id: m.id, uid: m.uid, previous: { env: before!.env, apps: before!.apps, ip: m.previousIp } }); continue; }
    out.errors.push({ uid: m.uid, error: `modify failed: ${err}` });
    // Put the old IP back; if even that fails the whole run is rolled back rather than leave a placeholder behind.
    if (m.host.ip !== m.previousIp) await q.run('UPDATE hosts SET ip = ? WHERE id = ? AND source = ?', [m.previousIp, m.id, source]);
  }
  for (const a of plan.add) {
    let id = 0;
    const err = await step(q, async () => { id = await hosts.insertHost(q, a.host, { source, sourceUid: a.uid, hash: a.hash }, now); });
    if (err) out.errors.push({ uid: a.uid, error: `add failed: ${err}` }); else out.added.push({ id, uid: a.uid });
  }
  return out;
}

/** The naive alternative (benchmark baseline only): delete every host of the source and insert the listing again. */
export async function replaceAll(q: Queryable, source: string, records: Candidate[], now: string): Promise<void> {
  await q.run('DELETE FROM hosts WHERE source = ?', [source]);
  for (const r of records) await hosts.insertHost(q, r.host, { source, sourceUid: r.uid, hash: r.hash }, now);
}

// ---- run records ----

export type RunStatus = 'running' | 'succeeded' | 'partial' | 'refused' | 'error' | 'interrupted';

export interface RunCounts {
  listed: number | null; skipped: number; unchanged: number;
  toAdd: number; toModify: number; toDelete: number; added: number; modified: number; deleted: number; recordErrors: number;
}

export interface RunView extends RunCounts {
  id: number; source: string; type: string; trigger: string; status: RunStatus;
  startedAt: string; finishedAt: string | null; durationMs: number | null; error: string | null;
  details?: Array<{ uid: string; error: string }>;
}

interface RunRow {
  id: number; source: string; source_type: string; trigger: string; status: RunStatus; started_at: string; finished_at: string | null;
  duration_ms: number | null; listed: number | null; skipped: number; unchanged: number; to_add: number; to_modify: number; to_delete: number;
  added: number; modified: number; deleted: number; record_errors: number; error: string | null; details: string;
}

function toRun(r: RunRow, withDetails: boolean): RunView {
  const v: RunView = {
    id: r.id, source: r.source, type: r.source_type, trigger: r.trigger, status: r.status, startedAt: r.started_at, finishedAt: r.finished_at,
    durationMs: r.duration_ms, listed: r.listed, skipped: r.skipped, unchanged: r.unchanged, toAdd: r.to_add, toModify: r.to_modify,
    toDelete: r.to_delete, added: r.added, modified: r.modified, deleted: r.deleted, recordErrors: r.record_errors, error: r.error,
  };
  if (withDetails) v.details = JSON.parse(r.details) as RunView['details'];
  return v;
}

export async function insertRun(q: Queryable, source: string, type: string, trigger: string, now: string): Promise<number> {
  return q.insert('INSERT INTO host_sync_runs (source, source_type, trigger, status, started_at) VALUES (?, ?, ?, ?, ?)', [source, type, trigger, 'running', now]);
}

export async function finishRun(q: Queryable, id: number, status: RunStatus, c: RunCounts, error: string | null, details: unknown[], now: string, durationMs: number): Promise<void> {
  await q.run(
    `UPDATE host_sync_runs SET status = ?, finished_at = ?, duration_ms = ?, listed = ?, skipped = ?, unchanged = ?, to_add = ?, to_modify = ?,
       to_delete = ?, added = ?, modified = ?, deleted = ?, record_errors = ?, error = ?, details = ? WHERE id = ?`,
    [status, now, durationMs, c.listed, c.skipped, c.unchanged, c.toAdd, c.toModify, c.toDelete, c.added, c.modified, c.deleted, c.recordErrors, error, JSON.stringify(details), id],
  );
}

export async function getRun(q: Queryable, id: number): Promise<RunView | undefined> {
  const r = await q.get<RunRow>('SELECT * FROM host_sync_runs WHERE id = ?', [id]);
  return r && toRun(r, true);
}

export async function listRuns(q: Queryable, f: { source?: string; status?: string; limit: number; offset: number }): Promise<{ items: RunView[]; total: number }> {
  const { rows, total } = await pageNewestFirst<RunRow>(q, 'host_sync_runs', [
    f.source ? ['source = ?', f.source] : undefined,
    f.status ? ['status = ?', f.status] : undefined,
  ], f.limit, f.offset);
  return { items: rows.map((r) => toRun(r, false)), total };
}

export async function lastRun(q: Queryable, source: string): Promise<RunView | undefined> {
  const r = await q.get<RunRow>('SELECT * FROM host_sync_runs WHERE source = ? ORDER BY id DESC LIMIT 1', [source]);
  return r && toRun(r, false);
}

export async function countSourceHosts(q: Queryable, source: string): Promise<number> {
  return (await q.get<{ n: number }>('SELECT count(*) AS n FROM hosts WHERE source = ?', [source]))?.n ?? 0;
}

/** Runs cut off by a stop or crash. */
export async function interruptRunningRuns(q: Queryable, now: string): Promise<number> {
  return (await q.run(`UPDATE host_sync_runs SET status = 'interrupted', finished_at = ?, error = 'server stopped during the run' WHERE status = 'running'`, [now])).changes;
}

export async function pruneRuns(q: Queryable, source: string, keep: number): Promise<void> {
  await q.run('DELETE FROM host_sync_runs WHERE source = ? AND id <= (SELECT id FROM host_sync_runs WHERE source = ? ORDER BY id DESC LIMIT 1 OFFSET ?)', [source, source, keep]);
}

// ---- change-feed cursors ----

export async function getCursor(q: Queryable, source: string, resource: string): Promise<string | null> {
  return (await q.get<{ cursor: string }>('SELECT cursor FROM host_sync_cursors WHERE source = ? AND resource = ?', [source, resource]))?.cursor ?? null;
}

export async function setCursor(q: Queryable, source: string, resource: string, cursor: string | null, now: string): Promise<void> {
  if (cursor === null) await q.run('DELETE FROM host_sync_cursors WHERE source = ? AND resource = ?', [source, resource]);
  else await q.run('INSERT INTO host_sync_cursors (source, resource, cursor, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (source, resource) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at', [source, resource, cursor, now]);
}

// ---- upstream CMDB sync runs ----

export interface UpstreamRunView {
  id: number; trigger: string; status: string; startedAt: string; finishedAt: string | null; durationMs: number | null;
  triggered: boolean | null; pushedHosts: number | null; httpStatus: string | null; error: string | null;
}

export async function insertUpstreamRun(q: Queryable, trigger: string, now: string): Promise<number> {
  return q.insert('INSERT INTO upstream_sync_runs (trigger, status, started_at) VALUES (?, ?, ?)', [trigger, 'running', now]);
}

export async function finishUpstreamRun(q: Queryable, id: number, r: { status: string; triggered: boolean | null; pushedHosts: number | null; httpStatus: string | null; error: string | null }, now: string, durationMs: number): Promise<void> {
  await q.run('UPDATE upstream_sync_runs SET status = ?, finished_at = ?, duration_ms = ?, triggered = ?, pushed_hosts = ?, http_status = ?, error = ? WHERE id = ?',
    [r.status, now, durationMs, r.triggered === null ? null : Number(r.triggered), r.pushedHosts, r.httpStatus, r.error, id]);
}

export async function listUpstreamRuns(q: Queryable, limit: number, offset: number): Promise<UpstreamRunView[]> {
  const rows = await q.all<{ id: number; trigger: string; status: string; started_at: string; finished_at: string | null; duration_ms: number | null; triggered: number | null; pushed_hosts: number | null; http_status: string | null; error: string | null }>(
    'SELECT * FROM upstream_sync_runs ORDER BY id DESC LIMIT ? OFFSET ?', [limit, offset]);
  return rows.map((r) => ({ id: r.id, trigger: r.trigger, status: r.status, startedAt: r.started_at, finishedAt: r.finished_at, durationMs: r.duration_ms,
    triggered: r.triggered === null ? null : r.triggered === 1, pushedHosts: r.pushed_hosts, httpStatus: r.http_status, error: r.error }));
}

export async function interruptUpstreamRuns(q: Queryable, now: string): Promise<void> {
  await q.run(`UPDATE upstream_sync_runs SET status = 'interrupted', finished_at = ?, error = 'server stopped during the run' WHERE status = 'running'`, [now]);
}

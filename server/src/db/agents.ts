// Host agents storage: facts and identity on inventory hosts; SSH collection runs and their per-host results.
import type { Queryable } from './connection.js';
import { pageNewestFirst } from './paged.js';

export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'no_hosts' | 'interrupted';
export type RunHostStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'error' | 'aborted';
export type RunTrigger = 'api' | 'schedule';

export interface CollectRequestRecord {
  ips?: string[];
  env?: string;
  app?: string;
  register?: { env: string; apps: string[] };
}

export interface RunView {
  id: number; trigger: RunTrigger; actor: string | null; request: CollectRequestRecord; status: RunStatus; hostCount: number;
  error: string | null; createdAt: string; startedAt: string | null; finishedAt: string | null;
  counts?: Record<RunHostStatus, number>;
  hosts?: RunHostView[];
}

export interface RunHostView {
  id: number; ip: string; hostId: number | null; status: RunHostStatus; kind: string | null; reason: string | null;
  exitCode: number | null; stderrTail: string | null; identity: string | null; matched: string | null;
  pluginErrors: string[]; durationMs: number | null; startedAt: string | null; finishedAt: string | null;
}

interface RunRow {
  id: number; trigger: string; actor: string | null; request: string; status: string; host_count: number; error: string | null;
  created_at: string; started_at: string | null; finished_at: string | null;
}
interface RunHostRow {
  id: number; run_id: number; ip: string; host_id: number | null; status: string; kind: string | null; reason: string | null;
  exit_code: number | null; stderr_tail: string | null; identity: string | null; matched: string | null; plugin_errors: string | null;
  duration_ms: number | null; started_at: string | null; finished_at: string | null;
}

const toRun = (r: RunRow): RunView => ({
  id: r.id, trigger: r.trigger as RunTrigger, actor: r.actor, request: JSON.parse(r.request) as CollectRequestRecord,
  status: r.status as RunStatus, hostCount: r.host_count, error: r.error, createdAt: r.created_at, startedAt: r.started_at, finishedAt: r.finished_at,
});
const toRunHost = (r: RunHostRow): RunHostView => ({
  id: r.id, ip: r.ip, hostId: r.host_id, status: r.status as RunHostStatus, kind: r.kind, reason: r.reason, exitCode: r.exit_code,
  stderrTail: r.stderr_tail, identity: r.identity, matched: r.matched, pluginErrors: r.plugin_errors ? (JSON.parse(r.plugin_errors) as string[]) : [],
  durationMs: r.duration_ms, startedAt: r.started_at, finishedAt: r.finished_at,
});

/** Store facts on a host (and pin its identity when given). */
export async function setHostFacts(q: Queryable, id: number, f: { facts: unknown; at: string; via: string; identity?: string | null }): Promise<void> {
  await q.run(
    'UPDATE hosts SET facts = ?, facts_at = ?, facts_via = ?, identity = COALESCE(?, identity) WHERE id = ?',
    [JSON.stringify(f.facts), f.at, f.via, f.identity ?? null, id],
  );
}

/** Forget a host's pinned identity (the next report matches it by IP and pins the new one). */
export async function clearHostIdentity(q: Queryable, id: number, now: string): Promise<boolean> {
  return (await q.run('UPDATE hosts SET identity = NULL, updated_at = ? WHERE id = ?', [now, id])).changes > 0;
}

/** A run and its pending host rows, in one transaction. */
export async function insertRun(q: Queryable, r: { trigger: RunTrigger; actor: string | null; request: CollectRequestRecord; ips: string[] }, now: string): Promise<number> {
  const status: RunStatus = r.ips.length ? 'running' : 'no_hosts';
  const runId = await q.insert(
    'INSERT INTO agent_runs (trigger, actor, request, status, host_count, created_at, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [r.trigger, r.actor, JSON.stringify(r.request), status, r.ips.length, now, now, r.ips.length ? null : now],
  );
  for (const ip of r.ips) await q.run("INSERT INTO agent_run_hosts (run_id, ip, status) VALUES (?, ?, 'pending')", [runId, ip]);
  return runId;
}

export async function runHostIds(q: Queryable, runId: number): Promise<Array<{ id: number; ip: string }>> {
  return q.all('SELECT id, ip FROM agent_run_hosts WHERE run_id = ? ORDER BY id', [runId]);
}

export async function startRunHost(q: Queryable, id: number, now: string): Promise<void> {
  await q.run("UPDATE agent_run_hosts SET status = 'running', started_at = ? WHERE id = ?", [now, id]);
}

export interface RunHostResult {
  status: RunHostStatus; kind?: string | null; reason?: string | null; exitCode?: number | null; stderrTail?: string | null;
  hostId?: number | null; identity?: string | null; matched?: string | null; pluginErrors?: string[]; durationMs: number;
}

export async function finishRunHost(q: Queryable, id: number, r: RunHostResult, now: string): Promise<void> {
  await q.run(
    `UPDATE agent_run_hosts SET status = ?, kind = ?, reason = ?, exit_code = ?, stderr_tail = ?, host_id = ?, identity = ?, matched = ?,
       plugin_errors = ?, duration_ms = ?, finished_at = ?, started_at = COALESCE(started_at, ?) WHERE id = ?`,
    [r.status, r.kind ?? null, r.reason ?? null, r.exitCode ?? null, r.stderrTail ?? null, r.hostId ?? null, r.identity ?? null, r.matched ?? null,
      JSON.stringify(r.pluginErrors ?? []), r.durationMs, now, now, id],
  );
}

export async function finishRun(q: Queryable, id: number, status: RunStatus, error: string | null, now: string): Promise<void> {
  await q.run('UPDATE agent_runs SET status = ?, error = ?, finished_at = ? WHERE id = ?', [status, error, now, id]);
}

/** Runs left open by a server that died: closed as interrupted, their unfinished hosts as aborted. */
export async function interruptOpenRuns(q: Queryable, now: string): Promise<number[]> {
  const open = await q.all<{ id: number }>("SELECT id FROM agent_runs WHERE status = 'running'");
  for (const { id } of open) {
    await q.run("UPDATE agent_run_hosts SET status = 'aborted', reason = COALESCE(reason, 'server stopped during the run'), finished_at = ? WHERE run_id = ? AND status IN ('pending', 'running')", [now, id]);
    await q.run("UPDATE agent_runs SET status = 'interrupted', finished_at = ? WHERE id = ?", [now, id]);
  }
  return open.map((r) => r.id);
}

export async function getRun(q: Queryable, id: number): Promise<RunView | undefined> {
  const r = await q.get<RunRow>('SELECT * FROM agent_runs WHERE id = ?', [id]);
  return r && toRun(r);
}

export async function runHosts(q: Queryable, runId: number): Promise<RunHostView[]> {
  return (await q.all<RunHostRow>('SELECT * FROM agent_run_hosts WHERE run_id = ? ORDER BY id', [runId])).map(toRunHost);
}

export async function runCounts(q: Queryable, runId: number): Promise<Record<RunHostStatus, number>> {
  const counts: Record<RunHostStatus, number> = { pending: 0, running: 0, succeeded: 0, failed: 0, error: 0, aborted: 0 };
  for (const r of await q.all<{ status: RunHostStatus; n: number }>('SELECT status, count(*) AS n FROM agent_run_hosts WHERE run_id = ? GROUP BY status', [runId])) counts[r.status] = r.n;
  return counts;
}

export interface RunFilter { status?: string; trigger?: string; limit: number; offset: number }

export async function listRuns(q: Queryable, f: RunFilter): Promise<{ items: RunView[]; total: number }> {
  const { rows, total } = await pageNewestFirst<RunRow>(q, 'agent_runs', [
    f.status ? ['status = ?', f.status] : undefined,
    f.trigger ? ['trigger = ?', f.trigger] : undefined,
  ], f.limit, f.offset);
  return { items: rows.map(toRun), total };
}

// Storage of the ES metrics sync: tasks, execution logs, per-host rows, and the metrics written onto inventory hosts. Every parameter bound.
import type { Param, Queryable } from './connection.js';
import { pageNewestFirst } from './paged.js';
import { isUniqueViolation } from './errors.js';
import type { EsSyncTask, HostResult, RunCounts, RunHostRow, RunRecord, RunStatus, RunTrigger, TaskInput } from '../essync/types.js';

interface TaskRow {
  id: number; name: string; description: string; es_endpoint: string | null; index_pattern: string; cron: string;
  time_range: string; enabled: number; created_by: string | null; created_at: string; updated_at: string;
}

interface RunRow {
  id: number; task_id: number; task_name: string; trigger: RunTrigger; status: RunStatus; time_range: string;
  es_endpoint: string; index_pattern: string; total_hosts: number; success_count: number; failed_count: number;
  not_in_pool_count: number; no_data_count: number; requests: number; error: string | null;
  started_at: string; finished_at: string | null; duration_ms: number | null;
}

interface RunHostDbRow {
  ip: string; hostname: string | null; status: RunHostRow['status']; error: string | null;
  cpu_max: number | null; cpu_avg: number | null; mem_max: number | null; mem_avg: number | null;
  disk_max: number | null; disk_avg: number | null; data_points: number | null; last_sample_at: string | null;
}

const toTask = (r: TaskRow): EsSyncTask => ({
  id: r.id, name: r.name, description: r.description, esEndpoint: r.es_endpoint, indexPattern: r.index_pattern,
  cron: r.cron, timeRange: r.time_range, enabled: r.enabled === 1, createdBy: r.created_by,
  createdAt: r.created_at, updatedAt: r.updated_at,
});

const toRun = (r: RunRow): RunRecord => ({
  id: r.id, taskId: r.task_id, taskName: r.task_name, trigger: r.trigger, status: r.status, timeRange: r.time_range,
  esEndpoint: r.es_endpoint, indexPattern: r.index_pattern, totalHosts: r.total_hosts, successCount: r.success_count,
  failedCount: r.failed_count, notInPoolCount: r.not_in_pool_count, noDataCount: r.no_data_count, requests: r.requests,
  error: r.error, startedAt: r.started_at, finishedAt: r.finished_at, durationMs: r.duration_ms,
});

const toRunHost = (r: RunHostDbRow): RunHostRow => ({
  ip: r.ip, hostname: r.hostname, status: r.status, error: r.error, cpuMax: r.cpu_max, cpuAvg: r.cpu_avg,
  memMax: r.mem_max, memAvg: r.mem_avg, diskMax: r.disk_max, diskAvg: r.disk_avg, dataPoints: r.data_points,
  lastSampleAt: r.last_sample_at,
});

/** True when err is the violation of the "one live task per name" index. */
export function isDuplicateTaskName(err: unknown): boolean {
  return isUniqueViolation(err, 'es_sync_tasks', 'name');
}

export async function insertTask(q: Queryable, t: TaskInput, now: string): Promise<number> {
  return q.insert(
    `INSERT INTO es_sync_tasks (name, description, es_endpoint, index_pattern, cron, time_range, enabled, created_by, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [t.name, t.description, t.esEndpoint, t.indexPattern, t.cron, t.timeRange, t.enabled ? 1 : 0, t.createdBy, now, now],
  );
}

export async function updateTask(q: Queryable, id: number, t: TaskInput, now: string): Promise<boolean> {
  const r = await q.run(
    `UPDATE es_sync_tasks SET name = ?, description = ?, es_endpoint = ?, index_pattern = ?, cron = ?, time_range = ?, enabled = ?, updated_at = ?
     WHERE id = ? AND deleted_at IS NULL`,
    [t.name, t.description, t.esEndpoint, t.indexPattern, t.cron, t.timeRange, t.enabled ? 1 : 0, now, id],
  );
  return r.changes > 0;
}

export async function setTaskEnabled(q: Queryable, id: number, enabled: boolean, now: string): Promise<boolean> {
  const r = await q.run('UPDATE es_sync_tasks SET enabled = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL', [enabled ? 1 : 0, now, id]);
  return r.changes > 0;
}

/** Soft delete: the row and its execution logs stay, the name becomes free. */
export async function deleteTask(q: Queryable, id: number, now: string): Promise<boolean> {
  const r = await q.run('UPDATE es_sync_tasks SET deleted_at = ?, enabled = 0, updated_at = ? WHERE id = ? AND deleted_at IS NULL', [now, now, id]);
  return r.changes > 0;
}

export async function getTask(q: Queryable, id: number): Promise<EsSyncTask | undefined> {
  const r = await q.get<TaskRow>('SELECT * FROM es_sync_tasks WHERE id = ? AND deleted_at IS NULL', [id]);
  return r && toTask(r);
}

export async function listTasks(q: Queryable, f: { enabled?: boolean; limit: number; offset: number }): Promise<{ items: EsSyncTask[]; total: number }> {
  const where = ['deleted_at IS NULL'];
  const params: Param[] = [];
  if (f.enabled !== undefined) { where.push('enabled = ?'); params.push(f.enabled ? 1 : 0); }
  const w = where.join(' AND ');
  const rows = await q.all<TaskRow>(`SELECT * FROM es_sync_tasks WHERE ${w} ORDER BY id LIMIT ? OFFSET ?`, [...params, f.limit, f.offset]);
  const total = (await q.get<{ n: number }>(`SELECT count(*) AS n FROM es_sync_tasks WHERE ${w}`, params))?.n ?? 0;
  return { items: rows.map(toTask), total };
}

export async function listEnabledTasks(q: Queryable): Promise<EsSyncTask[]> {
  return (await q.all<TaskRow>('SELECT * FROM es_sync_tasks WHERE enabled = 1 AND deleted_at IS NULL ORDER BY id')).map(toTask);
}

export interface NewRun {
  taskId: number; taskName: string; trigger: RunTrigger; timeRange: string; esEndpoint: string; indexPattern: string; startedAt: string;
  /** Hosts requested (a manual run's IPs), recorded at once so that a run cut off by a crash still shows them. */
  totalHosts?: number;
}

export async function insertRun(q: Queryable, r: NewRun): Promise<number> {
  return q.insert(
    `INSERT INTO es_sync_runs (task_id, task_name, trigger, status, time_range, es_endpoint, index_pattern, started_at, total_hosts)
     VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)`,
    [r.taskId, r.taskName, r.trigger, r.timeRange, r.esEndpoint, r.indexPattern, r.startedAt, r.totalHosts ?? 0],
  );
}

/** The hosts a run covers, once planned (a scheduled run learns them from the inventory). */
export async function setRunTotal(q: Queryable, id: number, totalHosts: number): Promise<void> {
  await q.run("UPDATE es_sync_runs SET total_hosts = ? WHERE id = ? AND status = 'running'", [totalHosts, id]);
}

export interface RunEnd extends RunCounts { status: Exclude<RunStatus, 'running'>; error: string | null; requests: number; finishedAt: string; durationMs: number }

export async function finishRun(q: Queryable, id: number, e: RunEnd): Promise<void> {
  await q.run(
    `UPDATE es_sync_runs SET status = ?, error = ?, requests = ?, total_hosts = ?, success_count = ?, failed_count = ?,
       not_in_pool_count = ?, no_data_count = ?, finished_at = ?, duration_ms = ? WHERE id = ?`,
    [e.status, e.error, e.requests, e.totalHosts, e.successCount, e.failedCount, e.notInPoolCount, e.noDataCount, e.finishedAt, e.durationMs, id],
  );
}

/**
 * Runs left `running` by a crash are failed, except the ones this process is executing now. Their counts come from
 * the host rows written before the crash; every requested host without a row counts as failed.
 */
export async function failInterruptedRuns(q: Queryable, activeIds: number[], now: string, reason: string): Promise<number> {
  const keep = activeIds.length ? ` AND id NOT IN (${activeIds.map(() => '?').join(', ')})` : '';
  const n = (status: string) => `(SELECT count(*) FROM es_sync_run_hosts h WHERE h.run_id = es_sync_runs.id AND h.status = '${status}')`;
  const greatest = q.dialect === 'postgres' ? 'GREATEST' : 'max'; // SQLite's scalar max(a, b)
  const r = await q.run(
    `UPDATE es_sync_runs SET status = 'failed', error = ?, finished_at = ?,
       success_count = ${n('success')}, not_in_pool_count = ${n('not_in_pool')}, no_data_count = ${n('no_data')},
       failed_count = ${greatest}(total_hosts - ${n('success')} - ${n('not_in_pool')} - ${n('no_data')}, ${n('failed')})
     WHERE status = 'running'${keep}`,
    [reason, now, ...activeIds],
  );
  return r.changes;
}

export async function getRun(q: Queryable, id: number): Promise<RunRecord | undefined> {
  const r = await q.get<RunRow>('SELECT * FROM es_sync_runs WHERE id = ?', [id]);
  return r && toRun(r);
}

export async function listRuns(q: Queryable, f: { taskId?: number; status?: RunStatus; limit: number; offset: number }): Promise<{ items: RunRecord[]; total: number }> {
  const { rows, total } = await pageNewestFirst<RunRow>(q, 'es_sync_runs', [
    f.taskId !== undefined ? ['task_id = ?', f.taskId] : undefined,
    f.status !== undefined ? ['status = ?', f.status] : undefined,
  ], f.limit, f.offset);
  return { items: rows.map(toRun), total };
}

export async function lastRun(q: Queryable, taskId: number): Promise<RunRecord | undefined> {
  const r = await q.get<RunRow>('SELECT * FROM es_sync_runs WHERE task_id = ? ORDER BY id DESC LIMIT 1', [taskId]);
  return r && toRun(r);
}

export async function listRunHosts(q: Queryable, runId: number, f: { status?: RunHostRow['status']; limit: number; offset: number }): Promise<{ items: RunHostRow[]; total: number }> {
  const params: Param[] = [runId];
  let w = 'run_id = ?';
  if (f.status) { w += ' AND status = ?'; params.push(f.status); }
  const rows = await q.all<RunHostDbRow>(`SELECT * FROM es_sync_run_hosts WHERE ${w} ORDER BY ip LIMIT ? OFFSET ?`, [...params, f.limit, f.offset]);
  const total = (await q.get<{ n: number }>(`SELECT count(*) AS n FROM es_sync_run_hosts WHERE ${w}`, params))?.n ?? 0;
  return { items: rows.map(toRunHost), total };
}

/** Rows per multi-row statement: well under SQLite's bound-parameter limit, and 20x fewer round trips than one per row. */
const ROWS_PER_STATEMENT = 100;

export async function insertRunHosts(q: Queryable, runId: number, results: HostResult[]): Promise<void> {
  for (let i = 0; i < results.length; i += ROWS_PER_STATEMENT) {
    const part = results.slice(i, i + ROWS_PER_STATEMENT);
    const params: Param[] = [];
    for (const h of part) {
      const m = h.metrics;
      params.push(runId, h.ip, h.hostname, h.status, h.error, m?.cpuMax ?? null, m?.cpuAvg ?? null, m?.memMax ?? null, m?.memAvg ?? null,
        m?.diskMax ?? null, m?.diskAvg ?? null, m?.dataPoints ?? null, m?.lastSampleAt ?? null);
    }
    await q.run(
      `INSERT INTO es_sync_run_hosts (run_id, ip, hostname, status, error, cpu_max, cpu_avg, mem_max, mem_avg, disk_max, disk_avg, data_points, last_sample_at)
       VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      params,
    );
  }
}

/** The inventory as the sync sees it: every host's stored IP and hostname. */
export async function inventoryHosts(q: Queryable): Promise<Array<{ ip: string; hostname: string | null }>> {
  return q.all<{ ip: string; hostname: string | null }>('SELECT ip, hostname FROM hosts ORDER BY id');
}

/** Latest metrics onto inventory hosts (columns hosts.metrics / hosts.metrics_at); the host records themselves are untouched. */
export async function writeHostMetrics(q: Queryable, rows: Array<{ ip: string; metrics: Record<string, unknown> }>, at: string): Promise<number> {
  let changed = 0;
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const part = rows.slice(i, i + ROWS_PER_STATEMENT);
    const r = await q.run(
      `UPDATE hosts SET metrics = v.column2, metrics_at = ? FROM (VALUES ${part.map(() => '(?, ?)').join(', ')}) AS v WHERE hosts.ip = v.column1`,
      [at, ...part.flatMap((p) => [p.ip, JSON.stringify(p.metrics)])],
    );
    changed += r.changes;
  }
  return changed;
}

/** Keep the newest `keep` runs of a task; older runs and their host rows go. */
export async function pruneRuns(q: Queryable, taskId: number, keep: number): Promise<number> {
  const r = await q.run(
    `DELETE FROM es_sync_runs WHERE task_id = ? AND status != 'running' AND id NOT IN
       (SELECT id FROM es_sync_runs WHERE task_id = ? ORDER BY id DESC LIMIT ?)`,
    [taskId, taskId, keep],
  );
  return r.changes;
}

// One run of a task: inventory → batched aggregation searches → per-host results, host metrics and the execution log.
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { Db } from '../db/connection.js';
import * as store from '../db/es-sync.js';
import { AppError } from '../errors.js';
import type { EsSyncConfig } from './config-schema.js';
import { searchEs, type EsClients } from './es-client.js';
import type { EsSyncStats } from './stats.js';
import { answeredResult, chunk, failedResult, hostMetricsJson, notInPoolResult, planTargets, summarize, type Target } from './plan.js';
import { buildMetricsSearch, parseMetricsResponse } from './query.js';
import type { EsSyncTask, HostMetrics, HostResult, RunRecord, RunTrigger } from './types.js';

export interface JobDeps { db: Db; log: Logger; clock: () => Date; config: EsSyncConfig; clients: EsClients; stats?: EsSyncStats }

export interface RunRequest {
  runId: number;
  task: EsSyncTask;
  /** The endpoint resolved when the run was created (task's own, or esSync.endpoint). */
  endpoint: string;
  /** Canonical IPs of a manual run; null = every inventory host (scheduled run). */
  ips: string[] | null;
  trigger: RunTrigger;
}

/** Rows written per transaction, so a 10,000-host run never holds the database for long. */
const WRITE_CHUNK = 500;

type BatchOutcome = { batch: Target[]; metrics?: Map<string, HostMetrics>; error?: AppError; skipped?: string };

/** Query ES batch by batch (bounded concurrency); after the first failure no further batch is sent. */
async function queryBatches(deps: JobDeps, req: RunRequest, targets: Target[], signal: AbortSignal, count: () => void): Promise<BatchOutcome[]> {
  const cfg = deps.config;
  const client = deps.clients.get(req.endpoint);
  const limit = pLimit(cfg.concurrency);
  let firstError: AppError | null = null;
  return Promise.all(chunk(targets, cfg.batchSize).map((batch) => limit(async (): Promise<BatchOutcome> => {
    if (signal.aborted) return { batch, skipped: 'not queried: the server is shutting down' };
    if (firstError) return { batch, skipped: `not queried after an earlier batch failed: ${firstError.message}` };
    const ips = batch.map((t) => t.ip);
    const body = buildMetricsSearch(ips, req.task.timeRange, cfg.fields, cfg.datasets);
    try {
      count();
      const res = await searchEs(client, req.endpoint, req.task.indexPattern, body, { signal, timeoutSeconds: cfg.requestTimeout });
      return { batch, metrics: parseMetricsResponse(res, ips) };
    } catch (err) {
      const error = err instanceof AppError ? err : new AppError('internal', 500, (err as Error).message, { cause: err });
      firstError ??= error;
      return { batch, error };
    }
  })));
}

/** Host metrics and detail rows, a chunk per transaction. Only successful hosts are written onto the inventory. */
async function writeResults(deps: JobDeps, req: RunRequest, results: HostResult[], storedIp: Map<string, string>): Promise<void> {
  const at = deps.clock().toISOString();
  for (const part of chunk(results, WRITE_CHUNK)) {
    const metrics = part.filter((r) => r.status === 'success' && r.metrics).map((r) => ({
      ip: storedIp.get(r.ip) ?? r.ip,
      metrics: hostMetricsJson(r.metrics!, { taskId: req.task.id, runId: req.runId, timeRange: req.task.timeRange }),
    }));
    await deps.db.tx(async (q) => {
      await store.writeHostMetrics(q, metrics, at);
      await store.insertRunHosts(q, req.runId, part);
    });
  }
}

/** Execute a created run to its end; never throws for upstream trouble: the run is recorded failed with the reason. */
export async function executeRun(deps: JobDeps, req: RunRequest, signal: AbortSignal): Promise<RunRecord> {
  const log = deps.log.child({ esSyncRun: req.runId, esSyncTask: req.task.id });
  const started = performance.now();
  const results: HostResult[] = [];
  const storedIp = new Map<string, string>();
  let error: string | null = null;
  let requests = 0;
  let planned: Target[] = [];
  try {
    const { targets, notInPool } = planTargets(req.ips, await store.inventoryHosts(deps.db));
    planned = targets;
    // Recorded before any search, so a run cut off by a crash still says how many hosts it covered.
    await store.setRunTotal(deps.db, req.runId, targets.length + notInPool.length);
    for (const t of targets) storedIp.set(t.ip, t.storedIp);
    results.push(...notInPool.map(notInPoolResult));
    // Zero IPs: nothing to ask (a terms aggregation of size 0 is a 400 anyway).
    const outcomes = targets.length ? await queryBatches(deps, req, targets, signal, () => { requests++; deps.stats?.requests.inc(); }) : [];
    for (const o of outcomes) {
      if (o.metrics) results.push(...o.batch.map((t) => answeredResult(t, o.metrics!.get(t.ip))));
      else {
        const reason = o.error?.message ?? o.skipped!;
        error ??= o.error?.message ?? null;
        results.push(...o.batch.map((t) => failedResult(t, reason)));
      }
    }
    if (!error && outcomes.some((o) => o.skipped)) error = outcomes.find((o) => o.skipped)!.skipped!;
    await writeResults(deps, req, results, storedIp);
  } catch (err) {
    // No client for the endpoint, or the database failed: every planned host counts as failed, nothing is written onto hosts.
    error = err instanceof AppError ? err.message : `internal error: ${(err as Error).message}`;
    log.error({ err }, 'es-sync run failed');
    const notInPool = results.filter((r) => r.status === 'not_in_pool');
    results.length = 0;
    results.push(...notInPool, ...planned.map((t) => failedResult(t, error!)));
    await deps.db.tx((q) => store.insertRunHosts(q, req.runId, results)).catch((e: unknown) => log.error({ err: e }, 'es-sync host rows not recorded'));
  }
  const end = summarize(results, error);
  const durationMs = Math.round(performance.now() - started);
  await store.finishRun(deps.db, req.runId, { ...end, error, requests, finishedAt: deps.clock().toISOString(), durationMs });
  await store.pruneRuns(deps.db, req.task.id, deps.config.retainExecutions);
  deps.stats?.runs.inc({ status: end.status, trigger: req.trigger });
  const summary = { status: end.status, total: end.totalHosts, success: end.successCount, failed: end.failedCount, notInPool: end.notInPoolCount, noData: end.noDataCount, requests, durationMs };
  if (error) log.warn({ ...summary, reason: error }, 'es-sync run did not fully succeed');
  else log.info(summary, 'es-sync run finished');
  return (await store.getRun(deps.db, req.runId))!;
}

// What a run covers and what it concludes: targets vs not-in-pool, batches, per-host results, run status. PURE.
import { hasAnyMetric } from './query.js';
import { canonicalIp } from './ip-list.js';
import type { HostMetrics, HostResult, RunCounts, RunStatus } from './types.js';

export interface InventoryEntry { ip: string; hostname: string | null }
/** An inventory host a run reads metrics for: `ip` canonical (as sent to ES), `storedIp` as the inventory has it. */
export interface Target { ip: string; storedIp: string; hostname: string | null }

/**
 * Match requested IPs (canonical) against the inventory. `requested === null` is a scheduled run: every inventory
 * host. Requested IPs the inventory lacks are not in the pool: reported, never queried, never written.
 */
export function planTargets(requested: readonly string[] | null, inventory: readonly InventoryEntry[]): { targets: Target[]; notInPool: string[] } {
  const byIp = new Map<string, Target>();
  for (const h of inventory) {
    const ip = canonicalIp(h.ip);
    if (ip && !byIp.has(ip)) byIp.set(ip, { ip, storedIp: h.ip, hostname: h.hostname });
  }
  if (requested === null) return { targets: [...byIp.values()], notInPool: [] };
  const targets: Target[] = [];
  const notInPool: string[] = [];
  for (const ip of new Set(requested)) {
    const t = byIp.get(ip);
    if (t) targets.push(t);
    else notInPool.push(ip);
  }
  return { targets, notInPool };
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A host ES answered for: success with its numbers, or no_data when it had no bucket (or a bucket with no metric). */
export function answeredResult(t: Target, m: HostMetrics | undefined): HostResult {
  if (!m || !hasAnyMetric(m)) return { ip: t.ip, hostname: t.hostname ?? m?.esHostname ?? null, status: 'no_data', error: null, metrics: null };
  return { ip: t.ip, hostname: t.hostname ?? m.esHostname, status: 'success', error: null, metrics: m };
}

export function failedResult(t: Target, error: string): HostResult {
  return { ip: t.ip, hostname: t.hostname, status: 'failed', error, metrics: null };
}

export function notInPoolResult(ip: string): HostResult {
  return { ip, hostname: null, status: 'not_in_pool', error: 'not in the inventory: nothing written', metrics: null };
}

/** Counts, and the run status: any failed host makes it partial (some succeeded) or failed (none did). */
export function summarize(results: readonly HostResult[], error: string | null): RunCounts & { status: Exclude<RunStatus, 'running'> } {
  const n = (s: HostResult['status']) => results.filter((r) => r.status === s).length;
  const counts: RunCounts = {
    totalHosts: results.length, successCount: n('success'), failedCount: n('failed'),
    notInPoolCount: n('not_in_pool'), noDataCount: n('no_data'),
  };
  const status = error === null && counts.failedCount === 0 ? 'success' : counts.successCount > 0 ? 'partial' : 'failed';
  return { ...counts, status };
}

/** The JSON stored in hosts.metrics: latest numbers in percent, with where and over what window they came from. */
export function hostMetricsJson(m: HostMetrics, meta: { taskId: number; runId: number; timeRange: string }): Record<string, unknown> {
  return {
    cpu: { max: m.cpuMax, avg: m.cpuAvg },
    memory: { max: m.memMax, avg: m.memAvg },
    disk: { max: m.diskMax, avg: m.diskAvg },
    unit: 'percent',
    dataPoints: m.dataPoints,
    lastSampleAt: m.lastSampleAt,
    timeRange: meta.timeRange,
    source: 'es-sync',
    taskId: meta.taskId,
    runId: meta.runId,
  };
}

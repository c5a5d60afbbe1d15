// The batched host-metrics aggregation: the _search body for a list of IPs, and the reading of its response. PURE.
import { UpstreamDataError } from '../errors.js';
import { canonicalIp } from './ip-list.js';
import { esLowerBound } from './time-range.js';
import type { HostMetrics } from './types.js';

export interface MetricFields { hostIp: string; hostName: string; timestamp: string; cpu: string; memory: string; disk: string; dataset: string }

/** Names of the max/avg sub-aggregations and the metric field each reads. */
const METRICS = [['cpu', 'cpuMax', 'cpuAvg'], ['memory', 'memMax', 'memAvg'], ['disk', 'diskMax', 'diskAvg']] as const;
const AGG = { cpuMax: 'max_cpu', cpuAvg: 'avg_cpu', memMax: 'max_mem', memAvg: 'avg_mem', diskMax: 'max_disk', diskAvg: 'avg_disk' } as const;

/**
 * One search covering every IP: filter on the IPs and the window, then a `terms` aggregation on the IP field with
 * `include` = the IPs (host.ip is multi-valued: without it a host's other addresses get buckets too) and
 * `size` = their number (the default is 10), with max/avg of CPU, memory and disk per bucket.
 */
export function buildMetricsSearch(ips: readonly string[], timeRange: string, f: MetricFields, datasets: readonly string[]) {
  const filter: Array<Record<string, unknown>> = [
    { terms: { [f.hostIp]: ips } },
    { range: { [f.timestamp]: { gte: esLowerBound(timeRange), lte: 'now' } } },
  ];
  if (datasets.length) filter.push({ terms: { [f.dataset]: datasets } });
  const aggs: Record<string, unknown> = {};
  for (const [field, max, avg] of METRICS) {
    aggs[AGG[max]] = { max: { field: f[field] } };
    aggs[AGG[avg]] = { avg: { field: f[field] } };
  }
  aggs.host_name = { terms: { field: f.hostName, size: 1 } };
  aggs.last_seen = { max: { field: f.timestamp } };
  return {
    size: 0,
    track_total_hits: false,
    query: { bool: { filter } },
    aggs: { per_host: { terms: { field: f.hostIp, size: ips.length, include: ips }, aggs } },
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (what: string) => new UpstreamDataError(`malformed Elasticsearch response: ${what}`);

/** A fraction (0.973) as a percentage with two decimals (97.3); null stays null (no values in the window). */
function percent(bucket: Record<string, unknown>, agg: string, key: string): number | null {
  const m = bucket[agg];
  if (!isObj(m) || !('value' in m)) throw bad(`bucket ${key} has no ${agg}.value`);
  if (m.value === null) return null;
  if (typeof m.value !== 'number' || !Number.isFinite(m.value) || m.value < 0) throw bad(`bucket ${key} ${agg}.value is ${JSON.stringify(m.value)}`);
  return Math.round(m.value * 10_000) / 100;
}

function lastSample(bucket: Record<string, unknown>): string | null {
  const m = bucket.last_seen;
  if (!isObj(m)) return null;
  const t = typeof m.value_as_string === 'string' ? Date.parse(m.value_as_string) : typeof m.value === 'number' ? m.value : NaN;
  return Number.isFinite(t) ? new Date(t).toISOString() : null;
}

/** Explain why a response cannot be trusted, or null when it can. */
function distrust(res: Record<string, unknown>): UpstreamDataError | null {
  if (res.timed_out === true) return new UpstreamDataError('Elasticsearch search timed out on the cluster (timed_out: true): partial numbers not used');
  const shards = res._shards;
  if (!isObj(shards) || typeof shards.total !== 'number') return bad('no _shards.total');
  if (shards.total === 0) return new UpstreamDataError('index pattern matched no index (_shards.total: 0)');
  if (typeof shards.failed === 'number' && shards.failed > 0) {
    const first = Array.isArray(shards.failures) && isObj(shards.failures[0]) && isObj(shards.failures[0].reason) ? shards.failures[0].reason.reason : undefined;
    return new UpstreamDataError(`${shards.failed} of ${shards.total} shards failed${typeof first === 'string' ? `: ${first}` : ''}: partial numbers not used`);
  }
  return null;
}

/**
 * Metrics per requested IP (canonical text). An IP without a bucket had no documents in the window: it is absent
 * from the map (no data, never zero). Throws UpstreamDataError when the response cannot be trusted.
 */
export function parseMetricsResponse(res: unknown, requested: readonly string[]): Map<string, HostMetrics> {
  if (!isObj(res)) throw bad('not a JSON object');
  const distrusted = distrust(res);
  if (distrusted) throw distrusted;
  const perHost = isObj(res.aggregations) ? res.aggregations.per_host : undefined;
  if (!isObj(perHost) || !Array.isArray(perHost.buckets)) throw bad('no aggregations.per_host.buckets');
  const wanted = new Set(requested);
  const out = new Map<string, HostMetrics>();
  for (const bucket of perHost.buckets as unknown[]) {
    if (!isObj(bucket) || typeof bucket.key !== 'string') throw bad('a bucket without a string key');
    const ip = canonicalIp(bucket.key);
    if (!ip || !wanted.has(ip)) continue;
    if (typeof bucket.doc_count !== 'number' || !Number.isInteger(bucket.doc_count) || bucket.doc_count < 0) throw bad(`bucket ${bucket.key} doc_count is ${JSON.stringify(bucket.doc_count)}`);
    const names = isObj(bucket.host_name) && Array.isArray(bucket.host_name.buckets) ? bucket.host_name.buckets : [];
    const m: HostMetrics = {
      cpuMax: null, cpuAvg: null, memMax: null, memAvg: null, diskMax: null, diskAvg: null,
      dataPoints: bucket.doc_count, lastSampleAt: lastSample(bucket),
      esHostname: isObj(names[0]) && typeof names[0].key === 'string' ? names[0].key : null,
    };
    for (const [, max, avg] of METRICS) {
      m[max] = percent(bucket, AGG[max], bucket.key);
      m[avg] = percent(bucket, AGG[avg], bucket.key);
    }
    out.set(ip, m);
  }
  return out;
}

/** Does a bucket carry any metric at all (documents of other kinds only count as no data)? */
export function hasAnyMetric(m: HostMetrics): boolean {
  return [m.cpuMax, m.cpuAvg, m.memMax, m.memAvg, m.diskMax, m.diskAvg].some((v) => v !== null);
}

// The batched aggregation body and the reading of its response, against the documented shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildMetricsSearch, parseMetricsResponse } from '../../server/src/essync/query.js';
import { parseConfig } from '../../server/src/config.js';
import { UpstreamDataError } from '../../server/src/errors.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const fields = parseConfig({}).esSync.fields;
const datasets = ['system.cpu', 'system.memory', 'system.filesystem'];
const IPS = ['192.0.2.21', '192.0.2.22', '192.0.2.23'];

test('the search body is the contract request: IP terms + window filter, terms agg with include and size = number of IPs', () => {
  const body = buildMetricsSearch(IPS, '30d', fields, datasets);
  const { track_total_hits, ...rest } = body;
  assert.equal(track_total_hits, false);
  assert.deepEqual(rest, fixture('es-host-metrics-request.json'));
});

test('field names and the dataset filter follow the configuration', () => {
  const custom = { ...fields, hostIp: 'ip', cpu: 'cpu.pct' };
  const body = buildMetricsSearch(['192.0.2.1'], '24h', custom, []);
  assert.deepEqual(body.query.bool.filter, [{ terms: { ip: ['192.0.2.1'] } }, { range: { '@timestamp': { gte: 'now-24h', lte: 'now' } } }]);
  assert.equal(body.aggs.per_host.terms.field, 'ip');
  assert.deepEqual((body.aggs.per_host.aggs as any).max_cpu, { max: { field: 'cpu.pct' } });
});

test('the contract response: two hosts with numbers in percent, the third (no bucket) absent', () => {
  const out = parseMetricsResponse(fixture('es-host-metrics-response.json'), IPS);
  assert.deepEqual([...out.keys()].sort(), ['192.0.2.21', '192.0.2.22']);
  assert.deepEqual(out.get('192.0.2.21'), {
    cpuMax: 97.3, cpuAvg: 21.87, memMax: 91.21, memAvg: 57.34, diskMax: 81.2, diskAvg: 44.2,
    dataPoints: 648000, lastSampleAt: '2025-03-14T01:59:50.000Z', esHostname: 'orders-api-prod-01',
  });
  assert.equal(out.get('192.0.2.22')!.cpuMax, 68.8);
  assert.equal(out.has('192.0.2.23'), false);
});

test('null metric values stay null; buckets for IPs not asked for are ignored', () => {
  const res = fixture('es-host-metrics-response.json');
  res.aggregations.per_host.buckets[0].max_disk = { value: null };
  res.aggregations.per_host.buckets[0].avg_disk = { value: null };
  const out = parseMetricsResponse(res, ['192.0.2.21']);
  assert.equal(out.size, 1);
  assert.equal(out.get('192.0.2.21')!.diskMax, null);
  assert.equal(out.get('192.0.2.21')!.cpuMax, 97.3);
});

test('responses that cannot be trusted are UpstreamDataError with the reason', () => {
  const ok = () => fixture('es-host-metrics-response.json');
  const cases: Array<[string, (r: any) => unknown, RegExp]> = [
    ['wildcard matching nothing (no aggregations, 0 shards)', (r) => ({ ...r, _shards: { total: 0, successful: 0, skipped: 0, failed: 0 }, aggregations: undefined }), /matched no index/],
    ['shard failures', (r) => ({ ...r, _shards: { total: 4, successful: 3, skipped: 0, failed: 1, failures: [{ reason: { type: 'x', reason: 'disk broke' } }] } }), /1 of 4 shards failed: disk broke/],
    ['timed out', (r) => ({ ...r, timed_out: true }), /timed out/],
    ['no aggregations', (r) => ({ ...r, aggregations: undefined }), /no aggregations\.per_host\.buckets/],
    ['buckets not an array', (r) => ({ ...r, aggregations: { per_host: { buckets: {} } } }), /no aggregations\.per_host\.buckets/],
    ['metric value a string', (r) => { r.aggregations.per_host.buckets[0].max_cpu.value = '0.9'; return r; }, /max_cpu\.value is "0\.9"/],
    ['metric missing', (r) => { delete r.aggregations.per_host.buckets[0].avg_mem; return r; }, /has no avg_mem\.value/],
    ['negative doc_count', (r) => { r.aggregations.per_host.buckets[1].doc_count = -1; return r; }, /doc_count/],
    ['not an object', () => [], /not a JSON object/],
  ];
  for (const [name, mutate, re] of cases) {
    assert.throws(() => parseMetricsResponse(mutate(ok()), IPS), (err: unknown) => err instanceof UpstreamDataError && re.test(err.message), name);
  }
});

test('IPv6 bucket keys match requested IPs in canonical form', () => {
  const res = fixture('es-host-metrics-response.json');
  res.aggregations.per_host.buckets[0].key = '2001:db8::21';
  const out = parseMetricsResponse(res, ['2001:db8::21']);
  assert.equal(out.get('2001:db8::21')!.cpuMax, 97.3);
});

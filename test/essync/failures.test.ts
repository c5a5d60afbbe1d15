// Every way Elasticsearch can fail: the run is recorded failed (or partial) with the reason, the service keeps
// running, and metrics already on the hosts are never overwritten.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { deadUrl, esError, startFakeEs, type FakeEs, type Reply } from './fake-es.js';
import { hostByIp, startEsHarness, type EsHarness } from './harness.js';

const A = '192.0.2.31';
const B = '192.0.2.32';
const C = '192.0.2.33';
const D = '192.0.2.34';
const CREDS = { username: 'gitfleet', password: 'es-pass-for-tests' };
const sample = { cpu: [0.25], mem: [0.5], disk: [0.75] };

let h: EsHarness;
let other: FakeEs; // an Elasticsearch that knows other credentials
let dead: string; // nothing listens there
const tasks: Record<string, number> = {};
let stored: Record<string, { metrics: unknown; metricsAt: string }> = {};

before(async () => {
  other = await startFakeEs({ [A]: sample });
  other.requireBasic = 'someone:else';
  dead = await deadUrl();
  h = await startEsHarness({
    inventory: [[A], [B], [C], [D]],
    hosts: { [A]: sample, [B]: sample, [C]: sample, [D]: sample },
    esSync: { auth: CREDS, allowedEndpoints: [other.url, dead], batchSize: 2, concurrency: 1, requestTimeout: 0.4 },
  });
  h.es.requireBasic = `${CREDS.username}:${CREDS.password}`;
  for (const [name, esEndpoint] of [['main', null], ['refused', other.url], ['unreachable', dead]] as const) {
    const res = await h.server.api('/api/v1/es-sync/tasks', { method: 'POST', body: { name, cron: '0 0 0 1 1 *', esEndpoint } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    tasks[name] = res.body.id;
  }
  // A good run first: these are the values no failure may overwrite.
  const ok = await run('main', [A, B, C, D]);
  assert.equal(ok.status, 'success');
  assert.equal(ok.successCount, 4);
  assert.ok(h.es.searches.every((s) => s.headers.authorization === `Basic ${Buffer.from(`${CREDS.username}:${CREDS.password}`).toString('base64')}`), 'the configured credentials are sent');
  stored = await snapshot();
  assert.equal((stored[A]!.metrics as any).cpu.max, 25);
});

after(async () => {
  assert.deepEqual(h.es.unexpected, []);
  assert.deepEqual(other.unexpected, []);
  await h.close();
  await other.close();
});

async function run(task: string, ips: string[]) {
  const res = await h.server.api(`/api/v1/es-sync/tasks/${tasks[task]}/execute`, { method: 'POST', body: { ips } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function snapshot() {
  const out: Record<string, { metrics: unknown; metricsAt: string }> = {};
  for (const ip of [A, B, C, D]) {
    const host = await hostByIp(h.server, ip);
    out[ip] = { metrics: host.metrics, metricsAt: host.metricsAt };
  }
  return out;
}

/** A failed run: status, reason, every host row failed with it, hosts unchanged, server still serving. */
async function assertFailed(task: string, reason: RegExp) {
  const exec = await run(task, [A, B]);
  assert.equal(exec.status, 'failed', JSON.stringify(exec));
  assert.match(exec.error, reason);
  assert.deepEqual([exec.totalHosts, exec.failedCount, exec.successCount], [2, 2, 0]);
  const detail = await h.server.api(`/api/v1/es-sync/executions/${exec.id}`);
  assert.deepEqual(detail.body.hosts.items.map((r: any) => [r.ip, r.status, r.cpuMax]), [[A, 'failed', null], [B, 'failed', null]]);
  for (const r of detail.body.hosts.items) assert.match(r.error, reason);
  assert.deepEqual(await snapshot(), stored, 'metrics already stored are untouched');
  assert.equal((await h.server.api('/healthz')).status, 200);
  return exec;
}

function scripted(reply: Reply) {
  h.es.override = () => reply;
}

test('index missing: 404 index_not_found_exception', async (t) => {
  t.after(() => { h.es.override = undefined; });
  scripted({ status: 404, body: JSON.parse(readFileSync(new URL('./fixtures/es-error-index-not-found.json', import.meta.url), 'utf8')) });
  await assertFailed('main', /^index not found \(HTTP 404 index_not_found_exception: no such index \[metricbeat-8\.15\.3\]\)$/);
});

test('an index pattern that matches nothing (200, no aggregations): failed, not "no data" for everyone', async (t) => {
  t.after(() => { h.es.override = undefined; });
  scripted({ status: 200, body: { took: 0, timed_out: false, _shards: { total: 0, successful: 0, skipped: 0, failed: 0 }, hits: { total: { value: 0, relation: 'eq' }, max_score: 0, hits: [] } } });
  await assertFailed('main', /index pattern matched no index/);
});

test('Elasticsearch unreachable', async () => {
  await assertFailed('unreachable', new RegExp(`^Elasticsearch unreachable at ${dead.replace(/[.]/g, '\\.')}: `));
});

test('credentials refused (401 security_exception)', async () => {
  await assertFailed('refused', /^Elasticsearch refused the credentials \(HTTP 401 security_exception: unable to authenticate/);
  assert.equal(other.searches.length, 0);
});

test('timeout: no answer within esSync.requestTimeout', async (t) => {
  t.after(() => { h.es.delayMs = 0; });
  h.es.delayMs = 1500;
  const started = Date.now();
  await assertFailed('main', /^Elasticsearch did not answer within 0\.4s \(esSync\.requestTimeout\)$/);
  assert.ok(Date.now() - started < 1400, 'the run gave up at the timeout');
});

test('malformed responses: not JSON, wrong shape, no product header, a 5xx', async (t) => {
  t.after(() => { h.es.override = undefined; });
  scripted({ status: 200, body: null, raw: '{"took": 1, "aggregations": ' });
  await assertFailed('main', /malformed Elasticsearch response: not valid JSON/);
  scripted({ status: 200, body: { took: 1, timed_out: false, _shards: { total: 1, successful: 1, failed: 0 }, aggregations: { per_host: { buckets: 'none' } } } });
  await assertFailed('main', /malformed Elasticsearch response: no aggregations\.per_host\.buckets/);
  scripted({ status: 200, body: { took: 1, timed_out: false, _shards: { total: 1, successful: 1, failed: 0 }, aggregations: { per_host: { buckets: [{ key: A, doc_count: 3, max_cpu: { value: 'high' } }] } } } });
  await assertFailed('main', /max_cpu\.value is "high"/);
  scripted({ status: 200, body: {}, omitProductHeader: true });
  await assertFailed('main', /did not answer as Elasticsearch/);
  scripted(esError(503, 'cluster_block_exception', 'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered]'));
  await assertFailed('main', /^Elasticsearch answered HTTP 503 \(cluster_block_exception: blocked by/);
});

test('one batch fails, another succeeds: partial; good hosts updated, failed ones untouched; no batch after the failure', async (t) => {
  t.after(() => { h.es.override = undefined; h.es.hosts.set(A, sample); h.es.hosts.set(B, sample); });
  h.es.hosts.set(A, { cpu: [0.9], mem: [0.9], disk: [0.9] });
  h.es.hosts.set(B, { cpu: [0.8], mem: [0.8], disk: [0.8] });
  let n = 0;
  h.es.override = () => (++n === 2 ? esError(500, 'search_phase_execution_exception', 'all shards failed') : undefined);
  const before = h.es.searches.length;
  const exec = await run('main', [A, B, C, D]);
  assert.equal(exec.status, 'partial');
  assert.deepEqual([exec.totalHosts, exec.successCount, exec.failedCount, exec.requests], [4, 2, 2, 2]);
  assert.match(exec.error, /HTTP 500/);
  assert.equal(h.es.searches.length - before, 2);
  const now = await snapshot();
  assert.equal((now[A]!.metrics as any).cpu.max, 90);
  assert.equal((now[B]!.metrics as any).cpu.max, 80);
  assert.deepEqual(now[C], stored[C]);
  assert.deepEqual(now[D], stored[D]);
  stored = now;

  // First batch fails: the next is not sent, its hosts say why.
  n = 1;
  const before2 = h.es.searches.length;
  h.es.override = () => (++n === 2 ? esError(500, 'search_phase_execution_exception', 'all shards failed') : undefined);
  const failed = await run('main', [A, B, C, D]);
  assert.equal(failed.status, 'failed');
  assert.equal(h.es.searches.length - before2, 1);
  const rows = (await h.server.api(`/api/v1/es-sync/executions/${failed.id}?hostStatus=failed`)).body.hosts.items;
  assert.equal(rows.length, 4);
  assert.match(rows.find((r: any) => r.ip === C).error, /^not queried after an earlier batch failed: /);
  assert.deepEqual(await snapshot(), stored);
});

test('after all that the service still runs and succeeds', async () => {
  const exec = await run('main', [A, B, C, D]);
  assert.equal(exec.status, 'success');
  const failedRuns = await h.server.api(`/api/v1/es-sync/executions?taskId=${tasks.main}&status=failed`);
  assert.ok(failedRuns.body.total >= 9);
  assert.ok(failedRuns.body.items.every((r: any) => r.error && r.finishedAt && r.durationMs !== null));
});

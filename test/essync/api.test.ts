// /api/v1/es-sync end to end: task CRUD, validation, manual runs by list and by file, not-in-pool and no-data hosts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, startEsHarness, upload, waitFor, hostByIp, type EsHarness } from './harness.js';

const A = '192.0.2.21';
const B = '192.0.2.22';
const C = '192.0.2.23'; // in the inventory, no documents in ES
const OUT = '198.51.100.7'; // has documents in ES, not in the inventory

let h: EsHarness;
before(async () => {
  h = await startEsHarness({
    inventory: [[A, 'orders-api-prod-01'], [B], [C, 'quiet-01']],
    hosts: {
      [A]: { cpu: [0.1, 0.973, 0.2], mem: [0.5, 0.9121], disk: [0.812, 0.4], hostName: 'orders-api-prod-01', lastSeen: '2025-03-14T01:59:50.000Z' },
      [B]: { cpu: [0.688], mem: [0.7843], disk: [], hostName: 'orders-api-prod-02' },
      [OUT]: { cpu: [0.5], mem: [0.5], disk: [0.5] },
    },
  });
});
after(async () => {
  assert.deepEqual(h.es.unexpected, [], 'the fake saw only _search requests');
  await h.close();
});

const api = (path: string, init?: { method?: string; body?: unknown }) => h.server.api(path, init);

async function createTask(body: Record<string, unknown>) {
  const res = await api('/api/v1/es-sync/tasks', { method: 'POST', body: { cron: '0 0 3 * * *', ...body } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

test('tasks: create with defaults, list, detail, update, enable/disable, soft delete', async () => {
  const created = await createTask({ name: 'nightly', description: 'all hosts', createdBy: 'alice' });
  assert.equal(created.indexPattern, 'metricbeat-*');
  assert.equal(created.timeRange, '30d');
  assert.equal(created.enabled, true);
  assert.equal(created.esEndpoint, null);
  assert.equal(created.effectiveEsEndpoint, h.es.url);
  assert.equal(created.createdBy, 'alice');
  assert.match(created.nextRunAt, /T\d\d:00:00\.000Z$/);
  assert.equal(created.lastExecution, null);

  const detail = await api(`/api/v1/es-sync/tasks/${created.id}`);
  assert.equal(detail.status, 200);
  assert.equal(detail.body.name, 'nightly');

  const updated = await api(`/api/v1/es-sync/tasks/${created.id}`, { method: 'PUT', body: { timeRange: '24h', cron: '*/30 * * * * *', name: 'half-minutely' } });
  assert.equal(updated.status, 200);
  assert.equal(updated.body.timeRange, '24h');
  assert.equal(updated.body.name, 'half-minutely');
  assert.equal(updated.body.description, 'all hosts');
  assert.ok(Date.parse(updated.body.nextRunAt) - Date.now() <= 30_000, 'the new cron is scheduled at once');

  const off = await api(`/api/v1/es-sync/tasks/${created.id}/enabled`, { method: 'PUT', body: { enabled: false } });
  assert.equal(off.status, 200);
  assert.equal(off.body.enabled, false);
  assert.equal(off.body.nextRunAt, null);
  const listed = await api('/api/v1/es-sync/tasks?enabled=false');
  assert.deepEqual(listed.body.items.map((t: any) => t.id), [created.id]);
  const on = await api(`/api/v1/es-sync/tasks/${created.id}/enabled`, { method: 'PUT', body: { enabled: true } });
  assert.ok(on.body.nextRunAt);

  const del = await api(`/api/v1/es-sync/tasks/${created.id}`, { method: 'DELETE' });
  assert.equal(del.status, 204);
  assert.equal((await api(`/api/v1/es-sync/tasks/${created.id}`)).status, 404);
  assert.equal((await api(`/api/v1/es-sync/tasks/${created.id}`, { method: 'PUT', body: { description: 'x' } })).status, 404);
  assert.equal((await api(`/api/v1/es-sync/tasks/${created.id}`, { method: 'DELETE' })).status, 404);
  assert.ok(!(await api('/api/v1/es-sync/tasks')).body.items.some((t: any) => t.id === created.id));
  // The name of a deleted task is free again.
  const again = await createTask({ name: 'half-minutely' });
  assert.notEqual(again.id, created.id);
  await api(`/api/v1/es-sync/tasks/${again.id}`, { method: 'DELETE' });
});

test('validation errors are 400 naming the field', async () => {
  const task = await createTask({ name: 'validation' });
  await createTask({ name: 'other' });
  const cases: Array<[string, string, unknown, string, RegExp]> = [
    ['POST', '/api/v1/es-sync/tasks', { name: 'x', cron: '*/5 * * * *' }, 'cron', /6 parts/],
    ['POST', '/api/v1/es-sync/tasks', { name: 'x', cron: 'every minute please' }, 'cron', /cron/],
    ['POST', '/api/v1/es-sync/tasks', { name: 'x', cron: '0 * * * * *', timeRange: '30 days' }, 'timeRange', /m, h, d or w/],
    ['POST', '/api/v1/es-sync/tasks', { name: 'validation', cron: '0 * * * * *' }, 'name', /already exists/],
    ['PUT', `/api/v1/es-sync/tasks/${task.id}`, { name: 'other' }, 'name', /already exists/],
    ['POST', '/api/v1/es-sync/tasks', { name: 'x', cron: '0 * * * * *', esEndpoint: 'http://169.254.169.254' }, 'esEndpoint', /allowedEndpoints/],
    ['PUT', `/api/v1/es-sync/tasks/${task.id}/enabled`, { enabled: 'yes' }, 'enabled', /true or false/],
    ['POST', `/api/v1/es-sync/tasks/${task.id}/execute`, { ips: [A, 'web-01', '300.1.1.1'] }, 'ips', /"web-01".*"300\.1\.1\.1"/],
    ['POST', `/api/v1/es-sync/tasks/${task.id}/execute`, { ips: [] }, 'ips', /at least one/],
    ['POST', `/api/v1/es-sync/tasks/${task.id}/execute`, {}, 'ips', /array/],
    ['GET', '/api/v1/es-sync/executions?status=done', undefined, 'status', /one of/],
    ['GET', '/api/v1/es-sync/tasks/abc', undefined, 'id', /positive integer/],
  ];
  for (const [method, path, body, field, re] of cases) {
    const res = await api(path, { method, body });
    assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'validation_failed');
    assert.equal(res.body.error.field, field, `${method} ${path} ${JSON.stringify(body)}`);
    assert.match(res.body.error.message, re);
  }
  const uploads: Array<[string | Buffer, string, RegExp]> = [
    ['', 'file', /empty/],
    ['# only a comment\n\n', 'file', /empty/],
    ['hostname,address\nweb,192.0.2.1\n', 'file', /no "ip" column/],
    [`${A}\nnot-an-ip\n`, 'file', /line 2: "not-an-ip"/],
    [Buffer.alloc(2 * 1024 * 1024 + 10, 0x31), 'file', /too large: at most 2097152 bytes/],
  ];
  for (const [content, field, re] of uploads) {
    const res = await upload(h.server, `/api/v1/es-sync/tasks/${task.id}/execute-file`, content);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.field, field);
    assert.match(res.body.error.message, re);
  }
  const wrongField = await upload(h.server, `/api/v1/es-sync/tasks/${task.id}/execute-file`, `${A}\n`, 'ips');
  assert.equal(wrongField.status, 400);
  assert.match(wrongField.body.error.message, /multipart field "file"/);
  const notMultipart = await api(`/api/v1/es-sync/tasks/${task.id}/execute-file`, { method: 'POST', body: { ips: [A] } });
  assert.equal(notMultipart.status, 400);
  assert.equal(notMultipart.body.error.field, 'file');
  assert.equal((await api('/api/v1/es-sync/tasks/9999/execute', { method: 'POST', body: { ips: [A] } })).status, 404);
  assert.equal(h.es.searches.length, 0, 'no invalid request ever reached Elasticsearch');
});

test('run now for a list: one aggregation request for every in-pool host; metrics on hosts; not_in_pool and no_data', async () => {
  const task = await createTask({ name: 'by-list', timeRange: '7d', indexPattern: 'metricbeat-*,metrics-system.*-*' });
  const before = h.es.searches.length;
  const res = await api(`/api/v1/es-sync/tasks/${task.id}/execute`, { method: 'POST', body: { ips: [A, B, C, OUT, A] } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.match(res.headers.get('location')!, new RegExp(`/api/v1/es-sync/executions/${res.body.id}$`));
  assert.deepEqual(
    { status: res.body.status, trigger: res.body.trigger, total: res.body.totalHosts, ok: res.body.successCount, failed: res.body.failedCount, out: res.body.notInPoolCount, none: res.body.noDataCount, requests: res.body.requests, timeRange: res.body.timeRange, task: res.body.taskName },
    { status: 'success', trigger: 'manual', total: 4, ok: 2, failed: 0, out: 1, none: 1, requests: 1, timeRange: '7d', task: 'by-list' },
  );

  // Exactly one search, for the three inventory hosts only, over the task's window and index pattern.
  assert.equal(h.es.searches.length - before, 1);
  const call = h.es.searches.at(-1)!;
  assert.equal(call.index, 'metricbeat-*,metrics-system.*-*');
  assert.deepEqual([...call.body.aggs.per_host.terms.include].sort(), [A, B, C]);
  assert.equal(call.body.aggs.per_host.terms.size, 3);
  assert.deepEqual(call.body.query.bool.filter[1], { range: { '@timestamp': { gte: 'now-7d', lte: 'now' } } });

  const detail = await api(`/api/v1/es-sync/executions/${res.body.id}`);
  const rows = Object.fromEntries(detail.body.hosts.items.map((r: any) => [r.ip, r]));
  assert.equal(detail.body.hosts.total, 4);
  assert.deepEqual(rows[A], {
    ip: A, hostname: 'orders-api-prod-01', status: 'success', error: null, cpuMax: 97.3, cpuAvg: 42.43, memMax: 91.2, memAvg: 70.6,
    diskMax: 81.2, diskAvg: 60.6, dataPoints: 7, lastSampleAt: '2025-03-14T01:59:50.000Z',
  });
  assert.equal(rows[B].status, 'success');
  assert.equal(rows[B].hostname, 'orders-api-prod-02', 'hostname from ES when the inventory has none');
  assert.equal(rows[B].diskMax, null, 'no filesystem documents: null, not 0');
  assert.equal(rows[C].status, 'no_data');
  assert.equal(rows[C].cpuMax, null);
  assert.equal(rows[OUT].status, 'not_in_pool');
  const onlyNoData = await api(`/api/v1/es-sync/executions/${res.body.id}?hostStatus=no_data`);
  assert.deepEqual(onlyNoData.body.hosts.items.map((r: any) => r.ip), [C]);

  // Metrics land on the inventory hosts; the no-data host keeps none; the not-in-pool IP is written nowhere.
  const hostA = await hostByIp(h.server, A);
  assert.deepEqual(hostA.metrics, {
    cpu: { max: 97.3, avg: 42.43 }, memory: { max: 91.2, avg: 70.6 }, disk: { max: 81.2, avg: 60.6 }, unit: 'percent',
    dataPoints: 7, lastSampleAt: '2025-03-14T01:59:50.000Z', timeRange: '7d', source: 'es-sync', taskId: task.id, runId: res.body.id,
  });
  assert.ok(Math.abs(Date.parse(hostA.metricsAt) - Date.now()) < 10_000);
  assert.equal((await hostByIp(h.server, C)).metrics, null);
  assert.equal((await hostByIp(h.server, C)).metricsAt, null);
  assert.equal(await hostByIp(h.server, OUT), undefined);
  const all = await api('/api/v1/hosts');
  assert.equal(all.body.total, 3, 'no host was created for the not-in-pool IP');

  // The execution log.
  const logs = await api(`/api/v1/es-sync/executions?taskId=${task.id}`);
  assert.equal(logs.body.total, 1);
  assert.equal(logs.body.items[0].id, res.body.id);
  const view = await api(`/api/v1/es-sync/tasks/${task.id}`);
  assert.equal(view.body.lastExecution.id, res.body.id);
});

test('run now for an uploaded file: plain lines and CSV with an ip column', async () => {
  const task = await createTask({ name: 'by-file' });
  const lines = await upload(h.server, `/api/v1/es-sync/tasks/${task.id}/execute-file`, `# refresh\n${A}\r\n\r\n${OUT}\n`);
  assert.equal(lines.status, 201, JSON.stringify(lines.body));
  assert.equal(lines.body.trigger, 'upload');
  assert.deepEqual([lines.body.totalHosts, lines.body.successCount, lines.body.notInPoolCount], [2, 1, 1]);

  const csv = await upload(h.server, `/api/v1/es-sync/tasks/${task.id}/execute-file`, `hostname,ip,env\n"b, second",${B},prod\nquiet,${C},prod\n`, 'file', 'hosts.csv');
  assert.equal(csv.status, 201, JSON.stringify(csv.body));
  assert.deepEqual([csv.body.totalHosts, csv.body.successCount, csv.body.noDataCount, csv.body.requests], [2, 1, 1, 1]);
  assert.deepEqual([...h.es.searches.at(-1)!.body.aggs.per_host.terms.include].sort(), [B, C]);
});

test('a list with no inventory host sends no query at all', async () => {
  const task = await createTask({ name: 'nobody' });
  const before = h.es.searches.length;
  const res = await api(`/api/v1/es-sync/tasks/${task.id}/execute`, { method: 'POST', body: { ips: [OUT] } });
  assert.equal(res.body.status, 'success');
  assert.deepEqual([res.body.totalHosts, res.body.notInPoolCount, res.body.requests], [1, 1, 0]);
  assert.equal(h.es.searches.length, before);
});

test('wait=false answers 202 at once; a second run of the same task meanwhile is 409', async () => {
  const task = await createTask({ name: 'background' });
  h.es.delayMs = 600;
  try {
    const res = await api(`/api/v1/es-sync/tasks/${task.id}/execute?wait=false`, { method: 'POST', body: { ips: [A] } });
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'running');
    const busy = await api(`/api/v1/es-sync/tasks/${task.id}/execute`, { method: 'POST', body: { ips: [B] } });
    assert.equal(busy.status, 409);
    assert.match(busy.body.error.message, /already running/);
    const running = await api(`/api/v1/es-sync/tasks/${task.id}`);
    assert.equal(running.body.runningExecutionId, res.body.executionId);
    const done = await waitFor('the background run', async () => {
      const r = await api(`/api/v1/es-sync/executions/${res.body.executionId}`);
      return r.body.status !== 'running' && r.body;
    });
    assert.equal(done.status, 'success');
    assert.ok(done.durationMs >= 500);
  } finally {
    h.es.delayMs = 0;
  }
  await sleep(10);
  assert.equal((await api(`/api/v1/es-sync/tasks/${task.id}`)).body.runningExecutionId, null);
});

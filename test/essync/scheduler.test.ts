// The cron side: scheduled runs over the whole inventory, schedule changes taking effect at once, no overlap,
// a clean stop, and runs cut off by a crash failed at the next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDb } from '../../server/src/db/connection.js';
import { migrate } from '../../server/src/db/migrate.js';
import { startTestServer } from '../helpers/server.js';
import { hostByIp, sleep, startEsHarness, TOKEN, waitFor, type EsHarness } from './harness.js';

const INVENTORY: Array<[string, string]> = [['192.0.2.41', 'a'], ['192.0.2.42', 'b'], ['192.0.2.43', 'c'], ['192.0.2.44', 'd'], ['192.0.2.45', 'e']];
const DATA = Object.fromEntries(INVENTORY.slice(0, 4).map(([ip], i) => [ip, { cpu: [0.1 * (i + 1)], mem: [0.2], disk: [0.3] }]));

async function createTask(h: EsHarness, body: Record<string, unknown>) {
  const res = await h.server.api('/api/v1/es-sync/tasks', { method: 'POST', body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

const executions = async (h: EsHarness, taskId: number) => (await h.server.api(`/api/v1/es-sync/executions?taskId=${taskId}&limit=500`)).body.items as any[];
const finished = async (h: EsHarness, taskId: number) => (await executions(h, taskId)).filter((e) => e.status !== 'running');
const idle = (h: EsHarness, taskId: number) => waitFor('no running execution', async () => (await executions(h, taskId)).every((e) => e.status !== 'running'));

test('a scheduled run covers every inventory host, in batches, and writes metrics onto the hosts', async (t) => {
  const h = await startEsHarness({ inventory: INVENTORY, hosts: DATA, esSync: { batchSize: 2 } });
  t.after(() => h.close());
  const task = await createTask(h, { name: 'every-second', cron: '*/1 * * * * *', timeRange: '24h' });
  const exec = await waitFor('a scheduled run', async () => (await finished(h, task.id))[0], 5000);
  await h.server.api(`/api/v1/es-sync/tasks/${task.id}/enabled`, { method: 'PUT', body: { enabled: false } });
  assert.deepEqual(
    [exec.trigger, exec.status, exec.totalHosts, exec.successCount, exec.noDataCount, exec.notInPoolCount, exec.requests, exec.timeRange],
    ['schedule', 'success', 5, 4, 1, 0, 3, '24h'],
  );
  const first3 = h.es.searches.slice(0, 3).map((s) => s.body.aggs.per_host.terms.include);
  assert.deepEqual(first3.flat().sort(), INVENTORY.map(([ip]) => ip).sort(), 'three batches of at most 2 cover the inventory once');
  assert.ok(first3.every((b) => b.length <= 2));
  const host = await hostByIp(h.server, '192.0.2.43');
  assert.equal(host.metrics.cpu.max, 30);
  assert.equal(host.metrics.runId, exec.id);
  assert.equal((await hostByIp(h.server, '192.0.2.45')).metrics, null);
  assert.deepEqual(h.es.unexpected, []);
});

test('enable, disable, update and delete change the schedule at once', async (t) => {
  const h = await startEsHarness({ inventory: INVENTORY.slice(0, 1), hosts: DATA });
  t.after(() => h.close());
  const task = await createTask(h, { name: 'toggled', cron: '*/1 * * * * *', enabled: false });
  assert.equal(task.nextRunAt, null);
  await sleep(1300);
  assert.equal((await executions(h, task.id)).length, 0, 'a disabled task never runs');

  const on = await h.server.api(`/api/v1/es-sync/tasks/${task.id}/enabled`, { method: 'PUT', body: { enabled: true } });
  assert.ok(Date.parse(on.body.nextRunAt) - Date.now() <= 1000);
  await waitFor('a run after enabling', async () => (await finished(h, task.id)).length > 0, 4000);

  await h.server.api(`/api/v1/es-sync/tasks/${task.id}/enabled`, { method: 'PUT', body: { enabled: false } });
  await idle(h, task.id);
  const afterDisable = (await executions(h, task.id)).length;
  await sleep(1600);
  assert.equal((await executions(h, task.id)).length, afterDisable, 'no run after disabling');

  // Re-enable with a cron far away: the new schedule replaces the old one.
  await h.server.api(`/api/v1/es-sync/tasks/${task.id}/enabled`, { method: 'PUT', body: { enabled: true } });
  const updated = await h.server.api(`/api/v1/es-sync/tasks/${task.id}`, { method: 'PUT', body: { cron: '0 0 0 1 1 *' } });
  assert.equal(new Date(updated.body.nextRunAt).getDate(), 1);
  await idle(h, task.id);
  const afterUpdate = (await executions(h, task.id)).length;
  await sleep(1600);
  assert.equal((await executions(h, task.id)).length, afterUpdate, 'the old every-second schedule is gone');

  // Back to every second, then delete: the schedule goes with the task; its logs stay.
  await h.server.api(`/api/v1/es-sync/tasks/${task.id}`, { method: 'PUT', body: { cron: '*/1 * * * * *' } });
  await waitFor('a run after the update', async () => (await finished(h, task.id)).length > afterUpdate, 4000);
  assert.equal((await h.server.api(`/api/v1/es-sync/tasks/${task.id}`, { method: 'DELETE' })).status, 204);
  await idle(h, task.id);
  const afterDelete = (await executions(h, task.id)).length;
  await sleep(1600);
  assert.equal((await executions(h, task.id)).length, afterDelete, 'no run after delete');
  assert.ok(afterDelete > 0, 'the execution logs of a deleted task stay');
});

test('runs of a task never overlap: a tick while the previous run is active is skipped and logged', async (t) => {
  const h = await startEsHarness({ inventory: INVENTORY.slice(0, 2), hosts: DATA, esSync: { requestTimeout: 30 } });
  t.after(() => h.close());
  h.es.delayMs = 2200; // each run takes ~2.2 s, the cron fires every second
  const task = await createTask(h, { name: 'slow', cron: '*/1 * * * * *' });
  await waitFor('two finished runs', async () => (await finished(h, task.id)).length >= 2, 9000);
  // A manual run while one is active is refused too. (Under load the run seen may end before the POST lands:
  // then the manual run simply runs, which is no overlap; try again.)
  let refused = false;
  for (let attempt = 0; attempt < 4 && !refused; attempt++) {
    const running = await waitFor('a running run', async () => (await executions(h, task.id)).find((e) => e.status === 'running'), 5000);
    const busy = await h.server.api(`/api/v1/es-sync/tasks/${task.id}/execute`, { method: 'POST', body: { ips: ['192.0.2.41'] } });
    if (busy.status === 409) {
      assert.match(busy.body.error.message, new RegExp(`task ${task.id} is already running \\(execution ${running.id}\\)`));
      refused = true;
    } else assert.equal(busy.status, 201);
  }
  assert.ok(refused, 'a manual run during a scheduled one is refused with 409');
  await h.server.api(`/api/v1/es-sync/tasks/${task.id}/enabled`, { method: 'PUT', body: { enabled: false } });
  await idle(h, task.id);

  const runs = (await executions(h, task.id)).sort((a, b) => a.id - b.id);
  for (let i = 1; i < runs.length; i++) {
    assert.ok(Date.parse(runs[i].startedAt) >= Date.parse(runs[i - 1].finishedAt), `run ${runs[i].id} started after run ${runs[i - 1].id} finished`);
  }
  assert.ok(runs.every((r) => r.status === 'success'), JSON.stringify(runs));
  assert.equal(h.es.maxInFlight, 1, 'never two searches of the task at once');
  const skipped = h.server.logs.filter((l) => l.msg === 'es-sync scheduled run skipped: the previous run of this task is still active');
  assert.ok(skipped.length >= 2, `skips logged (${skipped.length})`);
  assert.equal(skipped[0]!.esSyncTask, task.id);
  const metrics = await fetch(`${h.server.url}/metrics`).then((r) => r.text());
  assert.match(metrics, /gitfleet_es_sync_skipped_runs_total [1-9]/);
});

test('shutdown aborts a run in flight and records it; a run left "running" by a crash is failed at the next start', async (t) => {
  const h = await startEsHarness({ inventory: INVENTORY.slice(0, 2), hosts: DATA, esSync: { requestTimeout: 30 } });
  t.after(() => h.close());
  h.es.delayMs = 20_000;
  const task = await createTask(h, { name: 'cut-off', cron: '0 0 0 1 1 *' });
  const res = await h.server.api(`/api/v1/es-sync/tasks/${task.id}/execute?wait=false`, { method: 'POST', body: { ips: ['192.0.2.41'] } });
  assert.equal(res.status, 202);
  await waitFor('the search to reach ES', async () => h.es.searches.length > 0);
  const t0 = Date.now();
  await h.server.stop();
  assert.ok(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`);

  // Simulate a crash: a run row still `running` in the store, as a killed process leaves it.
  const db = await openDb(join(h.dataDir, 'gitfleet.db'));
  await migrate(db);
  const crashed = await db.run(
    `INSERT INTO es_sync_runs (task_id, task_name, trigger, status, time_range, es_endpoint, index_pattern, started_at) VALUES (?, 'cut-off', 'schedule', 'running', '30d', ?, 'metricbeat-*', ?)`,
    [task.id, h.es.url, new Date().toISOString()],
  );
  await db.close();

  const again = await startTestServer(h.dataDir, { api: { tokens: [TOKEN] }, esSync: { endpoint: h.es.url, maxRetries: 0 } });
  try {
    const aborted = (await again.api(`/api/v1/es-sync/executions/${res.body.executionId}`)).body;
    assert.equal(aborted.status, 'failed');
    assert.match(aborted.error, /shutting down/);
    const interrupted = (await again.api(`/api/v1/es-sync/executions/${crashed.lastID}`)).body;
    assert.equal(interrupted.status, 'failed');
    assert.match(interrupted.error, /^interrupted: the server stopped while this run was in progress$/);
    assert.ok(interrupted.finishedAt);
    assert.ok(again.logs.some((l) => l.msg === 'es-sync runs interrupted by a previous stop marked failed' && l.count === 1));
  } finally {
    await again.stop();
  }
});

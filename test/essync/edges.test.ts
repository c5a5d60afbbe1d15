// ES sync edge cases (issue 22, item 7): esSync.maxManualIps is reachable through /execute (the body limit fits it and
// names itself when exceeded), a run cut off by a crash keeps its host count, the default concurrency is the design's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { parseConfig } from '../../server/src/config.js';
import { openDb } from '../../server/src/db/connection.js';
import { startTestServer } from '../helpers/server.js';
import { TOKEN, startEsHarness, waitFor, type EsHarness } from './harness.js';

let h: EsHarness;
let taskId: number;
before(async () => {
  h = await startEsHarness({ inventory: [['192.0.2.61']], hosts: { '192.0.2.61': { cpu: [0.5], mem: [0.5], disk: [0.5] } }, esSync: { requestTimeout: 30 } });
  const res = await h.server.api('/api/v1/es-sync/tasks', { method: 'POST', body: { name: 'edges', cron: '0 0 0 1 1 *' } });
  taskId = res.body.id;
});
after(async () => { await h.close(); });

/** n distinct IPv6 addresses in their longest text form (39 characters each). */
const longIps = (n: number) => Array.from({ length: n }, (_, i) => `2001:0db8:0000:0000:0000:0000:${(i >> 16).toString(16).padStart(4, '0')}:${(i & 0xffff).toString(16).padStart(4, '0')}`);

test('esSync.maxManualIps IPs fit through /execute (a 4 MB body); one more is refused naming the field and the setting', async () => {
  const ips = longIps(100_000);
  const body = JSON.stringify({ ips });
  assert.ok(body.length > 4_000_000, `${body.length} bytes`);
  const res = await h.server.api(`/api/v1/es-sync/tasks/${taskId}/execute?wait=false`, { method: 'POST', body });
  assert.equal(res.status, 202, JSON.stringify(res.body).slice(0, 300));
  const run = await waitFor('the run to finish', async () => {
    const r = (await h.server.api(`/api/v1/es-sync/executions/${res.body.executionId}?limit=1`)).body;
    return r.status !== 'running' && r;
  }, 60_000);
  assert.equal(run.totalHosts, 100_000);
  assert.equal(run.notInPoolCount, 100_000);

  const over = await h.server.api(`/api/v1/es-sync/tasks/${taskId}/execute`, { method: 'POST', body: { ips: longIps(100_001) } });
  assert.equal(over.status, 400);
  assert.equal(over.body.error.field, 'ips');
  assert.match(over.body.error.message, /at most 100000 per run \(esSync\.maxManualIps\)/);
});

test('a body past the /execute limit is a 413 naming the limit, the field and the setting; other routes name theirs', async () => {
  const huge = JSON.stringify({ ips: ['192.0.2.1'], pad: 'x'.repeat(6_600_000) });
  const res = await h.server.api(`/api/v1/es-sync/tasks/${taskId}/execute`, { method: 'POST', body: huge });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.code, 'payload_too_large');
  assert.equal(res.body.error.field, 'ips');
  assert.match(res.body.error.message, /^request body is \d+ bytes; at most 6465536 bytes \(64 bytes per IP of esSync\.maxManualIps = 100000, plus 64 KiB\)$/);

  const other = await h.server.api('/api/v1/es-sync/tasks', { method: 'POST', body: JSON.stringify({ name: 'x', pad: 'x'.repeat(1_100_000) }) });
  assert.equal(other.status, 413);
  assert.match(other.body.error.message, /at most 1048576 bytes \(the API's JSON body limit\)/);
});

test('a run cut off by a crash keeps the number of hosts it was asked for; the ones without a result count as failed', async () => {
  h.es.delayMs = 20_000;
  try {
    const ips = ['192.0.2.61', '192.0.2.62', '198.51.100.9'];
    const res = await h.server.api(`/api/v1/es-sync/tasks/${taskId}/execute?wait=false`, { method: 'POST', body: { ips } });
    assert.equal(res.status, 202);
    await waitFor('the search to reach ES', async () => h.es.inFlight > 0);
    // The database as a kill -9 now would leave it (a consistent snapshot of what is committed).
    const crashed = join(h.dataDir, 'crashed');
    await mkdir(crashed);
    const src = await openDb(join(h.dataDir, 'gitfleet.db'));
    await src.run('VACUUM INTO ?', [join(crashed, 'gitfleet.db')]);
    await src.close();

    const again = await startTestServer(crashed, { api: { tokens: [TOKEN] }, esSync: { endpoint: h.es.url, maxRetries: 0 } });
    try {
      const run = (await again.api(`/api/v1/es-sync/executions/${res.body.executionId}`)).body;
      assert.equal(run.status, 'failed');
      assert.match(run.error, /^interrupted/);
      assert.deepEqual([run.totalHosts, run.successCount, run.failedCount, run.notInPoolCount, run.noDataCount], [3, 0, 3, 0, 0]);
    } finally {
      await again.stop();
    }
  } finally {
    h.es.delayMs = 0;
  }
});

test('the default concurrency is the design\'s 10 searches in flight', () => {
  assert.equal(parseConfig({}).esSync.concurrency, 10);
});

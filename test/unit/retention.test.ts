// History retention through the real server and SQLite: what is old and finished goes, with its rows;
// what still runs, what is recent, and the deployments units and hosts point at stay.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

describe('history retention', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let s: TestServer;
  const ago = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

  before(async () => {
    tmp = await tempDir('gf-retention-');
    s = await startTestServer(join(tmp.path, 'data'), { retention: { deployments: 90, runs: 30, webhookDeliveries: 7 } });
    const db = s.ctx.db;
    const dep = async (id: number, status: string, finished: string | null, created: string) => {
      await db.run("INSERT INTO deployments (id, trigger, branch, status, created_at, finished_at) VALUES (?, 'manual', 'main', ?, ?, ?)", [id, status, created, finished]);
      await db.run("INSERT INTO deployment_units (deployment_id, unit, status) VALUES (?, 'app/prod/web', 'succeeded')", [id]);
      await db.run("INSERT INTO host_pushes (deployment_id, unit, ip, status) VALUES (?, 'app/prod/web', '192.0.2.1', 'succeeded')", [id]);
    };
    await dep(101, 'succeeded', ago(200), ago(200));     // old: goes
    await dep(102, 'failed', ago(100), ago(100));        // old: goes
    await dep(103, 'succeeded', ago(150), ago(150));     // old, but the unit's last deployment: stays
    await dep(104, 'succeeded', ago(120), ago(120));     // old, but a host's current commit came from it: stays
    await dep(105, 'queued', null, ago(300));            // still queued: stays
    await dep(106, 'succeeded', ago(10), ago(10));       // recent: stays
    await db.run("INSERT INTO unit_state (unit, last_commit, last_deployed_at, deployment_id) VALUES ('app/prod/web', 'abc', ?, 103)", [ago(150)]);
    await db.run("INSERT INTO unit_hosts (unit, ip, commit_sha, deployed_at, deployment_id) VALUES ('app/prod/web', '192.0.2.9', 'abd', ?, 104)", [ago(120)]);
    for (const [key, when] of [['old', ago(8)], ['new', ago(1)]] as Array<[string, string]>) {
      await db.run("INSERT INTO webhook_deliveries (key, source, received_at) VALUES (?, 'gitlab', ?)", [key, when]);
    }
    for (const [status, when] of [['succeeded', ago(40)], ['running', ago(40)], ['succeeded', ago(2)]] as Array<[string, string]>) {
      await db.run("INSERT INTO host_sync_runs (source, source_type, trigger, status, started_at) VALUES ('cloud', 'http', 'schedule', ?, ?)", [status, when]);
      await db.run("INSERT INTO upstream_sync_runs (trigger, status, started_at) VALUES ('schedule', ?, ?)", [status, when]);
      await db.run("INSERT INTO agent_runs (trigger, status, created_at, finished_at) VALUES ('api', ?, ?, ?)", [status, when, status === 'running' ? null : when]);
    }
  });
  after(async () => {
    await s?.stop();
    await tmp?.cleanup();
  });

  it('POST /api/v1/retention/run deletes exactly what is past its limit, with the rows that belong to it', async () => {
    const r = await s.api('/api/v1/retention/run', { method: 'POST' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.deleted, { deployments: 2, hostSyncRuns: 1, upstreamSyncRuns: 1, agentRuns: 1, webhookDeliveries: 1 });
    const ids = (await s.ctx.db.all<{ id: number }>('SELECT id FROM deployments WHERE id > 100 ORDER BY id')).map((x) => x.id);
    assert.deepEqual(ids, [103, 104, 105, 106]);
    const orphans = await s.ctx.db.all('SELECT deployment_id FROM host_pushes WHERE deployment_id IN (101, 102) UNION ALL SELECT deployment_id FROM deployment_units WHERE deployment_id IN (101, 102)');
    assert.deepEqual(orphans, [], 'unit and host rows went with their deployments');
    assert.deepEqual((await s.ctx.db.all<{ key: string }>('SELECT key FROM webhook_deliveries')).map((x) => x.key), ['new']);
    assert.deepEqual((await s.ctx.db.all<{ status: string }>('SELECT status FROM host_sync_runs ORDER BY id')).map((x) => x.status), ['running', 'succeeded']);
    assert.equal((await s.api('/api/v1/deployments/101')).status, 404);

    const again = await s.api('/api/v1/retention/run', { method: 'POST' });
    assert.deepEqual(again.body.deleted, { deployments: 0, hostSyncRuns: 0, upstreamSyncRuns: 0, agentRuns: 0, webhookDeliveries: 0 });
    const status = await s.api('/api/v1/retention');
    assert.equal(status.body.config.deployments, 90);
    assert.deepEqual(status.body.last.deleted, again.body.deleted);
  });

  it('0 days keeps that history forever; bad values are refused at start', async () => {
    const { parseConfig } = await import('../../server/src/config.js');
    assert.equal(parseConfig({ retention: { deployments: 0 } }).retention.deployments, 0);
    assert.throws(() => parseConfig({ retention: { runs: -1 } }), /retention\.runs/);
    assert.throws(() => parseConfig({ retention: { interval: 5 } }), /retention\.interval/);
  });
});

// Webhook intake under concurrency: deliveries fired all at once (built first, then sent together) against a real
// server. One delivery key makes exactly one deployment however many copies overlap; hundreds of pushes arriving
// during a deployment make at most one waiting follow-up; a delivery refused (queue full) can be delivered again.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { deliver, gitlabPush, type Delivery } from '../helpers/webhooks.js';

const TOKEN = 'intake-token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every delivery sent at once: the requests are built before, then all started in the same tick. */
const storm = (s: TestServer, ds: Delivery[]) => Promise.all(ds.map((d) => deliver(`${s.url}/webhooks/gitlab`, d)));

async function deploymentIds(s: TestServer): Promise<number[]> {
  return (await s.ctx.db.all<{ id: number }>('SELECT id FROM deployments ORDER BY id')).map((r) => r.id);
}

/** Until the deployment's host push is running (it then hangs on the paused host). */
async function untilHostPushRunning(s: TestServer, id: number): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await s.ctx.db.get("SELECT 1 FROM host_pushes WHERE deployment_id = ? AND status = 'running'", [id]))) {
    if (Date.now() > end) throw new Error(`deployment ${id} never reached its host`);
    await sleep(50);
  }
}

describe('webhook intake under concurrency', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let ip: string;
  const serverConfig = (extra: Record<string, unknown> = {}) => ({
    repo: { url: fx.origin },
    webhook: { gitlab: { token: TOKEN } },
    hostSync: { converge: { enabled: false } },
    // A paused host hangs a push (TCP connects, no banner) until it is resumed.
    deploy: { retries: 0, hostTimeout: 120, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 60, reuse: false } },
    ...extra,
  });

  before(async () => {
    tmp = await tempDir('gf-intake-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 1);
    ip = fleet.ips[0]!;
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({ 'app/prod/web/etc/web.conf': 'v0\n' });
    s = await startTestServer(join(tmp.path, 'data'), serverConfig());
    await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['web'] } });
  });
  after(async () => {
    await fleet?.resumeHost(ip).catch(() => undefined);
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('200 copies of one delivery sent at once make exactly one deployment', async () => {
    const prev = await fx.head();
    const c = await fx.commit({ 'app/prod/web/etc/web.conf': 'v1\n' });
    const known = await deploymentIds(s);
    const res = await storm(s, Array.from({ length: 200 }, () => gitlabPush({ before: prev, after: c, token: TOKEN, idempotencyKey: 'one-delivery-uuid' })));
    const accepted = res.filter((r) => r.status === 202);
    assert.equal(accepted.length, 1, `one copy accepted, got ${accepted.length}: ${JSON.stringify(accepted.map((r) => r.body))}`);
    const dupes = res.filter((r) => r.status === 200);
    assert.equal(dupes.length, 199);
    const id = accepted[0]!.body.queued[0];
    for (const r of dupes) assert.match(r.body.ignored, /^duplicate delivery/);
    assert.deepEqual((await deploymentIds(s)).filter((x) => !known.includes(x)), [id], 'exactly one deployment recorded');
    assert.equal((await s.ctx.deployer.wait(id)).status, 'succeeded');
    const row = await s.ctx.db.get<{ deployment_id: number }>('SELECT deployment_id FROM webhook_deliveries WHERE key = ?', ['gitlab:one-delivery-uuid']);
    assert.equal(row?.deployment_id, id, 'the delivery is linked to its deployment');
    // A later redelivery is still caught and names the deployment.
    const again = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: prev, after: c, token: TOKEN, idempotencyKey: 'one-delivery-uuid' }));
    assert.deepEqual(again, { status: 200, body: { queued: [], ignored: `duplicate delivery (deployment ${id})` } });
  });

  it('200 pushes of different commits arriving during a deployment make one follow-up, which deploys the newest head', async () => {
    await fleet.pauseHost(ip);
    const prev = await fx.head();
    const c0 = await fx.commit({ 'app/prod/web/etc/web.conf': 'c0\n' });
    const first = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: prev, after: c0, token: TOKEN }));
    assert.equal(first.status, 202);
    const d0 = first.body.queued[0] as number;
    await untilHostPushRunning(s, d0);
    const commits = await fx.commitMany(200, (i) => ({ 'app/prod/web/etc/web.conf': `storm ${i}\n` }));
    const known = await deploymentIds(s);
    const res = await storm(s, commits.map((c, i) => gitlabPush({ before: i ? commits[i - 1]! : c0, after: c, token: TOKEN })));
    assert.deepEqual([...new Set(res.map((r) => r.status))], [202], JSON.stringify(res.find((r) => r.status !== 202)));
    const ids = [...new Set(res.map((r) => r.body.queued[0] as number))];
    assert.equal(ids.length, 1, `one follow-up for all 200, got ${ids.length}: ${ids.join(', ')}`);
    assert.notEqual(ids[0], d0);
    assert.equal(res.filter((r) => r.body.coalesced === false).length, 1);
    assert.deepEqual((await deploymentIds(s)).filter((x) => !known.includes(x)), ids, 'no other deployment recorded');
    const waiting = await s.ctx.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM deployments WHERE status = 'queued'");
    assert.equal(waiting?.n, 1);
    await fleet.resumeHost(ip);
    assert.equal((await s.ctx.deployer.wait(d0)).status, 'succeeded');
    const follow = await s.ctx.deployer.wait(ids[0]!);
    assert.equal(follow.status, 'succeeded');
    assert.equal(follow.after, commits.at(-1));
    assert.equal(await readFile(fleet.path(ip, '/etc/web.conf'), 'utf8'), 'storm 199\n');
  });

  it('identical syncs submitted at once while the unit is busy coalesce into one', async () => {
    await fleet.pauseHost(ip);
    const busy = await s.ctx.deployer.submit({ kind: 'sync', trigger: 'manual', units: ['app/prod/web'], actor: 'busy' });
    await untilHostPushRunning(s, busy.id);
    const out = await Promise.all(Array.from({ length: 100 }, () => s.ctx.deployer.submit({ kind: 'sync', trigger: 'manual', units: ['app/prod/web'] })));
    const ids = [...new Set(out.map((o) => o.id))];
    assert.equal(ids.length, 1, `one follow-up, got ${ids.join(', ')}`);
    assert.equal(out.filter((o) => !o.coalesced).length, 1);
    await fleet.resumeHost(ip);
    assert.equal((await s.ctx.deployer.wait(busy.id)).status, 'succeeded');
    assert.equal((await s.ctx.deployer.wait(ids[0]!)).status, 'succeeded');
  });

  it('a delivery refused because the queue is full is not remembered: its redelivery is deployed', async () => {
    const s2 = await startTestServer(join(tmp.path, 'data2'), serverConfig({ deploy: { ...serverConfig().deploy, queueSize: 1 } }));
    try {
      await s2.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['web'] } });
      await fleet.pauseHost(ip);
      const running = await s2.ctx.deployer.submit({ kind: 'sync', trigger: 'manual', units: ['app/prod/web'], actor: 'first' });
      await untilHostPushRunning(s2, running.id);
      const waiting = await s2.ctx.deployer.submit({ kind: 'sync', trigger: 'manual', units: ['app/prod/web'], actor: 'second' });
      const prev = await fx.head();
      const c = await fx.commit({ 'app/prod/web/etc/web.conf': 'after the queue drained\n' });
      const d = gitlabPush({ before: prev, after: c, token: TOKEN, idempotencyKey: 'refused-then-redelivered' });
      const refused = await deliver(`${s2.url}/webhooks/gitlab`, d);
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(await s2.ctx.db.get('SELECT 1 FROM webhook_deliveries WHERE key = ?', ['gitlab:refused-then-redelivered']), undefined);
      await fleet.resumeHost(ip);
      await s2.ctx.deployer.wait(running.id);
      await s2.ctx.deployer.wait(waiting.id);
      const redelivered = await deliver(`${s2.url}/webhooks/gitlab`, d);
      assert.equal(redelivered.status, 202, JSON.stringify(redelivered.body));
      assert.equal((await s2.ctx.deployer.wait(redelivered.body.queued[0])).status, 'succeeded');
    } finally {
      await fleet.resumeHost(ip).catch(() => undefined);
      await s2.stop();
    }
  });
});

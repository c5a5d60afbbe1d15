// A new host's converge does not wait behind a push to the unit's dead hosts; a run for a host that push is
// still on waits for it (never two pushes to one host of a unit at once); the unit's last deployed commit stays
// the push's.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getUnitState } from '../../server/src/db/deployments.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { deliver, gitlabPush } from '../helpers/webhooks.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const UNIT = 'app/prod/web';

describe('converge while the unit\'s other hosts are dead', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let A: string, B: string, X: string;

  const converges = async (): Promise<Array<{ id: number; trigger: string; status: string; request: { hosts?: string[] } }>> => {
    const ids = (await s.api('/api/v1/deployments?trigger=converge&limit=100')).body.items.map((d: { id: number }) => d.id);
    return Promise.all(ids.map(async (id: number) => (await s.api(`/api/v1/deployments/${id}`)).body));
  };
  async function convergeOf(ip: string, timeoutMs: number) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const d = (await converges()).find((x) => x.trigger === 'converge' && x.request.hosts?.includes(ip) && ['succeeded', 'partial', 'failed'].includes(x.status));
      if (d) return d;
      if (Date.now() > end) return undefined;
      await sleep(100);
    }
  }

  before(async () => {
    tmp = await tempDir('gf-conv-dead-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 3);
    [A, B, X] = fleet.ips as [string, string, string];
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({ 'app/prod/web/etc/web.conf': 'v0\n' });
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin },
      hostSync: { converge: { debounceMs: 100 } },
      // A paused host accepts TCP and never answers: its push hangs for the connect timeout.
      deploy: { retries: 0, hostTimeout: 120, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 25, reuse: false } },
    });
    for (const ip of [A, B]) assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['web'] } })).status, 201);
    for (const ip of [A, B]) assert.equal((await convergeOf(ip, 20_000))?.status, 'succeeded');
  });
  after(async () => {
    for (const ip of [A, B]) await fleet?.resumeHost(ip).catch(() => undefined);
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('converges a new host within seconds while a push hangs on the dead ones, and a run for a dead host waits for that push', async () => {
    await fleet.pauseHost(A);
    await fleet.pauseHost(B);
    const prev = await fx.head();
    const c1 = await fx.commit({ 'app/prod/web/etc/web.conf': 'v1\n' });
    const push = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: prev, after: c1 }));
    assert.equal(push.status, 202);
    const pushId = push.body.queued[0] as number;
    const end = Date.now() + 20_000;
    while ((await s.ctx.db.all("SELECT 1 FROM host_pushes WHERE deployment_id = ? AND status = 'running'", [pushId])).length < 2) {
      assert.ok(Date.now() < end, 'the push never reached the dead hosts');
      await sleep(50);
    }

    const t0 = Date.now();
    assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip: X, env: 'prod', apps: ['web'] } })).status, 201);
    const conv = await convergeOf(X, 15_000);
    const took = Date.now() - t0;
    assert.ok(conv, 'the converge of the new host finished');
    assert.ok(took < 8_000, `converged in ${took} ms, behind the dead hosts' timeouts`);
    assert.equal(conv.status, 'succeeded');
    assert.equal(await readFile(fleet.path(X, '/etc/web.conf'), 'utf8'), 'v1\n');
    assert.equal((await s.api(`/api/v1/deployments/${pushId}`)).body.status, 'running', 'the push is still on the dead hosts');

    // A run for a host the push is still on (a self-heal of A) must wait: never two pushes to one host at once.
    const heal = await s.ctx.deployer.submit({ kind: 'sync', trigger: 'self-heal', actor: 'test', units: [UNIT], hosts: [A] });
    await sleep(1_500);
    assert.equal((await s.api(`/api/v1/deployments/${heal.id}`)).body.status, 'queued', 'waits for the push on A');
    assert.equal((await s.ctx.db.all('SELECT 1 FROM host_pushes WHERE deployment_id = ?', [heal.id])).length, 0);

    await fleet.resumeHost(A);
    await fleet.resumeHost(B);
    const done = await s.ctx.deployer.wait(pushId);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal((await s.ctx.deployer.wait(heal.id)).status, 'succeeded');
    const [pushA] = (await s.api(`/api/v1/deployments/${pushId}`)).body.hosts.filter((h: { ip: string }) => h.ip === A);
    const [healA] = (await s.api(`/api/v1/deployments/${heal.id}`)).body.hosts;
    assert.ok(healA.startedAt >= pushA.finishedAt, `the self-heal reached A after the push (${healA.startedAt} vs ${pushA.finishedAt})`);
    assert.equal((await getUnitState(s.ctx.db, UNIT))?.lastCommit, c1, 'the unit\'s last deployed commit is the push\'s');
    for (const ip of [A, B, X]) assert.equal(await readFile(fleet.path(ip, '/etc/web.conf'), 'utf8'), 'v1\n');
  });
});

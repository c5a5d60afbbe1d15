// Deployments of one unit never overlap; requests arriving meanwhile coalesce into one follow-up;
// a finished deployment never absorbs a new request.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { deliver, gitlabPush } from '../helpers/webhooks.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('coalescing', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let ip: string;

  before(async () => {
    tmp = await tempDir('gf-coalesce-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 1);
    ip = fleet.ips[0]!;
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({ 'app/prod/web/etc/web.conf': 'v0\n' });
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin },
      hostSync: { converge: { enabled: false } },
      deploy: { retries: 0, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 2, reuse: false } },
    });
    await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['web'] } });
  });
  after(async () => {
    await fleet.resumeHost(ip).catch(() => undefined);
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('manual syncs of a busy unit coalesce into one follow-up, and never into a finished one', async () => {
    await fleet.pauseHost(ip); // the first sync hangs on the host until its connect timeout
    const first = await s.ctx.deployer.submit({ kind: 'sync', trigger: 'manual', units: ['app/prod/web'] });
    await sleep(200);
    const second = await s.ctx.deployer.submit({ kind: 'sync', trigger: 'manual', units: ['app/prod/web'] });
    const third = await s.ctx.deployer.submit({ kind: 'sync', trigger: 'manual', units: ['app/prod/web'] });
    assert.equal(second.coalesced, false);
    assert.notEqual(second.id, first.id);
    assert.deepEqual(third, { id: second.id, coalesced: true });
    assert.equal(s.ctx.deployer.queueDepth(), 1);
    await fleet.resumeHost(ip);
    await s.ctx.deployer.wait(first.id);
    await s.ctx.deployer.wait(second.id);
    const u1 = (await s.api(`/api/v1/deployments/${first.id}`)).body.unitResults[0];
    const u2 = (await s.api(`/api/v1/deployments/${second.id}`)).body.unitResults[0];
    assert.ok(u2.startedAt >= u1.finishedAt, `the follow-up's unit ran after the first's (${u2.startedAt} vs ${u1.finishedAt})`);
    const again = await s.ctx.deployer.submit({ kind: 'sync', trigger: 'manual', units: ['app/prod/web'] });
    assert.equal(again.coalesced, false);
    assert.equal((await s.ctx.deployer.wait(again.id)).status, 'succeeded');
  });

  it('pushes arriving during a push deployment coalesce into one follow-up that deploys the newest head', async () => {
    await fleet.pauseHost(ip);
    const c1 = await fx.commit({ 'app/prod/web/etc/web.conf': 'v1\n' });
    const r1 = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: c1, after: c1 }));
    await sleep(300);
    const c2 = await fx.commit({ 'app/prod/web/etc/web.conf': 'v2\n' });
    const r2 = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: c1, after: c2 }));
    const c3 = await fx.commit({ 'app/prod/web/etc/web.conf': 'v3\n' });
    const r3 = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: c2, after: c3 }));
    assert.equal(r2.status, 202);
    assert.equal(r3.status, 202);
    assert.notEqual(r2.body.queued[0], r1.body.queued[0]);
    assert.deepEqual(r3.body, { queued: [r2.body.queued[0]], coalesced: true });
    await fleet.resumeHost(ip);
    await s.ctx.deployer.wait(r1.body.queued[0]);
    const follow = await s.ctx.deployer.wait(r2.body.queued[0]);
    assert.equal(follow.status, 'succeeded');
    assert.equal(follow.after, c3);
    assert.equal(await readFile(fleet.path(ip, '/etc/web.conf'), 'utf8'), 'v3\n');
  });
});

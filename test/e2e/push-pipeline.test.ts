// End to end through the real server: git commits → GitLab/GitHub webhook → rsync over SSH to simulated hosts → records.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { deliver, fixture, githubPush, gitlabPush } from '../helpers/webhooks.js';

const TOKEN = 'gitlab-token-for-tests';
const GH_SECRET = 'github-secret-for-tests';
const API_TOKEN = 'api-token-for-tests-0123456789';

describe('push pipeline end to end', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let shopA: string; let shopB: string; let billing: string;
  let base: string;

  before(async () => {
    tmp = await tempDir('gf-e2e-');
    fleet = await startFleet(`${tmp.path}/fleet`, 3);
    [shopA, shopB, billing] = fleet.ips as [string, string, string];
    fx = await createGitFixture(`${tmp.path}/git`);
    base = await fx.commit({ 'README.md': 'config repo\n', 'nginx/prod/shop/etc/nginx/conf.d/shop.conf': 'v0\n' });
    s = await startTestServer(`${tmp.path}/data`, {
      repo: { url: fx.origin },
      webhook: { gitlab: { token: TOKEN }, github: { secret: GH_SECRET } },
      api: { tokens: [API_TOKEN] },
      inventory: { envAliases: { bx: 'prod' } },
      deploy: {
        owner: 'www-data', group: 'www-data', retries: 1, retryBackoff: 0.1, hostTimeout: 30,
        units: { 'tomcat/prod/billing': { owner: 'nobody', group: 'nogroup' } },
        ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 5 },
      },
    });
    for (const [ip, apps] of [[shopA, ['shop']], [shopB, ['shop']], [billing, ['billing']]] as const) {
      const r = await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
  });

  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  const waitDeployment = async (id: number) => {
    await s.ctx.deployer.wait(id);
    const r = await s.api(`/api/v1/deployments/${id}`);
    assert.equal(r.status, 200);
    return r.body;
  };

  it('deploys two commits touching two units to exactly their hosts, with the right owner', async () => {
    await fx.commit({ 'nginx/prod/shop/etc/nginx/conf.d/shop.conf': 'v1\n', 'nginx/bx/shop/etc/nginx/conf.d/shop-bx.conf': 'bx\n' });
    const head = await fx.commit({ 'tomcat/prod/billing/opt/billing/conf/app.properties': 'port=9090\n', 'docs/notes.md': 'not a unit\n' });
    const r = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: base, after: head, token: TOKEN }));
    assert.equal(r.status, 202);
    assert.equal(r.body.queued.length, 1);
    const d = await waitDeployment(r.body.queued[0]);
    assert.equal(d.status, 'succeeded', JSON.stringify(d));
    assert.deepEqual(d.units, ['nginx/bx/shop', 'nginx/prod/shop', 'tomcat/prod/billing']);
    assert.equal(d.after, head);
    for (const ip of [shopA, shopB]) {
      assert.equal(await readFile(fleet.path(ip, '/etc/nginx/conf.d/shop.conf'), 'utf8'), 'v1\n');
      assert.equal(await readFile(fleet.path(ip, '/etc/nginx/conf.d/shop-bx.conf'), 'utf8'), 'bx\n', 'alias bx → prod');
      assert.equal(existsSync(fleet.path(ip, '/opt/billing/conf/app.properties')), false);
      const st = await stat(fleet.path(ip, '/etc/nginx/conf.d/shop.conf'));
      assert.equal(st.uid, 33, 'owned by www-data (uid 33)');
      assert.equal(st.mode & 0o777, 0o644);
    }
    assert.equal(await readFile(fleet.path(billing, '/opt/billing/conf/app.properties'), 'utf8'), 'port=9090\n');
    assert.equal((await stat(fleet.path(billing, '/opt/billing/conf/app.properties'))).uid, 65534, 'per-unit owner override');
    assert.equal(existsSync(fleet.path(billing, '/etc/nginx/conf.d/shop.conf')), false);
    assert.equal(existsSync('/etc/nginx/conf.d/shop-bx.conf'), false, 'nothing lands on the machine itself');
    assert.equal(existsSync(fleet.path(shopA, '/docs/notes.md')) || existsSync(fleet.path(shopA, '/notes.md')), false);
    // /etc keeps its own attributes (implied directories are not sent)
    assert.equal((await stat(fleet.path(shopA, '/etc'))).mode & 0o777, 0o755);
    const hosts = await s.api('/api/v1/units/nginx/prod/shop/hosts');
    assert.deepEqual(hosts.body.hosts.map((h: { ip: string; commit: string }) => [h.ip, h.commit]), [[shopA, head], [shopB, head]]);
    assert.equal(hosts.body.lastCommit, head);
  });

  it('removes on the hosts a file removed in git, and nothing else', async () => {
    await writeFile(fleet.path(shopA, '/etc/nginx/conf.d/manual.conf'), 'written by hand\n');
    const prev = await fx.head();
    const head = await fx.commit({ 'nginx/bx/shop/etc/nginx/conf.d/shop-bx.conf': null });
    const r = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: prev, after: head, token: TOKEN }));
    assert.equal(r.status, 202);
    const d = await waitDeployment(r.body.queued[0]);
    assert.equal(d.status, 'succeeded');
    assert.deepEqual(d.units, ['nginx/bx/shop']);
    for (const ip of [shopA, shopB]) {
      assert.equal(existsSync(fleet.path(ip, '/etc/nginx/conf.d/shop-bx.conf')), false);
      assert.equal(await readFile(fleet.path(ip, '/etc/nginx/conf.d/shop.conf'), 'utf8'), 'v1\n');
    }
    assert.equal(await readFile(fleet.path(shopA, '/etc/nginx/conf.d/manual.conf'), 'utf8'), 'written by hand\n');
    assert.ok(d.hosts.every((h: { changes: string[] }) => h.changes.includes('-etc/nginx/conf.d/shop-bx.conf')));
  });

  it('follows a rename: the old path goes from the hosts, the new one arrives', async () => {
    const c1 = await fx.head();
    const c2 = await fx.commit({ 'nginx/prod/shop/etc/nginx/old-name.conf': 'renamed content\n' });
    await waitDeployment((await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: c1, after: c2, token: TOKEN }))).body.queued[0]);
    assert.equal(existsSync(fleet.path(shopA, '/etc/nginx/old-name.conf')), true);
    const c3 = await fx.commit({ 'nginx/prod/shop/etc/nginx/old-name.conf': null, 'nginx/prod/shop/etc/nginx/new-name.conf': 'renamed content\n' });
    const d = await waitDeployment((await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: c2, after: c3, token: TOKEN }))).body.queued[0]);
    assert.equal(d.status, 'succeeded');
    for (const ip of [shopA, shopB]) {
      assert.equal(existsSync(fleet.path(ip, '/etc/nginx/old-name.conf')), false);
      assert.equal(await readFile(fleet.path(ip, '/etc/nginx/new-name.conf'), 'utf8'), 'renamed content\n');
    }
  });

  it('rejects a wrong token with 401 and queues nothing', async () => {
    const before = (await s.api('/api/v1/deployments')).body.total;
    const r = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: base, after: await fx.head(), token: 'wrong' }));
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'unauthorized');
    const missing = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: base, after: await fx.head() }));
    assert.equal(missing.status, 401);
    assert.equal((await s.api('/api/v1/deployments')).body.total, before);
  });

  it('acknowledges tag pushes, other branches, deletions, duplicates and deployed commits without queueing', async () => {
    const total = async () => (await s.api('/api/v1/deployments')).body.total as number;
    const n = await total();
    const tag = await fetch(`${s.url}/webhooks/gitlab`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Tag Push Hook', 'x-gitlab-token': TOKEN }, body: JSON.stringify(fixture('gitlab-tag-push.json')) });
    assert.equal(tag.status, 200);
    assert.deepEqual((await tag.json()).queued, []);
    const other = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: base, after: 'a'.repeat(40), token: TOKEN, branch: 'feature/x' }));
    assert.equal(other.status, 200);
    assert.match(other.body.ignored, /not the deployed branch/);
    const deleted = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: base, after: '0'.repeat(40), token: TOKEN }));
    assert.equal(deleted.status, 200);
    assert.match(deleted.body.ignored, /deletion/);
    const already = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: base, after: await fx.head(), token: TOKEN }));
    assert.equal(already.status, 200);
    assert.match(already.body.ignored, /already deployed/);
    const garbage = await fetch(`${s.url}/webhooks/gitlab`, { method: 'POST', headers: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': TOKEN }, body: '{"object_kind":"push","ref":"refs/heads/main","before":"--upload-pack=x","after":"x"}' });
    assert.equal(garbage.status, 400);
    const big = await fetch(`${s.url}/webhooks/gitlab`, { method: 'POST', headers: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': TOKEN }, body: 'x'.repeat(6 * 1024 * 1024) });
    assert.equal(big.status, 413);
    assert.equal(await total(), n);

    // The same delivery twice (GitLab's Idempotency-Key): one deployment.
    const prev = await fx.head();
    const head = await fx.commit({ 'nginx/prod/shop/etc/nginx/conf.d/shop.conf': 'v2\n' });
    const d1 = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: prev, after: head, token: TOKEN, idempotencyKey: 'delivery-1' }));
    const d2 = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: prev, after: head, token: TOKEN, idempotencyKey: 'delivery-1' }));
    assert.equal(d1.status, 202);
    assert.equal(d2.status, 200);
    assert.match(d2.body.ignored, /duplicate/);
    await waitDeployment(d1.body.queued[0]);
    assert.equal(await total(), n + 1);
  });

  it('accepts GitHub pushes with a valid signature only, and answers ping', async () => {
    const ping = await fetch(`${s.url}/webhooks/github`, { method: 'POST', headers: { 'x-github-event': 'ping', 'x-hub-signature-256': githubPush({ before: base, after: base, secret: GH_SECRET }).headers['x-hub-signature-256']! }, body: JSON.stringify(fixture('github-ping.json')) });
    assert.equal(ping.status, 401, 'ping signed over another body is rejected');
    const prev = await fx.head();
    const head = await fx.commit({ 'nginx/prod/shop/etc/nginx/conf.d/shop.conf': 'v3\n' });
    const bad = githubPush({ before: prev, after: head, secret: 'not-the-secret' });
    assert.equal((await deliver(`${s.url}/webhooks/github`, bad)).status, 401);
    const good = githubPush({ before: prev, after: head, secret: GH_SECRET, delivery: 'gh-1' });
    const r = await deliver(`${s.url}/webhooks/github`, good);
    assert.equal(r.status, 202);
    const d = await waitDeployment(r.body.queued[0]);
    assert.equal(d.trigger, 'github');
    assert.equal(d.status, 'succeeded');
    assert.equal(await readFile(fleet.path(shopB, '/etc/nginx/conf.d/shop.conf'), 'utf8'), 'v3\n');
    const again = await deliver(`${s.url}/webhooks/github`, githubPush({ before: prev, after: head, secret: GH_SECRET, delivery: 'gh-1' }));
    assert.equal(again.status, 200, 'redelivery of the same X-GitHub-Delivery queues nothing');
  });

  it('records a stopped host as failed with a clear reason while the others succeed', async () => {
    await fleet.stopHost(shopB);
    try {
      const prev = await fx.head();
      const head = await fx.commit({ 'nginx/prod/shop/etc/nginx/conf.d/shop.conf': 'v4\n' });
      const r = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: prev, after: head, token: TOKEN }));
      const d = await waitDeployment(r.body.queued[0]);
      assert.equal(d.status, 'partial');
      const a = d.hosts.find((h: { ip: string }) => h.ip === shopA);
      const b = d.hosts.find((h: { ip: string }) => h.ip === shopB);
      assert.equal(a.status, 'succeeded');
      assert.equal(b.status, 'failed');
      assert.match(b.reason, /unreachable|connection refused/);
      assert.equal(b.attempts, 2, 'a transient failure is retried');
      assert.equal(await readFile(fleet.path(shopA, '/etc/nginx/conf.d/shop.conf'), 'utf8'), 'v4\n');
      const unit = await s.api('/api/v1/units/nginx/prod/shop/hosts');
      assert.notEqual(unit.body.lastCommit, head, 'the unit commit advances only when every host succeeded');
      assert.equal(unit.body.hosts.find((h: { ip: string }) => h.ip === shopA).commit, head);
      const failed = await s.api('/api/v1/deployments?status=partial&unit=nginx/prod/shop');
      assert.ok(failed.body.items.some((x: { id: number }) => x.id === d.id));
    } finally {
      await fleet.startHost(shopB);
    }
  });

  it('GET /sync restores a file deleted by hand (full sync), and needs the API token', async () => {
    await rm(fleet.path(shopB, '/etc/nginx/conf.d/shop.conf'));
    const noAuth = await fetch(`${s.url}/sync?env=prod&app=shop&mod=nginx`);
    assert.equal(noAuth.status, 401);
    const bad = await s.api('/sync?env=prod&app=../shop');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'app');
    const unknown = await s.api('/sync?env=prod&app=nosuchapp');
    assert.equal(unknown.status, 404);
    const r = await s.api('/sync?env=prod&app=shop&mod=nginx');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'succeeded');
    assert.deepEqual(r.body.units, ['nginx/prod/shop']);
    assert.equal(await readFile(fleet.path(shopB, '/etc/nginx/conf.d/shop.conf'), 'utf8'), 'v4\n');
    const hostB = r.body.hosts.find((h: { ip: string }) => h.ip === shopB);
    assert.deepEqual(hostB.changes, ['+etc/nginx/conf.d/shop.conf']);
    assert.deepEqual(r.body.hosts.find((h: { ip: string }) => h.ip === shopA).changes, [], 'an in-sync host gets nothing');
    const async = await s.api('/sync?env=prod&app=shop&wait=false');
    assert.equal(async.status, 202);
    assert.ok(async.body.id > 0);
    assert.deepEqual(async.body.units, ['nginx/bx/shop', 'nginx/prod/shop'].filter((u) => u !== 'nginx/bx/shop'));
    await s.ctx.deployer.wait(async.body.id);
  });

  it('serves health and Prometheus metrics', async () => {
    const h = await fetch(`${s.url}/healthz`);
    assert.equal(h.status, 200);
    const m = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(m, /gitfleet_deployments_total\{status="succeeded",trigger="gitlab"\} \d+/);
    assert.match(m, /gitfleet_host_pushes_total\{status="succeeded"\} [1-9]/);
    assert.match(m, /gitfleet_host_push_duration_seconds_bucket/);
    assert.match(m, /gitfleet_deploy_queue_depth 0/);
    assert.match(m, /gitfleet_ssh_connections_total\{event="reused"\} [1-9]/);
  });
});

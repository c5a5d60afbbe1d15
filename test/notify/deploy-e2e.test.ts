// Notifications from real deployments on the fleet: a success and a failure reach the targets that asked for them, and
// dead or hanging receivers never delay or fail the deployment.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createNotifyModule } from '../../server/src/notify/module.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { startReceiver, type Receiver } from './receiver.js';
import { freePort as deadPort } from '../helpers/net.js';

const API_TOKEN = 'api-token-for-notify-tests-0123';


describe('notifications from real deployments', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let all: Receiver; let failures: Receiver; let hanging: Receiver;
  let ip: string;
  const notify = createNotifyModule();

  before(async () => {
    tmp = await tempDir('gf-notify-e2e-');
    [fleet, all, failures, hanging] = await Promise.all([startFleet(join(tmp.path, 'fleet'), 1), startReceiver(), startReceiver(), startReceiver()]);
    ip = fleet.ips[0]!;
    failures.fallback = { status: 200, body: '{"errcode":0,"errmsg":"ok"}' };
    hanging.fallback = 'hang';
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({ 'nginx/prod/shop/etc/nginx/conf.d/shop.conf': 'v1\n' });
    s = await startTestServer(join(tmp.path, 'data'), {
      api: { tokens: [API_TOKEN] }, repo: { url: fx.origin }, server: { shutdownGrace: 2 },
      deploy: { retries: 0, hostTimeout: 20, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 3 } },
      notifications: {
        publicUrl: 'https://gitfleet.example.com',
        targets: {
          all: { url: `${all.url}/hook`, format: 'json', on: 'all', headers: { Authorization: 'Bearer receiver-token' } },
          failures: { url: `${failures.url}/cgi-bin/webhook/send?key=k`, format: 'wecom' },
          dead: { url: `http://127.0.0.1:${await deadPort()}/hook`, on: 'all', retries: 3, retryBackoff: 1 },
          hanging: { url: `${hanging.url}/hook`, on: 'all', timeout: 20, retries: 0 },
        },
      },
    }, { modules: [notify] });
    const r = await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['shop'] } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });

  after(async () => {
    await s?.stop();
    await Promise.all([all?.close(), failures?.close(), hanging?.close()]);
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('a succeeded deployment: announced to the "all" targets only, and not held up by dead or hanging receivers', async () => {
    await fx.commit({ 'nginx/prod/shop/etc/nginx/conf.d/shop.conf': 'v2\n' });
    const t0 = Date.now();
    const r = await s.api('/sync?env=prod&app=shop');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'succeeded');
    assert.ok(Date.now() - t0 < 10_000, `sync took ${Date.now() - t0} ms`);
    const [got] = await all.waitFor(1);
    assert.equal(got!.headers.authorization, 'Bearer receiver-token');
    assert.equal(got!.body.event, 'deployment.finished');
    assert.equal(got!.body.deployment.id, r.body.id);
    assert.equal(got!.body.deployment.status, 'succeeded');
    assert.deepEqual(got!.body.deployment.hosts.map((h: { ip: string; status: string }) => [h.ip, h.status]), [[ip, 'succeeded']]);
    assert.equal(got!.body.url, `https://gitfleet.example.com/api/v1/deployments/${r.body.id}`);
    await hanging.waitFor(1);
    await sleep(300);
    assert.equal(failures.requests.length, 0, 'the failures-only target heard nothing');
    assert.ok(notify.notifier!.busy >= 2, 'the dead and hanging targets are still being tried in the background');
    const rec = await s.api(`/api/v1/deployments/${r.body.id}`);
    assert.equal(rec.body.status, 'succeeded', 'the record is not touched by notifications');
  });

  it('a failed deployment: the failures target gets a WeCom markdown naming the host', async () => {
    await fleet.stopHost(ip);
    try {
      const r = await s.api('/sync?env=prod&app=shop');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.status, 'failed');
      const [msg] = await failures.waitFor(1);
      assert.equal(msg!.body.msgtype, 'markdown');
      assert.match(msg!.body.markdown.content, new RegExp(`deployment #${r.body.id} <font color="warning">failed</font>`));
      assert.match(msg!.body.markdown.content, new RegExp(`> ${ip.replace(/\./g, '\\.')} nginx/prod/shop: `));
      const second = await all.waitFor(2);
      assert.equal(second[1]!.body.deployment.status, 'failed');
      assert.ok(s.logs.some((l) => l.msg === 'notification attempt failed' && l.target === 'dead' && l.error === 'ECONNREFUSED'));
    } finally {
      await fleet.startHost(ip);
    }
  });

  it('a unit failing push after push is notified once; its streak shows in /api/v1/units and the metrics until it succeeds', async () => {
    await fleet.stopHost(ip);
    try {
      for (let i = 0; i < 2; i++) assert.equal((await s.api('/sync?env=prod&app=shop')).body.status, 'failed');
      await sleep(500);
      assert.equal(failures.requests.length, 1, 'only the first failure in a row was announced');
      const units = await s.api('/api/v1/units');
      const shop = units.body.items.find((u: { unit: string }) => u.unit === 'nginx/prod/shop');
      assert.equal(shop.failing.failures, 3, JSON.stringify(shop));
      assert.match(shop.failing.lastReason, /1 of 1 hosts not deployed/);
      assert.match(await (await fetch(`${s.url}/metrics`)).text(), /gitfleet_unit_failing_runs\{unit="nginx\/prod\/shop"\} 3/);
    } finally {
      await fleet.startHost(ip);
    }
    assert.equal((await s.api('/sync?env=prod&app=shop')).body.status, 'succeeded');
    const units = await s.api('/api/v1/units');
    assert.equal(units.body.items.find((u: { unit: string }) => u.unit === 'nginx/prod/shop').failing, null);
    assert.match(await (await fetch(`${s.url}/metrics`)).text(), /gitfleet_unit_failing_runs\{unit="nginx\/prod\/shop"\} 0/);
  });
});

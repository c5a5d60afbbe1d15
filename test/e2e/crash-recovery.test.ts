// The server as pm2 runs it (a child process): SIGTERM drains within the grace period, kill -9 mid-deployment
// leaves a deployment that the next start marks interrupted and runs again to the end.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { tempDir } from '../helpers/tmp.js';
import { deliver, gitlabPush } from '../helpers/webhooks.js';
import { freePort } from '../helpers/net.js';
import { until } from '../helpers/wait.js';
import { exited, startServerProcess } from '../helpers/server-process.js';
import { testDbYaml } from '../helpers/store.js';



describe('shutdown and crash recovery (server as a separate process)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let configFile: string;
  let url: string;
  let child: ChildProcess | undefined;
  let a: string; let b: string;

  const start = async () => (child = await startServerProcess(configFile, url));
  const api = async (path: string, init?: RequestInit) => {
    const r = await fetch(url + path, init);
    return { status: r.status, body: await r.json() as any };
  };
  const deployment = (id: number) => api(`/api/v1/deployments/${id}`).then((r) => r.body);

  before(async () => {
    tmp = await tempDir('gf-crash-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 2);
    [a, b] = fleet.ips as [string, string];
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'v0\n' });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    configFile = join(tmp.path, 'gitfleet.yaml');
    await writeFile(configFile, [
      `dataDir: ${join(tmp.path, 'data')}`,
      ...(await testDbYaml(join(tmp.path, 'data'))),
      'server: { port: ' + port + ', shutdownGrace: 2 }',
      `repo: { url: ${fx.origin}, pollInterval: 0 }`,
      'log: { level: warn }',
      'deploy:',
      '  retries: 0',
      '  hostTimeout: 60',
      `  ssh: { identityFile: ${fleet.identityFile}, knownHostsFile: ${fleet.knownHostsFile}, connectTimeout: 30 }`,
    ].join('\n'));
    await start();
    for (const ip of [a, b]) assert.equal((await api('/api/v1/hosts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ip, env: 'prod', apps: ['shop'] }) })).status, 201);
  });

  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    for (const ip of fleet?.ips ?? []) await fleet.resumeHost(ip).catch(() => undefined);
    await fleet?.down();
    await tmp?.cleanup();
  });

  /** Push a change while host b hangs (all its processes frozen): host a finishes, b's push is in flight. */
  const stuckDeployment = async (content: string) => {
    await fleet.pauseHost(b);
    const prev = await fx.head();
    const head = await fx.commit({ 'nginx/prod/shop/etc/shop.conf': content });
    const r = await deliver(`${url}/webhooks/gitlab`, gitlabPush({ before: prev, after: head }));
    assert.equal(r.status, 202);
    const id = r.body.queued[0] as number;
    await until('host a done and host b in flight', async () => {
      const d = await deployment(id);
      const ha = d.hosts?.find((h: { ip: string }) => h.ip === a);
      const hb = d.hosts?.find((h: { ip: string }) => h.ip === b);
      return ha?.status === 'succeeded' && hb?.status === 'running' ? true : undefined;
    });
    return id;
  };

  it('SIGTERM stops taking work, lets the grace period run, then exits 0 with the deployment interrupted', async () => {
    const id = await stuckDeployment('v1\n');
    const started = Date.now();
    child!.kill('SIGTERM');
    const { code } = await exited(child!);
    const took = Date.now() - started;
    assert.equal(code, 0);
    assert.ok(took >= 1500 && took < 15_000, `exit after the 2 s grace, took ${took} ms`);
    await fleet.resumeHost(b);
    await start();
    const d = await deployment(id);
    assert.equal(d.status, 'interrupted');
    assert.equal(d.hosts.find((h: { ip: string }) => h.ip === a).status, 'succeeded', 'recorded results are kept');
    assert.equal(d.hosts.find((h: { ip: string }) => h.ip === b).status, 'aborted');
    const resumed = await until('the resumed deployment', async () => {
      const list = await api('/api/v1/deployments?limit=10');
      const r = list.body.items.find((x: { request: { resumeOf?: number } }) => x.request.resumeOf === id);
      return r && ['succeeded', 'partial', 'failed'].includes(r.status) ? r : undefined;
    });
    assert.equal(resumed.status, 'succeeded');
    assert.equal(await readFile(fleet.path(b, '/etc/shop.conf'), 'utf8'), 'v1\n');
  });

  it('kill -9 mid-deployment: the next start marks it interrupted and finishes it', async () => {
    const id = await stuckDeployment('v2\n');
    child!.kill('SIGKILL');
    await exited(child!);
    assert.equal(await readFile(fleet.path(b, '/etc/shop.conf'), 'utf8'), 'v1\n', 'b did not get v2 before the crash');
    await fleet.resumeHost(b);
    await start();
    const resumed = await until('the resumed deployment', async () => {
      const list = await api('/api/v1/deployments?limit=10');
      const r = list.body.items.find((x: { request: { resumeOf?: number } }) => x.request.resumeOf === id);
      return r && ['succeeded', 'partial', 'failed'].includes(r.status) ? r : undefined;
    });
    assert.equal(resumed.status, 'succeeded');
    const old = await deployment(id);
    assert.equal(old.status, 'interrupted');
    assert.match(old.error, /server stopped/);
    assert.equal(old.hosts.find((h: { ip: string }) => h.ip === a).status, 'succeeded');
    for (const ip of [a, b]) assert.equal(await readFile(fleet.path(ip, '/etc/shop.conf'), 'utf8'), 'v2\n');
  });

  it('kill -9 between a host\'s transfer and its hooks: the resumed deployment runs validate and reload there', async () => {
    // The validate hook marks that it started, then waits: the files are on the host, the hooks not done.
    await fx.commit({ 'nginx/prod/shop/.gitfleet.yaml': 'hooks:\n  validate: "touch /tmp/validate-started; sleep 4; touch /tmp/validated"\n  reload: "touch /tmp/reloaded"\n' });
    await api('/sync?env=prod&app=shop');
    for (const ip of [a, b]) for (const f of ['validate-started', 'validated', 'reloaded']) await rm(fleet.path(ip, `/tmp/${f}`), { force: true });
    const prev = await fx.head();
    const head = await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'v3\n' });
    const r = await deliver(`${url}/webhooks/gitlab`, gitlabPush({ before: prev, after: head }));
    const id = r.body.queued[0] as number;
    await until('validate running on both hosts', async () => ([a, b].every((ip) => existsSync(fleet.path(ip, '/tmp/validate-started'))) ? true : undefined));
    child!.kill('SIGKILL');
    await exited(child!);
    for (const ip of [a, b]) {
      assert.equal(await readFile(fleet.path(ip, '/etc/shop.conf'), 'utf8'), 'v3\n', 'the file landed before the crash');
      assert.equal(existsSync(fleet.path(ip, '/tmp/reloaded')), false, 'no reload before the crash');
    }
    await start();
    const resumed = await until('the resumed deployment', async () => {
      const list = await api('/api/v1/deployments?limit=10');
      const x = list.body.items.find((d: { request: { resumeOf?: number } }) => d.request.resumeOf === id);
      return x && ['succeeded', 'partial', 'failed'].includes(x.status) ? x : undefined;
    });
    assert.equal(resumed.status, 'succeeded');
    for (const ip of [a, b]) {
      assert.ok(existsSync(fleet.path(ip, '/tmp/validated')), `${ip}: validate ran to the end`);
      assert.ok(existsSync(fleet.path(ip, '/tmp/reloaded')), `${ip}: reload ran`);
    }
    // Owed once: a later resync with nothing to change runs no hooks.
    for (const ip of [a, b]) await rm(fleet.path(ip, '/tmp/reloaded'));
    await api('/sync?env=prod&app=shop');
    for (const ip of [a, b]) assert.equal(existsSync(fleet.path(ip, '/tmp/reloaded')), false);
    child!.kill('SIGTERM');
    assert.equal((await exited(child!)).code, 0);
  });
});

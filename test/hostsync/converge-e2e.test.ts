// New-host converge end to end on the simulated fleet: a host added to the inventory (API or host sync) or given new
// apps receives its units' files within seconds, and only that host is pushed to.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { unitsForHost } from '../../server/src/hostsync/converge.js';

let tmp: { path: string; cleanup(): Promise<void> };
let fleet: Fleet;
let fx: GitFixture;
let s: TestServer;
let A: string, B: string, C: string;

const exists = (p: string) => stat(p).then(() => true, () => false);
async function convergeDeployments(): Promise<any[]> {
  return (await s.api('/api/v1/deployments?limit=100')).body.items.filter((d: any) => d.trigger === 'converge');
}
async function waitFinished(count: number): Promise<any[]> {
  const end = Date.now() + 30_000;
  for (;;) {
    const ds = await convergeDeployments();
    if (ds.length >= count && ds.every((d) => ['succeeded', 'partial', 'failed'].includes(d.status))) {
      return Promise.all(ds.map(async (d) => (await s.api(`/api/v1/deployments/${d.id}`)).body));
    }
    if (Date.now() > end) throw new Error(`timed out: ${JSON.stringify(ds.map((d) => [d.id, d.status]))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  tmp = await tempDir('gf-conv-');
  fleet = await startFleet(join(tmp.path, 'fleet'), 3);
  [A, B, C] = fleet.ips as [string, string, string];
  fx = await createGitFixture(join(tmp.path, 'git'));
  await fx.commit({
    'app/prod/shop/etc/shop.conf': 'shop v1\n',
    'nginx/bx/shop/etc/nginx/shop.conf': 'server { shop }\n', // repo env bx is inventory env prod (alias)
    'app/prod/pay/etc/pay.conf': 'pay v1\n',
    'app/test/shop/etc/shop-test.conf': 'test only\n',
  });
  await writeFile(join(tmp.path, 'inv.json'), JSON.stringify([]));
  s = await startTestServer(join(tmp.path, 'data'), {
    repo: { url: fx.origin },
    inventory: { envAliases: { bx: 'prod' } },
    deploy: { retries: 0, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 5 } },
    hostSync: { converge: { debounceMs: 200 }, sources: { inv: { type: 'file', path: join(tmp.path, 'inv.json'), runAtStart: false } } },
  });
});
after(async () => {
  await s?.stop();
  await fleet?.down();
  await tmp?.cleanup();
});

test('unitsForHost: env aliases, apps, and only the units gained on a change', () => {
  const units = [{ mod: 'app', env: 'prod', app: 'shop' }, { mod: 'nginx', env: 'bx', app: 'shop' }, { mod: 'app', env: 'prod', app: 'pay' }, { mod: 'app', env: 'test', app: 'shop' }];
  const envOf = (e: string) => (e === 'bx' ? 'prod' : e);
  const keys = (us: typeof units) => us.map((u) => `${u.mod}/${u.env}/${u.app}`);
  assert.deepEqual(keys(unitsForHost(units, envOf, { ip: '1', env: 'prod', apps: ['shop'] })), ['app/prod/shop', 'nginx/bx/shop']);
  assert.deepEqual(keys(unitsForHost(units, envOf, { ip: '1', env: 'prod', apps: ['shop', 'pay'] }, { env: 'prod', apps: ['shop'], ip: '1' })), ['app/prod/pay']);
  assert.deepEqual(keys(unitsForHost(units, envOf, { ip: '2', env: 'prod', apps: ['shop'] }, { env: 'prod', apps: ['shop'], ip: '1' })), ['app/prod/shop', 'nginx/bx/shop'], 'new IP: everything');
  assert.deepEqual(keys(unitsForHost(units, envOf, { ip: '1', env: 'test', apps: ['shop'] }, { env: 'prod', apps: ['shop'], ip: '1' })), ['app/test/shop']);
});

test('a host added through the API receives its units (alias included) and nothing else; other hosts are untouched', async () => {
  assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip: A, env: 'prod', apps: ['shop'] } })).status, 201);
  const [d] = await waitFinished(1);
  assert.equal(d.status, 'succeeded', JSON.stringify(d));
  assert.deepEqual(d.request.hosts, [A]);
  assert.deepEqual([...d.units].sort(), ['app/prod/shop', 'nginx/bx/shop']);
  assert.deepEqual([...new Set(d.hosts.map((h: any) => h.ip))], [A], 'only the new host was pushed to');
  assert.equal(await readFile(fleet.path(A, '/etc/shop.conf'), 'utf8'), 'shop v1\n');
  assert.equal(await readFile(fleet.path(A, '/etc/nginx/shop.conf'), 'utf8'), 'server { shop }\n');
  assert.equal(await exists(fleet.path(A, '/etc/pay.conf')), false);
  assert.equal(await exists(fleet.path(A, '/etc/shop-test.conf')), false);
  for (const ip of [B, C]) assert.equal(await exists(fleet.path(ip, '/etc/shop.conf')), false, `${ip} got nothing`);
});

test('a second host of the same app: only it is pushed to; a new app on it: only that unit', async () => {
  const aConf = await stat(fleet.path(A, '/etc/shop.conf'));
  const created = await s.api('/api/v1/hosts', { method: 'POST', body: { ip: B, env: 'prod', apps: ['shop'] } });
  let ds = await waitFinished(2);
  const d2 = ds.find((d) => d.request.hosts.includes(B))!;
  assert.equal(d2.status, 'succeeded');
  assert.deepEqual([...new Set(d2.hosts.map((h: any) => h.ip))], [B]);
  assert.equal(await readFile(fleet.path(B, '/etc/shop.conf'), 'utf8'), 'shop v1\n');
  assert.equal((await stat(fleet.path(A, '/etc/shop.conf'))).mtimeMs, aConf.mtimeMs, 'A untouched');

  assert.equal((await s.api(`/api/v1/hosts/${created.body.id}`, { method: 'PUT', body: { apps: ['shop', 'pay'] } })).status, 200);
  ds = await waitFinished(3);
  const d3 = ds.find((d) => d.units.includes('app/prod/pay'))!;
  assert.deepEqual(d3.units, ['app/prod/pay'], 'only the unit it gained');
  assert.deepEqual(d3.request.hosts, [B]);
  assert.equal(await readFile(fleet.path(B, '/etc/pay.conf'), 'utf8'), 'pay v1\n');
  assert.equal(await exists(fleet.path(A, '/etc/pay.conf')), false);
  // A change that gives no new unit (labels only) queues nothing.
  await s.api(`/api/v1/hosts/${created.body.id}`, { method: 'PUT', body: { labels: { rack: 'r2' } } });
  await new Promise((r) => setTimeout(r, 800));
  assert.equal((await convergeDeployments()).length, 3);
});

test('a host added by host sync is converged too', async () => {
  await writeFile(join(tmp.path, 'inv.json'), JSON.stringify([{ uid: 'c', ip: C, env: 'prod', apps: ['pay'] }]));
  const run = await s.api('/api/v1/host-sync/sources/inv/run', { method: 'POST' });
  assert.equal(run.body.added, 1);
  const ds = await waitFinished(4);
  const d4 = ds.find((d) => d.request.hosts.includes(C))!;
  assert.equal(d4.status, 'succeeded');
  assert.equal(d4.actor, 'inv');
  assert.deepEqual([...new Set(d4.hosts.map((h: any) => h.ip))], [C]);
  assert.equal(await readFile(fleet.path(C, '/etc/pay.conf'), 'utf8'), 'pay v1\n');
  assert.equal(await exists(fleet.path(C, '/etc/shop.conf')), false);
});

// API edge cases (issue 22, item 10) on a real server, git repo and simulated fleet: gitfleet metadata and excluded
// files are never host paths for the fssync APIs; every API that names a unit or host answers 404 naming it before
// recording anything; units delivered only by new-host converge are drift-checked and shown as deployed.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const TOKEN = 'api-token-for-edge-tests-012345';
const SHOP = 'nginx/prod/shop';
const PAY = 'app/prod/pay';

describe('API edge cases', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let A: string;
  let B: string;
  const count = async () => (await s.api('/api/v1/deployments?limit=1')).body.total as number;
  const raw = (path: string) => fetch(s.url + path, { headers: { authorization: `Bearer ${TOKEN}` } });

  before(async () => {
    tmp = await tempDir('gf-api-edges-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 2);
    [A, B] = fleet.ips as [string, string];
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({
      [`${SHOP}/etc/shop.conf`]: 'shop=1\n',
      [`${SHOP}/etc/README.md`]: 'notes for humans, never pushed\n',
      [`${SHOP}/.gitfleet.yaml`]: 'exclude: ["**/*.md"]\n',
      [`${SHOP}/.gitfleet/notes.txt`]: 'reserved for gitfleet\n',
      [`${PAY}/etc/pay.conf`]: 'pay=1\n',
    });
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin }, api: { tokens: [TOKEN] },
      deploy: { retries: 0, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 5 } },
      hostSync: { converge: { debounceMs: 100 } },
    });
  });
  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  describe('fssync: .gitfleet* metadata and excluded files are not host paths', () => {
    it('listings leave out .gitfleet.yaml, the .gitfleet/ folder and excluded files', async () => {
      const json = await s.api(`/api/v1/units/${SHOP}/files`);
      assert.equal(json.status, 200);
      assert.deepEqual(json.body.files.map((f: any) => f.path), ['etc/shop.conf']);
      const text = await (await raw('/getfile?env=prod&app=shop')).text();
      assert.equal(text, `${SHOP}/etc/shop.conf\n`);
    });

    it('downloads: metadata paths are refused (400 on path), excluded files are 404 saying why', async () => {
      for (const path of ['.gitfleet.yaml', '.gitfleet/notes.txt']) {
        for (const url of [`/api/v1/units/${SHOP}/file?path=${path}`, `/getfile?env=prod&app=shop&path=${path}`]) {
          const res = await s.api(url);
          assert.equal(res.status, 400, url);
          assert.equal(res.body.error.field, 'path');
          assert.match(res.body.error.message, /gitfleet metadata/);
        }
      }
      const ex = await s.api(`/api/v1/units/${SHOP}/file?path=etc/README.md`);
      assert.equal(ex.status, 404);
      assert.match(ex.body.error.message, /etc\/README\.md is excluded by the \.gitfleet\.yaml of nginx\/prod\/shop/);
      assert.equal((await s.api('/getfile?env=prod&app=shop&path=etc/README.md')).status, 404);
      assert.equal((await raw(`/api/v1/units/${SHOP}/file?path=etc/shop.conf`)).status, 200);
    });

    it('/modify refuses the metadata as a path and commits nothing', async () => {
      const head = await fx.head();
      for (const path of ['.gitfleet.yaml', '.gitfleet/notes.txt']) {
        const res = await s.api('/modify', { method: 'POST', body: { env: 'prod', app: 'shop', mod: 'nginx', path, set: { exclude: 'x' }, author: { name: 'Ada', email: 'ada@example.com' } } });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error.field, 'path');
        assert.match(res.body.error.message, /gitfleet metadata/);
      }
      assert.equal(await fx.head(), head);
    });
  });

  describe('unknown units and hosts are 404 naming them, and nothing is recorded', () => {
    it('POST /deployments and /rollback with an unknown unit, selection or host', async () => {
      const head = await fx.head();
      const before = await count();
      const cases: Array<[string, unknown, RegExp]> = [
        ['/api/v1/deployments', { units: ['nginx/prod/nope'] }, /unknown unit\(s\) nginx\/prod\/nope: not in the repo at/],
        ['/api/v1/deployments', { env: 'prod', app: 'nope' }, /no unit \*\/prod\/nope in the repo/],
        ['/api/v1/rollback', { commit: head, units: ['nginx/prod/nope'] }, /unknown unit\(s\) nginx\/prod\/nope/],
        ['/api/v1/deployments', { units: [SHOP], hosts: ['192.0.2.99'] }, /host\(s\) 192\.0\.2\.99 not in the inventory for nginx\/prod\/shop/],
        ['/api/v1/rollback', { commit: head, units: [SHOP], hosts: ['192.0.2.99'] }, /host\(s\) 192\.0\.2\.99 not in the inventory/],
      ];
      for (const [path, body, message] of cases) {
        const res = await s.api(path, { method: 'POST', body });
        assert.equal(res.status, 404, `${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'not_found');
        assert.match(res.body.error.message, message);
      }
      assert.equal(await count(), before, 'no deployment was recorded');
    });

    it('the drift and hosts endpoints of an unknown unit are 404, a known one answers', async () => {
      for (const path of ['/api/v1/units/nginx/prod/nope/hosts', '/api/v1/units/nginx/prod/nope/drift']) {
        const res = await s.api(path);
        assert.equal(res.status, 404, path);
        assert.match(res.body.error.message, /unknown unit nginx\/prod\/nope/);
      }
      const check = await s.api('/api/v1/drift/check', { method: 'POST', body: { unit: 'nginx/prod/nope' } });
      assert.equal(check.status, 404);
      assert.match(check.body.error.message, /unknown unit nginx\/prod\/nope/);
      assert.deepEqual((await s.api(`/api/v1/units/${SHOP}/drift`)).body, { unit: SHOP, hosts: [] });
    });

    it('a host of the unit is accepted', async () => {
      assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip: B, env: 'prod', apps: ['shop'] } })).status, 201);
      const res = await s.api('/api/v1/deployments', { method: 'POST', body: { units: [SHOP], hosts: [B], dryRun: true, wait: true } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.hosts.map((h: any) => h.ip), [B]);
    });
  });

  describe('a unit delivered only by new-host converge', () => {
    it('is shown as deployed and its host is drift-checked against the commit it received', async () => {
      assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip: A, env: 'prod', apps: ['pay'] } })).status, 201);
      const end = Date.now() + 30_000;
      while (!(await readFile(fleet.path(A, '/etc/pay.conf'), 'utf8').catch(() => ''))) {
        if (Date.now() > end) throw new Error('converge did not deliver app/prod/pay');
        await new Promise((r) => setTimeout(r, 100));
      }
      const head = await fx.head();
      const units = await (async () => {
        for (;;) {
          const u = (await s.api('/api/v1/units')).body.items.find((x: any) => x.unit === PAY);
          if (u.lastDeployedAt || Date.now() > end) return u;
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      assert.equal(units.lastCommit, null, 'no unit-wide commit: only some hosts have it');
      assert.ok(units.lastDeployedAt, JSON.stringify(units));
      assert.equal(units.deployedHosts, 1);

      const clean = await s.api('/api/v1/drift/check', { method: 'POST', body: { unit: PAY } });
      assert.equal(clean.status, 200);
      assert.equal(clean.body.results[0].skipped, undefined, JSON.stringify(clean.body));
      assert.deepEqual(clean.body.results[0].rows.map((r: any) => [r.ip, r.state, r.commit]), [[A, 'in_sync', head]]);

      await writeFile(fleet.path(A, '/etc/pay.conf'), 'pay=changed by hand\n');
      const all = await s.api('/api/v1/drift/check', { method: 'POST', body: {} });
      const pay = all.body.results.find((r: any) => r.unit === PAY);
      assert.ok(pay, `every-unit check covers ${PAY}: ${JSON.stringify(all.body.results.map((r: any) => r.unit))}`);
      assert.deepEqual(pay.rows.map((r: any) => [r.ip, r.state]), [[A, 'drifted']]);
      assert.deepEqual((await s.api(`/api/v1/units/${PAY}/drift`)).body.hosts.map((r: any) => [r.ip, r.state]), [[A, 'drifted']]);
    });
  });
});

// The dashboard's own HTTP surface: the static bundle (headers, not-built answer) and the unit file endpoints'
// input checks, on a real server with a real config repo.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { createDashboardRoutes } from '../../server/src/dashboard/static.js';
import { createGitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

async function serve(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = express().use(createDashboardRoutes(dir)).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

describe('dashboard routes', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let s: TestServer;
  let c1: string;
  before(async () => {
    tmp = await tempDir('gf-ui-routes-');
    const fx = await createGitFixture(`${tmp.path}/git`);
    c1 = await fx.commit({ 'nginx/prod/shop/etc/a.conf': 'a1\n', 'nginx/prod/shop/.gitfleet.yaml': 'selfHeal: false\n', 'nginx/prod/shop/bin/blob': '\u0000\u0001' });
    await fx.commit({ 'nginx/prod/shop/etc/a.conf': 'a2\n' });
    s = await startTestServer(`${tmp.path}/data`, { repo: { url: fx.origin } });
  });
  after(async () => { await s?.stop(); await tmp?.cleanup(); });

  it('serves the built bundle under /ui/ with a same-origin CSP; says so when it is not built', async () => {
    const built = `${tmp.path}/ui`;
    await mkdir(`${built}/assets`, { recursive: true });
    await writeFile(`${built}/index.html`, '<!doctype html><script type="module" src="/ui/assets/x-1.js"></script>');
    await writeFile(`${built}/assets/x-1.js`, 'console.log(1)');
    const a = await serve(built);
    const page = await fetch(`${a.url}/ui/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'; script-src 'self';.*frame-ancestors 'none'/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.equal((await fetch(`${a.url}/ui/assets/x-1.js`)).headers.get('cache-control'), 'public, max-age=31536000, immutable');
    await a.close();
    const b = await serve(`${tmp.path}/nothing-here`);
    const missing = await fetch(`${b.url}/ui/`);
    assert.equal(missing.status, 503);
    assert.match(await missing.text(), /npm run build:ui/);
    await b.close();
  });

  it('lists a unit\'s files at a commit and shows one; refuses paths outside the unit', async () => {
    const head = await s.api('/api/v1/units/nginx/prod/shop/tree');
    assert.equal(head.status, 200, JSON.stringify(head.body));
    assert.deepEqual([...head.body.files].sort(), ['.gitfleet.yaml', 'bin/blob', 'etc/a.conf']);
    const old = await s.api(`/api/v1/units/nginx/prod/shop/blob?path=etc/a.conf&commit=${c1.slice(0, 10)}`);
    assert.deepEqual({ commit: old.body.commit, content: old.body.content, binary: old.body.binary }, { commit: c1, content: 'a1\n', binary: false });
    const bin = await s.api('/api/v1/units/nginx/prod/shop/blob?path=bin/blob');
    assert.deepEqual({ binary: bin.body.binary, content: bin.body.content, size: bin.body.size }, { binary: true, content: null, size: 2 });
    for (const bad of ['../../README.md', '/etc/passwd', 'etc/../../x', '']) {
      const r = await s.api(`/api/v1/units/nginx/prod/shop/blob?path=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, bad);
    }
    assert.equal((await s.api('/api/v1/units/nginx/prod/shop/blob?path=etc/none.conf')).status, 404);
    assert.equal((await s.api('/api/v1/units/nginx/prod/shop/tree?commit=zzz')).status, 400);
    assert.equal((await s.api('/api/v1/units/nginx/prod/nope/tree')).status, 404);
  });

  it('a deployment\'s commits come with their messages; the matrix is empty before any push', async () => {
    const m = await s.api('/api/v1/matrix');
    assert.deepEqual({ units: m.body.units, ips: m.body.ips, state: m.body.state, commit: m.body.commit }, { units: [], ips: [], state: [], commit: [] });
    assert.deepEqual(m.body.states, ['in_sync', 'behind', 'drifted', 'failed', 'unreachable']);
    // Compressed as the client asks (fetch decodes it): brotli first, else gzip, else plain.
    for (const [accept, want] of [['gzip, br', 'br'], ['gzip', 'gzip'], ['identity', null]] as const) {
      const r = await s.api('/api/v1/matrix', { headers: { 'accept-encoding': accept } });
      assert.equal(r.headers.get('content-encoding'), want, accept);
      assert.deepEqual(r.body.units, []);
    }
    assert.equal((await s.api('/api/v1/deployments/999/commits')).status, 404);
    assert.deepEqual((await s.api('/api/v1/held-units')).body, { items: [] });
  });
});

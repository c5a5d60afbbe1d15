// deploy.hostTimeout covers the whole host push, across attempts, and a timeout is not retried: a host that
// accepts TCP and never answers (a hung sshd: no banner) fails once, within the timeout, named as such.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { createGitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let s: TestServer;
const held: Socket[] = [];
const hung = createServer((c) => { held.push(c); }); // accepts, never sends the SSH banner

before(async () => {
  tmp = await tempDir('gf-hosttimeout-');
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', () => r()));
  const port = (hung.address() as { port: number }).port;
  const fx = await createGitFixture(join(tmp.path, 'git'));
  await fx.commit({ 'app/prod/web/etc/web/a.conf': 'a\n' });
  s = await startTestServer(join(tmp.path, 'data'), {
    repo: { url: fx.origin },
    // connectTimeout (which also bounds the banner wait) is above hostTimeout: the host push's deadline must win.
    deploy: { hostTimeout: 3, retries: 2, retryBackoff: 0.2, ssh: { port, connectTimeout: 30, knownHostsFile: join(tmp.path, 'kh'), hostKeyPolicy: 'accept-new' } },
    hostSync: { converge: { enabled: false } },
  });
  const r = await s.api('/api/v1/hosts', { method: 'POST', body: { ip: '127.0.0.1', env: 'prod', apps: ['web'] } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
});
after(async () => {
  await s?.stop();
  for (const c of held) c.destroy();
  hung.close();
  await tmp?.cleanup();
});

it('a host that accepts TCP and never answers fails once, within hostTimeout, as a timeout', async () => {
  const r = await s.api('/sync?env=prod&app=web');
  assert.equal(r.status, 200);
  const h = r.body.hosts[0];
  assert.equal(h.status, 'failed');
  assert.equal(h.attempts, 1, 'a timeout is not retried');
  assert.match(h.reason, /^timeout/);
  assert.ok(h.durationMs < 3000 + 1500, `took ${h.durationMs} ms for a 3 s hostTimeout`);
  assert.ok(h.durationMs >= 2900, `gave up early: ${h.durationMs} ms`);
});

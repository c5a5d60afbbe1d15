// The CLI follows the server's event stream (GET /api/v1/events) instead of polling: `deployments --watch` and
// `sync --wait` against a real server and a real host; a server restart mid-watch is waited for (not exit 3); a server
// without the stream (a proxy answering 404 there) is polled.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, startCli } from '../helpers/cli.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { freePort } from '../helpers/net.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const TOKEN = 'cli-stream-token-0123456789';

describe('CLI on the event stream', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let home: string;
  let port: number;
  const start = () => startTestServer(join(tmp.path, 'data'), {
    server: { port }, repo: { url: fx.origin }, api: { tokens: [TOKEN] }, hostSync: { converge: { enabled: false } },
    deploy: { retries: 0, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 3 } },
  });
  const env = (url = s.url) => ({ GITFLEET_SERVER: url, GITFLEET_TOKEN: TOKEN });
  const watch = (url?: string) => {
    const w = startCli(['deployments', '--watch', '--limit', '3', '-o', 'json'], { home, env: env(url) });
    const lines = () => w.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: number; status: string });
    return { ...w, lines };
  };
  const listReads = () => s.logs.filter((l) => /^\/api\/v1\/deployments\?/.test(String((l.req as { url?: string } | undefined)?.url ?? ''))).length;

  before(async () => {
    tmp = await tempDir('gf-cli-stream-');
    home = join(tmp.path, 'home');
    await mkdir(home);
    fleet = await startFleet(join(tmp.path, 'fleet'), 1);
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({ 'app/prod/web/etc/web/a.conf': 'v1\n' });
    port = await freePort();
    s = await start();
    assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip: fleet.ips[0], env: 'prod', apps: ['web'] } })).status, 201);
    assert.equal((await s.api('/sync?env=prod&app=web')).body.status, 'succeeded');
  });
  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('deployments --watch holds one stream open, re-reads only on events, and shows a new deployment', async () => {
    const w = watch();
    await until('the first listing', async () => (w.lines().length >= 1 ? true : undefined), 20_000);
    await until('the stream connection', async () => (s.ctx.live!.clients === 1 ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 500)); // the re-read every (re)connect makes
    const before = listReads();
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(listReads(), before, 'no polling while nothing happens');
    const id = (await s.api('/sync?env=prod&app=web&wait=false')).body.id as number;
    await until('the new deployment, finished, on the watch', async () => (w.lines().some((d) => d.id === id && d.status === 'succeeded') ? true : undefined), 30_000);
    w.child.kill('SIGINT');
    const r = await w.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    await until('the stream closed', async () => (s.ctx.live!.clients === 0 ? true : undefined), 5_000);
  });

  it('sync --wait follows the stream to the end and exits 0', async () => {
    await fx.commit({ 'app/prod/web/etc/web/a.conf': 'v2\n' });
    const r = await runCli(['sync', 'prod/web', '--wait', '-o', 'json'], { home, env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).status, 'succeeded');
  });

  it('a server restart during --watch is waited for: the watch reconnects and goes on (no exit 3)', async () => {
    const w = watch();
    await until('the stream connection', async () => (s.ctx.live!.clients === 1 ? true : undefined), 20_000);
    await s.stop();
    await new Promise((r) => setTimeout(r, 2500));
    if (w.child.exitCode !== null) { s = await start(); assert.fail(`exited ${w.child.exitCode} while the server was down: ${(await w.done).stderr}`); }
    s = await start();
    await until('the stream again', async () => (s.ctx.live!.clients === 1 ? true : undefined), 20_000);
    const id = (await s.api('/sync?env=prod&app=web&wait=false')).body.id as number;
    await until('a deployment after the restart, on the watch', async () => (w.lines().some((d) => d.id === id && d.status === 'succeeded') ? true : undefined), 30_000);
    w.child.kill('SIGINT');
    const r = await w.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /cannot reach gitfleet at .*; retrying for up to 300 s\n/);
    assert.match(r.stderr, /gitfleet: reconnected\n/);
  });

  it('a server without the stream (404 there) is polled', async () => {
    // A proxy in front of the server that has no /api/v1/events, as an older server.
    const proxy: Server = createServer((req, res) => {
      if (req.url?.startsWith('/api/v1/events')) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"no route"}}');
      const up = request({ host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers }, (r) => { res.writeHead(r.statusCode!, r.headers); r.pipe(res); });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    try {
      const w = watch(`http://127.0.0.1:${(proxy.address() as { port: number }).port}`);
      await until('the first listing', async () => (w.lines().length >= 1 ? true : undefined), 20_000);
      const id = (await s.api('/sync?env=prod&app=web&wait=false')).body.id as number;
      await until('the new deployment by polling', async () => (w.lines().some((d) => d.id === id && d.status === 'succeeded') ? true : undefined), 30_000);
      assert.equal(s.ctx.live!.clients, 0, 'no stream through the proxy');
      w.child.kill('SIGINT');
      assert.equal((await w.done).code, 0);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });
});

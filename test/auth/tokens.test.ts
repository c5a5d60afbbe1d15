// The token store through real servers: create (secret once, only its hash stored), list without secrets, revoke,
// expiry; the store survives a real process restart; secure by default (open only on loopback, refusal to start on
// another address without tokens, api.open warned); the open API says so on /whoami.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/net.js';
import { exited, startServerProcess } from '../helpers/server-process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CONFIG_TOKEN = 'config-admin-token-0123456789';

const call = async (url: string, path: string, token?: string, init: { method?: string; body?: unknown } = {}) => {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url + path, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};

describe('token store', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let s: TestServer;
  let now = Date.parse('2026-12-01T00:00:00Z');

  before(async () => {
    tmp = await tempDir('gf-tokens-');
    s = await startTestServer(join(tmp.path, 'data'), { api: { tokens: [CONFIG_TOKEN] } }, { clock: () => new Date(now) });
  });
  after(async () => {
    await s?.stop();
    await tmp?.cleanup();
  });

  it('creates a token: the secret is in the answer only, the store keeps its SHA-256', async () => {
    const made = await s.api('/api/v1/tokens', { method: 'POST', body: { name: 'ci', scopes: { sync: [{ env: ['test'], app: ['*'] }, { env: ['prod'], app: ['shop'] }] }, expiresInDays: 30 } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const secret = made.body.secret as string;
    assert.match(secret, /^gft_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual({ ...made.body, secret: undefined }, {
      name: 'ci', scopes: { read: false, sync: [{ env: ['test'], app: ['*'] }, { env: ['prod'], app: ['shop'] }], admin: false },
      createdAt: '2026-12-01T00:00:00.000Z', createdBy: 'config-1', expiresAt: '2026-12-31T00:00:00.000Z', revokedAt: null, revokedBy: null,
      lastUsedAt: null, rights: 'sync on test/* and prod/shop', secret: undefined,
    });
    const row = await s.ctx.db.get<{ secret_sha256: string }>("SELECT secret_sha256 FROM api_tokens WHERE name = 'ci'");
    assert.equal(row!.secret_sha256, createHash('sha256').update(secret).digest('hex'));
    // Nowhere in the data dir in the clear (database, WAL), nor in the server's log.
    const dataDir = join(tmp.path, 'data');
    for (const f of (await readdir(dataDir)).filter((n) => n.startsWith('gitfleet.db'))) assert.ok(!(await readFile(join(dataDir, f))).includes(secret), f);
    assert.ok(!JSON.stringify(s.logs).includes(secret), 'the secret is in the log');
    const list = await s.api('/api/v1/tokens');
    assert.ok(!JSON.stringify(list.body).includes(secret));
    assert.deepEqual(list.body.items.map((t: any) => [t.name, t.state, t.rights]), [['ci', 'live', 'sync on test/* and prod/shop']]);
    assert.deepEqual(list.body.configTokens, [{ name: 'config-1', rights: 'admin' }]);

    const me = await call(s.url, '/api/v1/whoami', secret);
    assert.deepEqual([me.status, me.body.name, me.body.open, me.body.rights], [200, 'ci', false, 'sync on test/* and prod/shop']);
    assert.equal((await call(s.url, '/api/v1/tokens', secret)).status, 403);
    assert.equal((await s.ctx.db.get<{ t: string }>("SELECT last_used_at AS t FROM api_tokens WHERE name = 'ci'"))!.t, '2026-12-01T00:00:00.000Z');
  });

  it('refuses bad requests: names, scopes, expiry, reuse of a name', async () => {
    const post = (body: unknown) => s.api('/api/v1/tokens', { method: 'POST', body });
    const cases: Array<[unknown, RegExp]> = [
      [{ name: 'config-2', scopes: { read: true } }, /config-1, config-2/],
      [{ name: '-x', scopes: { read: true } }, /^name must match/],
      [{ name: 'x', scopes: {} }, /give at least one of read, sync, admin/],
      [{ name: 'x', scopes: { sync: { env: ['prod/..'], app: ['a'] } } }, /^scopes\.sync\.env\.0: must be a name or a glob/],
      [{ name: 'x', scopes: { write: true } }, /scopes/],
      [{ name: 'x', scopes: { read: true }, expiresAt: '2020-01-01T00:00:00Z' }, /not in the future/],
      [{ name: 'x', scopes: { read: true }, expiresAt: '2027-01-01T00:00:00Z', expiresInDays: 3 }, /not both/],
    ];
    for (const [body, re] of cases) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, re);
    }
    const dup = await post({ name: 'ci', scopes: { read: true } });
    assert.deepEqual([dup.status, dup.body.error.message], [409, 'a token named ci exists (names are not reused, also after a revoke)']);
  });

  it('an expired or revoked token is a 401 saying so; revoking twice is a 409; config tokens are not revoked here', async () => {
    const a = (await s.api('/api/v1/tokens', { method: 'POST', body: { name: 'short', scopes: { read: true }, expiresAt: '2026-12-02T00:00:00Z' } })).body.secret as string;
    const b = (await s.api('/api/v1/tokens', { method: 'POST', body: { name: 'gone', scopes: { read: true } } })).body.secret as string;
    assert.equal((await call(s.url, '/api/v1/hosts', a)).status, 200);
    now = Date.parse('2026-12-02T00:00:00Z');
    assert.deepEqual(await call(s.url, '/api/v1/hosts', a), { status: 401, body: { error: { code: 'unauthorized', message: "API token 'short' expired at 2026-12-02T00:00:00.000Z" } } });
    const revoked = await s.api('/api/v1/tokens/gone', { method: 'DELETE' });
    assert.deepEqual([revoked.status, revoked.body.state, revoked.body.revokedBy, revoked.body.secret], [200, 'revoked', 'config-1', undefined]);
    assert.deepEqual(await call(s.url, '/api/v1/hosts', b), { status: 401, body: { error: { code: 'unauthorized', message: "API token 'gone' was revoked at 2026-12-02T00:00:00.000Z" } } });
    assert.equal((await s.api('/api/v1/tokens/gone', { method: 'DELETE' })).status, 409);
    assert.equal((await s.api('/api/v1/tokens/config-1', { method: 'DELETE' })).status, 400);
    assert.deepEqual((await s.api('/api/v1/tokens')).body.items.map((t: any) => [t.name, t.state]), [['ci', 'live'], ['short', 'expired'], ['gone', 'revoked']]);
  });
});

describe('secure by default', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => { tmp = await tempDir('gf-secure-'); });
  after(async () => { await tmp?.cleanup(); });

  const writeConfig = async (name: string, lines: string[]) => {
    const file = join(tmp.path, `${name}.yaml`);
    await writeFile(file, [`dataDir: ${join(tmp.path, name)}`, 'repo: { pollInterval: 0 }', 'log: { level: info }', ...lines].join('\n'));
    return file;
  };
  const run = (configFile: string) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    return { child, out: () => out, err: () => err };
  };

  it('open on loopback: /whoami says open; the first token made closes it', async () => {
    const s = await startTestServer(join(tmp.path, 'open'));
    try {
      assert.deepEqual(await call(s.url, '/api/v1/whoami'), { status: 200, body: { open: true, kind: 'open', rights: 'admin' } });
      const made = await call(s.url, '/api/v1/tokens', undefined, { method: 'POST', body: { name: 'first-admin', scopes: { admin: true } } });
      assert.equal(made.status, 201);
      assert.equal((await call(s.url, '/api/v1/whoami')).status, 401);
      assert.deepEqual((await call(s.url, '/api/v1/whoami', made.body.secret)).body.name, 'first-admin');
      // A wrong token is refused on an open API too (it is not silently ignored).
      assert.equal((await call(s.url, '/api/v1/hosts', 'gft_wrong')).status, 401);
    } finally {
      await s.stop();
    }
  });

  it('refuses to start on a non-loopback address without tokens, names why, exits non-zero', async () => {
    const p = run(await writeConfig('public', [`server: { host: 0.0.0.0, port: ${await freePort()} }`]));
    assert.deepEqual(await exited(p.child), { code: 2, signal: null });
    assert.match(p.err(), /^gitfleet: invalid configuration:\n {2}- server\.host is 0\.0\.0\.0, not a loopback address, and no API token is configured: .*api\.open: true/);
    assert.doesNotMatch(p.err(), /\n\s+at /, 'no stack trace');
  });

  it('starts open on 0.0.0.0 with api.open: true, warning at start', async () => {
    const port = await freePort();
    const p = run(await writeConfig('open-public', [`server: { host: 0.0.0.0, port: ${port} }`, 'api: { open: true }']));
    try {
      for (let i = 0; i < 300 && !/"msg":"listening"/.test(p.out()); i++) await new Promise((r) => setTimeout(r, 100));
      const warn = p.out().split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.level === 40 && /the API is open/.test(l.msg));
      assert.equal(warn?.msg, 'the API is open to anyone who can reach 0.0.0.0 (api.open: true and no API token configured)');
      assert.equal((await call(`http://127.0.0.1:${port}`, '/api/v1/whoami')).body.open, true);
    } finally {
      p.child.kill('SIGTERM');
      await exited(p.child);
    }
  });

  it('a stored token survives a real restart, and lets the server start on a public address', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const loop = await writeConfig('restart', [`server: { port: ${port} }`]);
    let child = await startServerProcess(loop, url);
    let secret: string;
    try {
      const made = await call(url, '/api/v1/tokens', undefined, { method: 'POST', body: { name: 'ops', scopes: { admin: true } } });
      assert.equal(made.status, 201);
      secret = made.body.secret;
    } finally {
      child.kill('SIGTERM');
      assert.deepEqual(await exited(child), { code: 0, signal: null });
    }
    // Same data dir, now on 0.0.0.0 with no api.tokens: the stored token counts, so it starts, closed.
    const pub = await writeConfig('restart', [`server: { host: 0.0.0.0, port: ${port} }`]);
    child = await startServerProcess(pub, url);
    try {
      assert.equal((await call(url, '/api/v1/whoami')).status, 401);
      assert.deepEqual((await call(url, '/api/v1/whoami', secret)).body, { open: false, kind: 'token', name: 'ops', scopes: { read: false, sync: [], admin: true }, rights: 'admin', expiresAt: null });
      // The last admin token on a public address is not revoked (nobody could make another); with a second one it is.
      const last = await call(url, '/api/v1/tokens/ops', secret, { method: 'DELETE' });
      assert.deepEqual([last.status, last.body.error.message], [409, 'ops is the last admin token and 0.0.0.0 is not a loopback address: create another admin token (or set api.tokens) before revoking it']);
      const other = await call(url, '/api/v1/tokens', secret, { method: 'POST', body: { name: 'ops2', scopes: { admin: true } } });
      assert.equal((await call(url, '/api/v1/tokens/ops', other.body.secret, { method: 'DELETE' })).status, 200);
      assert.equal((await call(url, '/api/v1/whoami', secret)).status, 401);
    } finally {
      child.kill('SIGTERM');
      assert.deepEqual(await exited(child), { code: 0, signal: null });
    }
  });
});

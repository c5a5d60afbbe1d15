// Dashboard sign-in on a real server: token → HttpOnly SameSite=Strict cookie, CSRF on mutations, sign-out, open API.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const API_TOKEN = 'api-token-for-session-tests-0123';

async function signIn(s: TestServer, token = API_TOKEN) {
  const res = await fetch(`${s.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  const body = await res.json() as any;
  const setCookie = res.headers.get('set-cookie') ?? '';
  return { status: res.status, body, setCookie, cookie: setCookie.split(';')[0]! };
}

describe('dashboard session (tokens configured)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let s: TestServer;
  before(async () => {
    tmp = await tempDir('gf-session-');
    s = await startTestServer(`${tmp.path}/data`, { api: { tokens: [API_TOKEN] } });
  });
  after(async () => { await s?.stop(); await tmp?.cleanup(); });

  it('says the API is closed and nobody is signed in, without credentials', async () => {
    const r = await fetch(`${s.url}/api/v1/session`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { open: false, signedIn: false, actor: null, scopes: null, csrfToken: null, expiresAt: null });
    assert.equal((await fetch(`${s.url}/api/v1/units`)).status, 401);
  });

  it('refuses a wrong token and a malformed body', async () => {
    const bad = await signIn(s, 'not-the-token-at-all-000000');
    assert.equal(bad.status, 401);
    assert.equal(bad.setCookie, '');
    const r = await fetch(`${s.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":5}' });
    assert.equal(r.status, 400);
  });

  it('exchanges the token for an HttpOnly SameSite=Strict cookie that reads the API; mutations need the CSRF header', async () => {
    const si = await signIn(s);
    assert.equal(si.status, 201);
    assert.match(si.setCookie, /^gitfleet_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    assert.doesNotMatch(si.setCookie, /Secure/); // plain http here
    assert.equal(typeof si.body.csrfToken, 'string');
    assert.equal(si.body.actor, 'config-1', 'the token\'s name (api.tokens are config-1, config-2, …)');
    assert.equal(si.body.scopes.admin, true);

    const units = await fetch(`${s.url}/api/v1/units`, { headers: { cookie: si.cookie } });
    assert.equal(units.status, 200);
    const who = await (await fetch(`${s.url}/api/v1/session`, { headers: { cookie: si.cookie } })).json() as any;
    assert.deepEqual({ signedIn: who.signedIn, csrf: who.csrfToken, actor: who.actor }, { signedIn: true, csrf: si.body.csrfToken, actor: si.body.actor });

    const body = JSON.stringify({ ip: '10.9.9.9', env: 'prod', apps: ['shop'] });
    const noCsrf = await fetch(`${s.url}/api/v1/hosts`, { method: 'POST', headers: { cookie: si.cookie, 'content-type': 'application/json' }, body });
    assert.equal(noCsrf.status, 403);
    assert.equal((await noCsrf.json() as any).error.code, 'csrf_failed');
    const wrong = await fetch(`${s.url}/api/v1/hosts`, { method: 'POST', headers: { cookie: si.cookie, 'content-type': 'application/json', 'x-csrf-token': 'x'.repeat(32) }, body });
    assert.equal(wrong.status, 403);
    const ok = await fetch(`${s.url}/api/v1/hosts`, { method: 'POST', headers: { cookie: si.cookie, 'content-type': 'application/json', 'x-csrf-token': si.body.csrfToken }, body });
    assert.equal(ok.status, 201, await ok.text());
    // Bearer requests are unaffected by CSRF.
    const bearer = await s.api('/api/v1/hosts', { method: 'POST', body: { ip: '10.9.9.8', env: 'prod', apps: ['shop'] } });
    assert.equal(bearer.status, 201);
  });

  it('signs out: the cookie stops working, the row is gone', async () => {
    const si = await signIn(s);
    const noCsrf = await fetch(`${s.url}/api/v1/session`, { method: 'DELETE', headers: { cookie: si.cookie } });
    assert.equal(noCsrf.status, 403);
    const out = await fetch(`${s.url}/api/v1/session`, { method: 'DELETE', headers: { cookie: si.cookie, 'x-csrf-token': si.body.csrfToken } });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /^gitfleet_session=; .*Max-Age=0/);
    assert.equal((await fetch(`${s.url}/api/v1/units`, { headers: { cookie: si.cookie } })).status, 401);
  });

  it('stores only digests, never the token or the session id', async () => {
    const si = await signIn(s);
    const rows = await s.ctx.db.all<Record<string, string>>('SELECT * FROM ui_sessions');
    const dump = JSON.stringify(rows);
    assert.ok(rows.length >= 1);
    assert.ok(!dump.includes(API_TOKEN));
    assert.ok(!dump.includes(si.cookie.split('=')[1]!));
  });
});

describe('dashboard session with a scoped token', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let s: TestServer;
  before(async () => {
    tmp = await tempDir('gf-session-scoped-');
    s = await startTestServer(`${tmp.path}/data`, { api: { tokens: [API_TOKEN] } });
  });
  after(async () => { await s?.stop(); await tmp?.cleanup(); });

  it('a session has exactly its token\'s scopes, and revoking the token ends it', async () => {
    const made = await s.api('/api/v1/tokens', { method: 'POST', body: { name: 'viewer', scopes: { read: true } } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const si = await signIn(s, made.body.secret);
    assert.equal(si.status, 201, JSON.stringify(si.body));
    assert.deepEqual([si.body.actor, si.body.scopes.read, si.body.scopes.admin], ['viewer', true, false]);
    const headers = { cookie: si.cookie, 'x-csrf-token': si.body.csrfToken, 'content-type': 'application/json' };
    assert.equal((await fetch(`${s.url}/api/v1/units`, { headers })).status, 200);
    const write = await fetch(`${s.url}/api/v1/hosts`, { method: 'POST', headers, body: JSON.stringify({ ip: '10.9.9.8', env: 'prod', apps: ['shop'] }) });
    assert.equal(write.status, 403);
    assert.match(((await write.json()) as any).error.message, /needs admin; token 'viewer' has read/);
    assert.equal((await s.api('/api/v1/tokens/viewer', { method: 'DELETE' })).status, 200);
    assert.equal((await fetch(`${s.url}/api/v1/units`, { headers })).status, 401, 'the revoked token\'s session is over');
    const who = await (await fetch(`${s.url}/api/v1/session`, { headers })).json() as any;
    assert.equal(who.signedIn, false);
    // Sign-in with a bad token is refused with the reason, and audited as denied.
    const bad = await signIn(s, 'gft_not-a-token-at-all');
    assert.equal(bad.status, 401);
    // The audit row is written once the answer is sent: on PostgreSQL over another pooled connection, so wait for it.
    const rows = await until('both session.create audit rows', async () => {
      const items = (await s.api('/api/v1/audit?action=session.')).body.items;
      return items.length >= 2 ? items : undefined;
    }, 10_000);
    assert.deepEqual(rows.map((r: any) => [r.action, r.actor, r.outcome]).sort(), [['session.create', 'anonymous', 'denied'], ['session.create', 'viewer', 'ok']].sort());
  });
});

describe('dashboard session (open API)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let s: TestServer;
  before(async () => {
    tmp = await tempDir('gf-session-open-');
    s = await startTestServer(`${tmp.path}/data`);
  });
  after(async () => { await s?.stop(); await tmp?.cleanup(); });

  it('reports the API as open and has nothing to sign in to', async () => {
    const r = await (await fetch(`${s.url}/api/v1/session`)).json();
    assert.deepEqual(r, { open: true, signedIn: false, actor: null, scopes: null, csrfToken: null, expiresAt: null });
    const si = await signIn(s, 'whatever-token-0123456789');
    assert.equal(si.status, 400);
    assert.equal((await fetch(`${s.url}/api/v1/units`)).status, 200);
  });

  it('redirects / to /ui/ and keeps /healthz', async () => {
    const r = await fetch(`${s.url}/`, { redirect: 'manual' });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), '/ui/');
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  });
});

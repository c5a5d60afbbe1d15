// Every route of the real app × {no token, read, sync in its globs, sync outside them, admin, expired}: the status
// each gets. The route list is read from the express app itself, so a route this table does not know fails the test.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Express } from 'express';
import { listRoutes } from '../../server/src/http/route-list.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const CONFIG_TOKEN = 'config-admin-token-0123456789';
const EXPIRED = 'gft_expired-secret-for-the-matrix-test-000000000';
type Who = 'none' | 'read' | 'syncIn' | 'syncOut' | 'admin' | 'expired';
const WHO: Who[] = ['none', 'read', 'syncIn', 'syncOut', 'admin', 'expired'];

/**
 * One request per route, harmless (it fails validation or names nothing that exists, where the route would change
 * something), and `ok`: the status of a caller that may use the route. Sync routes target prod/shop: the syncIn token
 * has sync on prod*\/shop, syncOut on test/shop.
 */
interface Row { need: 'public' | 'signed-in' | 'read' | 'sync' | 'admin'; path?: string; body?: unknown; ok?: number; override?: Partial<Record<Who, number>>; stream?: boolean }
const TABLE: Record<string, Row> = {
  'POST /webhooks/gitlab': { need: 'public' },
  'POST /webhooks/github': { need: 'public' },
  'GET /healthz': { need: 'public' },
  'GET /readyz': { need: 'public' },
  'GET /metrics': { need: 'public' },
  'POST /api/v1/agents/report': { need: 'public' },
  'GET /agents/:file': { need: 'public' },
  'GET /getfile': { need: 'read', path: '/getfile?env=prod&app=shop', ok: 200 },
  'POST /modify': { need: 'sync', body: { env: 'prod', app: 'shop' }, ok: 400 },
  'GET /sync': { need: 'sync', path: '/sync?env=prod&app=shop&wait=maybe', ok: 400 },
  'POST /api/v1/tokens': { need: 'admin', body: { name: 'bad name!', scopes: { read: true } }, ok: 400 },
  'GET /api/v1/tokens': { need: 'admin', ok: 200 },
  'DELETE /api/v1/tokens/:name': { need: 'admin', path: '/api/v1/tokens/nobody', ok: 404 },
  'GET /api/v1/whoami': { need: 'signed-in', ok: 200 },
  'GET /api/v1/audit': { need: 'admin', ok: 200 },
  'GET /api/v1/hosts': { need: 'read', ok: 200 },
  'GET /api/v1/hosts/:id': { need: 'read', path: '/api/v1/hosts/999999', ok: 404 },
  'POST /api/v1/hosts': { need: 'admin', body: {}, ok: 400 },
  'PUT /api/v1/hosts/:id': { need: 'admin', path: '/api/v1/hosts/999999', body: {}, ok: 404 },
  'DELETE /api/v1/hosts/:id': { need: 'admin', path: '/api/v1/hosts/999999', ok: 404 },
  'GET /api/v1/deployments': { need: 'read', ok: 200 },
  'GET /api/v1/deployments/:id': { need: 'read', path: '/api/v1/deployments/999999', ok: 404 },
  'POST /api/v1/deployments': { need: 'sync', body: { units: ['nginx/prod/shop'], hosts: ['192.0.2.99'] }, ok: 404 },
  'POST /api/v1/rollback': { need: 'sync', body: { units: ['nginx/prod/shop'], commit: 'nope' }, ok: 400 },
  // No held unit in deployment 999999: nothing to need sync on, so any sync token reaches the handler's 404.
  'POST /api/v1/deployments/:id/confirm': { need: 'sync', path: '/api/v1/deployments/999999/confirm', body: {}, ok: 404, override: { syncOut: 404 } },
  'GET /api/v1/units': { need: 'read', ok: 200 },
  'GET /api/v1/units/:mod/:env/:app/hosts': { need: 'read', path: '/api/v1/units/nginx/prod/shop/hosts', ok: 200 },
  'GET /api/v1/units/:mod/:env/:app/drift': { need: 'read', path: '/api/v1/units/nginx/prod/shop/drift', ok: 200 },
  'POST /api/v1/drift/check': { need: 'sync', body: { unit: 'nginx/prod/shop' }, ok: 200 },
  'GET /api/v1/host-sync/sources': { need: 'read', ok: 200 },
  'PUT /api/v1/host-sync/sources/:name/enabled': { need: 'admin', path: '/api/v1/host-sync/sources/nope/enabled', body: { enabled: 'yes' }, ok: 400 },
  'POST /api/v1/host-sync/sources/:name/run': { need: 'admin', path: '/api/v1/host-sync/sources/nope/run', ok: 404 },
  'GET /api/v1/host-sync/runs': { need: 'read', ok: 200 },
  'GET /api/v1/host-sync/runs/:id': { need: 'read', path: '/api/v1/host-sync/runs/999999', ok: 404 },
  'GET /api/v1/host-sync/upstream': { need: 'admin', ok: 200 },
  'POST /api/v1/host-sync/upstream/run': { need: 'admin', ok: 404 },
  'POST /api/v1/es-sync/tasks': { need: 'admin', body: { name: '' }, ok: 400 },
  'GET /api/v1/es-sync/tasks': { need: 'read', ok: 200 },
  'GET /api/v1/es-sync/tasks/:id': { need: 'read', path: '/api/v1/es-sync/tasks/999999', ok: 404 },
  'PUT /api/v1/es-sync/tasks/:id': { need: 'admin', path: '/api/v1/es-sync/tasks/999999', body: { name: 'x' }, ok: 404 },
  'DELETE /api/v1/es-sync/tasks/:id': { need: 'admin', path: '/api/v1/es-sync/tasks/999999', ok: 404 },
  'PUT /api/v1/es-sync/tasks/:id/enabled': { need: 'admin', path: '/api/v1/es-sync/tasks/999999/enabled', body: { enabled: 'yes' }, ok: 400 },
  'POST /api/v1/es-sync/tasks/:id/execute': { need: 'admin', path: '/api/v1/es-sync/tasks/999999/execute', body: { ips: 'none' }, ok: 400 },
  'POST /api/v1/es-sync/tasks/:id/execute-file': { need: 'admin', path: '/api/v1/es-sync/tasks/999999/execute-file', ok: 400 },
  'GET /api/v1/es-sync/executions': { need: 'read', ok: 200 },
  'GET /api/v1/es-sync/executions/:id': { need: 'read', path: '/api/v1/es-sync/executions/999999', ok: 404 },
  'POST /api/v1/agents/collect': { need: 'admin', body: {}, ok: 400 },
  'GET /api/v1/agents/runs': { need: 'read', ok: 200 },
  'GET /api/v1/agents/runs/:id': { need: 'read', path: '/api/v1/agents/runs/999999', ok: 404 },
  'DELETE /api/v1/agents/hosts/:id/identity': { need: 'admin', path: '/api/v1/agents/hosts/999999/identity', ok: 404 },
  'GET /api/v1/units/:mod/:env/:app/files': { need: 'read', path: '/api/v1/units/nginx/prod/shop/files', ok: 200 },
  'GET /api/v1/units/:mod/:env/:app/file': { need: 'read', path: '/api/v1/units/nginx/prod/shop/file?path=no/such/file', ok: 404 },
  'POST /api/v1/units/:mod/:env/:app/modify': { need: 'sync', path: '/api/v1/units/nginx/prod/shop/modify', body: {}, ok: 400 },
  'GET /api/v1/retention': { need: 'read', ok: 200 },
  'POST /api/v1/retention/run': { need: 'admin', ok: 200 },
  // The dashboard: its files are public, its sign-in too (a session has its token's scopes); the data is read.
  'GET /': { need: 'public' },
  'GET /ui': { need: 'public' },
  'GET /ui/': { need: 'public' },
  'GET /api/v1/session': { need: 'public' },
  'POST /api/v1/session': { need: 'public' },
  'DELETE /api/v1/session': { need: 'public' },
  'GET /api/v1/events': { need: 'read', ok: 200, stream: true },
  'GET /api/v1/matrix': { need: 'read', ok: 200 },
  'GET /api/v1/held-units': { need: 'read', ok: 200 },
  'GET /api/v1/hosts/:id/pushes': { need: 'read', path: '/api/v1/hosts/999999/pushes', ok: 404 },
  'GET /api/v1/deployments/:id/commits': { need: 'read', path: '/api/v1/deployments/999999/commits', ok: 404 },
  'GET /api/v1/units/:mod/:env/:app/tree': { need: 'read', path: '/api/v1/units/nginx/prod/nope/tree', ok: 404 },
  'GET /api/v1/units/:mod/:env/:app/blob': { need: 'read', path: '/api/v1/units/nginx/prod/nope/blob?path=x', ok: 404 },
  // Sync windows: reading is read, editing is admin (overriding one is admin too: see the sync windows tests).
  'GET /api/v1/windows': { need: 'read', ok: 200 },
  'POST /api/v1/windows/:name': { need: 'admin', path: '/api/v1/windows/matrix-test', body: { kind: 'never' }, ok: 400 },
  'DELETE /api/v1/windows/:name': { need: 'admin', path: '/api/v1/windows/matrix-test', ok: 404 },
  'GET /api/v1/previews': { need: 'read', ok: 200 },
  'GET /api/v1/secrets/recipient': { need: 'read', ok: 200 },
};

/** The status a caller should get: ok if its rights suffice, else 401 (no or expired token) or 403. */
function expected(row: Row, who: Who): number {
  if (row.override?.[who] !== undefined) return row.override[who]!;
  if (who === 'none' || who === 'expired') return 401;
  const allowed = who === 'admin' || row.need === 'signed-in'
    || (row.need === 'read') || (row.need === 'sync' && who === 'syncIn');
  return allowed ? row.ok! : 403;
}

describe('route × scope matrix', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let s: TestServer;
  const secrets: Partial<Record<Who, string>> = {};

  before(async () => {
    tmp = await tempDir('gf-matrix-');
    s = await startTestServer(join(tmp.path, 'data'), { api: { tokens: [CONFIG_TOKEN] } });
    const make = async (name: string, scopes: unknown) => {
      const r = await s.api('/api/v1/tokens', { method: 'POST', body: { name, scopes } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.secret as string;
    };
    secrets.read = await make('reader', { read: true });
    secrets.syncIn = await make('shop-team', { sync: { env: ['prod*'], app: ['shop'] } });
    secrets.syncOut = await make('test-team', { sync: { env: ['test'], app: ['shop'] } });
    secrets.admin = await make('ops', { admin: true });
    // An expired token, as a token created a while ago would be.
    await s.ctx.db.run("INSERT INTO api_tokens (name, secret_sha256, scopes, created_at, created_by, expires_at) VALUES ('old', ?, ?, '2020-01-01T00:00:00.000Z', 'test', '2020-02-01T00:00:00.000Z')",
      [createHash('sha256').update(EXPIRED).digest('hex'), JSON.stringify({ read: true, sync: [], admin: true })]);
    secrets.expired = EXPIRED;
  });
  after(async () => {
    await s?.stop();
    await tmp?.cleanup();
  });

  it('knows every route of the app, and each declares the scope the table says', () => {
    const routes = listRoutes(s.server.listeners('request')[0] as Express);
    const seen = new Set<string>();
    for (const r of routes) {
      const key = `${r.method} ${r.path}`;
      seen.add(key);
      assert.ok(TABLE[key], `route ${key} is not in the matrix table: add it with its scope`);
      assert.equal(r.declared?.need, TABLE[key]!.need, `${key} declares ${JSON.stringify(r.declared)}`);
      if (r.method !== 'GET' && r.declared?.need !== 'public') assert.ok(r.audited, `${key} changes state but is not audited`);
    }
    for (const key of Object.keys(TABLE)) assert.ok(seen.has(key), `table row ${key} names no route of the app`);
  });

  it('answers each caller of each route with the right status', async () => {
    const wrong: string[] = [];
    for (const [key, row] of Object.entries(TABLE)) {
      if (row.need === 'public') continue;
      const [method, pattern] = key.split(' ') as [string, string];
      for (const who of WHO) {
        const headers: Record<string, string> = secrets[who] ? { authorization: `Bearer ${secrets[who]}` } : {};
        if (row.body !== undefined) headers['content-type'] = 'application/json';
        const ctl = new AbortController();
        const res = await fetch(s.url + (row.path ?? pattern), { method, headers, body: row.body === undefined ? undefined : JSON.stringify(row.body), signal: ctl.signal });
        // A stream (server-sent events) never ends: its status is the answer.
        const body = row.stream && res.status === 200 ? '' : await res.text();
        ctl.abort();
        if (res.status !== expected(row, who)) wrong.push(`${key} as ${who}: ${res.status} (expected ${expected(row, who)}) ${body.slice(0, 200)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('names the missing right in a 403, and why in a 401', async () => {
    const as = (who: Who) => ({ authorization: `Bearer ${secrets[who]}`, 'content-type': 'application/json' });
    const post = async (who: Who, path: string, body: unknown) => {
      const r = await fetch(s.url + path, { method: 'POST', headers: as(who), body: JSON.stringify(body) });
      return { status: r.status, body: await r.json() as { error: { code: string; message: string } } };
    };
    const out = await post('syncOut', '/api/v1/deployments', { units: ['nginx/prod/payments'] });
    assert.equal(out.status, 403);
    assert.equal(out.body.error.message, "needs sync on prod/payments; token 'test-team' has sync on test/shop");
    const shop = await post('syncIn', '/api/v1/deployments', { units: ['nginx/prod/shop', 'app/prod/payments'] });
    assert.equal(shop.body.error.message, "needs sync on prod/shop, prod/payments; token 'shop-team' has sync on prod*/shop");
    const all = await post('syncIn', '/api/v1/rollback', { commit: 'HEAD' });
    assert.equal(all.body.error.message, "needs sync on every unit (*/*); token 'shop-team' has sync on prod*/shop");
    const reader = await post('read', '/api/v1/hosts', {});
    assert.equal(reader.body.error.message, "needs admin; token 'reader' has read");
    const expired = await post('expired', '/api/v1/hosts', {});
    assert.deepEqual([expired.status, expired.body.error.message], [401, "API token 'old' expired at 2020-02-01T00:00:00.000Z"]);
    const unknown = await fetch(`${s.url}/api/v1/hosts`, { headers: { authorization: 'Bearer gft_not-a-token' } });
    assert.deepEqual([unknown.status, (await unknown.json()).error.message], [401, 'unknown API token']);
    // An unknown API path is a 401 without credentials (as before scopes), a 404 with them.
    assert.equal((await fetch(`${s.url}/api/v1/nothing-here`)).status, 401);
    assert.equal((await fetch(`${s.url}/api/v1/nothing-here`, { headers: as('read') })).status, 404);
  });
});

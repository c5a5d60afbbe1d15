// CMDB provider "bkcmdb" through its real client against a fake API gateway: mapping, paging, auth, errors.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../server/src/config.js';
import { createLogger } from '../../server/src/log.js';
import { createProvider } from '../../server/src/cmdb/registry.js';
import { UpstreamDataError, UpstreamUnavailableError } from '../../server/src/errors.js';
import type { Db } from '../../server/src/db/connection.js';
import { BK_AUTH, startFakeBkCmdb, type FakeBkCmdb } from './fake-bkcmdb.js';

let bk: FakeBkCmdb;
before(async () => {
  bk = await startFakeBkCmdb();
  // 1203 hosts in set "prod-set" module "shop-mod": three pages of 500 at the maximum page size.
  for (let i = 0; i < 1203; i++) bk.hosts.push({ bk_host_id: 5000 - i, bk_host_innerip: `10.1.${Math.floor(i / 250)}.${i % 250 + 1}`, bk_host_name: `shop-${i}`, bk_cloud_id: 0, set: 'prod-set', modules: ['shop-mod'] });
  bk.hosts.push({ bk_host_id: 1025, bk_host_innerip: '192.0.2.22,192.0.2.122', bk_host_name: 'orders-api-prod-02', bk_cloud_id: 0, set: 'live', modules: ['orders-api', 'orders-worker'] });
  bk.hosts.push({ bk_host_id: 1031, bk_host_innerip: '192.0.2.23', bk_host_name: '', bk_cloud_id: 2, set: 'live', modules: ['orders-api'] });
  bk.hosts.push({ bk_host_id: 1032, bk_host_innerip: '', set: 'live', modules: ['orders-api'] });
  bk.hosts.push({ bk_host_id: 1040, bk_host_innerip: '192.0.2.40', set: 'test', modules: ['orders-api'] });
});
after(async () => { assert.deepEqual(bk.fake.unexpected.map((r) => r.path), [], 'no unexpected calls'); await bk.close(); });

const provider = (extra: Record<string, unknown> = {}) => createProvider({
  config: parseConfig({ inventory: { provider: 'bkcmdb', bkcmdb: { baseUrl: bk.baseUrl, appCode: BK_AUTH.bk_app_code, appSecret: BK_AUTH.bk_app_secret, username: BK_AUTH.bk_username, bizId: 7, envSets: { prod: 'prod-set' }, appModules: { shop: 'shop-mod' }, timeout: 2, ...extra } } }),
  db: {} as Db, log: createLogger('silent'),
});

test('env → set and app → module mapping, every page at limit 500 sorted by bk_host_id, auth in the gateway header', async () => {
  bk.pageRequests.length = 0;
  const hosts = await provider().resolveHosts({ env: 'prod', app: 'shop' });
  assert.equal(hosts.length, 1203);
  assert.equal(new Set(hosts.map((h) => h.ip)).size, 1203);
  assert.deepEqual(bk.pageRequests, [{ start: 0, limit: 500, sort: 'bk_host_id' }, { start: 500, limit: 500, sort: 'bk_host_id' }, { start: 1000, limit: 500, sort: 'bk_host_id' }]);
  const call = bk.fake.calls.at(-1)!;
  assert.deepEqual(call.json.set_cond, [{ field: 'bk_set_name', operator: '$eq', value: 'prod-set' }]);
  assert.deepEqual(call.json.module_cond, [{ field: 'bk_module_name', operator: '$eq', value: 'shop-mod' }]);
  assert.equal(call.json.bk_app_secret, undefined, 'no credentials in the body on the gateway');
});

test('unmapped names are used as they are; multi-IP hosts use the first IP; hosts without an IP are skipped; cloudId filters', async () => {
  const hosts = await provider().resolveHosts({ env: 'live', app: 'orders-api' });
  assert.deepEqual(hosts, [{ ip: '192.0.2.22', hostname: 'orders-api-prod-02' }, { ip: '192.0.2.23', hostname: null }]);
  assert.deepEqual(await provider({ cloudId: 2 }).resolveHosts({ env: 'live', app: 'orders-api' }), [{ ip: '192.0.2.23', hostname: null }]);
  assert.deepEqual(await provider().resolveHosts({ env: 'nowhere', app: 'orders-api' }), [], 'empty = no hosts');
});

test('auth failure (gateway), no permission (IAM), CMDB business error, 5xx, malformed bodies, timeout', async () => {
  await assert.rejects(provider({ appSecret: 'wrong' }).resolveHosts({ env: 'live', app: 'orders-api' }),
    (err: unknown) => err instanceof UpstreamUnavailableError && /gateway error 1640001 INVALID_ARGS.*authentication refused/.test((err as Error).message));
  const cases: Array<[unknown, typeof UpstreamUnavailableError | typeof UpstreamDataError, RegExp]> = [
    [{ status: 403, body: { code: 1640301, data: null, code_name: 'APP_NO_PERMISSION', message: 'App has no permission to the resource', result: false } }, UpstreamUnavailableError, /1640301 APP_NO_PERMISSION.*refused/],
    [{ body: { result: false, code: 9900403, message: 'no permissions', permission: { system_id: 'bk_cmdb' }, request_id: 'r1', data: null } }, UpstreamUnavailableError, /no permission \(code 9900403\).*request_id r1/],
    [{ body: { result: false, code: 1199006, message: "'page.limit' data parameter verification does not pass", permission: null, request_id: 'r2', data: null } }, UpstreamDataError, /CMDB error 1199006/],
    [{ status: 502, body: { code: 1650200, data: null, code_name: 'BACKEND_ERROR', message: 'bad gateway', result: false } }, UpstreamUnavailableError, /HTTP 502/],
    [{ status: 500, raw: 'oops' }, UpstreamUnavailableError, /HTTP 500/],
    [{ raw: '{"result": tru' }, UpstreamDataError, /not JSON/],
    [{ body: { result: true, code: 0, data: { info: 'x' } } }, UpstreamDataError, /data must be \{count, info\[\]\}/],
    [{ body: { result: true, code: 0, data: { count: 1, info: [{ bk_host_innerip: '1.2.3.4' }] } } }, UpstreamDataError, /bk_host_id must be an integer/],
    [{ body: ['not', 'an', 'envelope'] }, UpstreamDataError, /not a CMDB envelope/],
  ];
  for (const [reply, cls, re] of cases) {
    bk.failNext.push(reply as never);
    await assert.rejects(provider().resolveHosts({ env: 'live', app: 'orders-api' }), (err: unknown) => err instanceof cls && re.test((err as Error).message), re.source);
  }
});

test('a listing whose total changes between pages is restarted, and refused if it keeps changing', async () => {
  // First page says 3 hosts, the second says 2: restart; the next attempt is consistent.
  bk.failNext.push({ body: { result: true, code: 0, data: { count: 1000, info: Array.from({ length: 500 }, (_, i) => ({ bk_host_id: i + 1, bk_host_innerip: `10.9.${i >> 8}.${i & 255}` })) } } });
  const hosts = await provider().resolveHosts({ env: 'live', app: 'orders-api' });
  assert.equal(hosts.length, 2);
  for (let i = 0; i < 6; i++) bk.failNext.push({ body: { result: true, code: 0, data: { count: 1000 + i, info: Array.from({ length: 500 }, (_, j) => ({ bk_host_id: j + 1, bk_host_innerip: '10.9.9.9' })) } } });
  await assert.rejects(provider().resolveHosts({ env: 'live', app: 'orders-api' }), /kept changing/);
  bk.failNext.length = 0;
});

test('ESB mode: credentials and bk_biz_id in the body, /api/c/compapi/v2/cc/<api>/, ESB-route errors (HTTP 200, result false)', async () => {
  const { startFake } = await import('./fake-upstream.js');
  const esb = await startFake();
  try {
    let fail = false;
    esb.route('POST /api/c/compapi/v2/cc/list_biz_hosts/', (req) => {
      const b = req.json;
      if (fail) return { body: { result: false, code: 1306000, message: 'component error', data: null } };
      if (b.bk_app_code !== 'gitfleet' || b.bk_app_secret !== 's' || b.bk_username !== 'u' || b.bk_supplier_account !== '0' || b.bk_biz_id !== 7) return { body: { result: false, code: 1306401, message: 'auth', data: null } };
      assert.equal(req.headers['x-bkapi-authorization'], undefined);
      return { body: { result: true, code: 0, message: 'success', data: { count: 1, info: [{ bk_host_id: 1, bk_host_innerip: '192.0.2.9', bk_host_name: 'esb-1' }] } } };
    });
    const p = createProvider({
      config: parseConfig({ inventory: { provider: 'bkcmdb', bkcmdb: { mode: 'esb', baseUrl: esb.url, appCode: 'gitfleet', appSecret: 's', username: 'u', bizId: 7 } } }),
      db: {} as Db, log: createLogger('silent'),
    });
    assert.deepEqual(await p.resolveHosts({ env: 'prod', app: 'shop' }), [{ ip: '192.0.2.9', hostname: 'esb-1' }]);
    fail = true;
    await assert.rejects(p.resolveHosts({ env: 'prod', app: 'shop' }), (e: unknown) => e instanceof UpstreamDataError && /CMDB error 1306000/.test((e as Error).message));
    assert.deepEqual(esb.unexpected, []);
  } finally {
    await esb.close();
  }
});

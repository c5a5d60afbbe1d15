// Sources mock, file, http and bkcmdb through their real code: shapes, paging, auth, failures; the registry vs disk.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../../server/src/config.js';
import { createLogger } from '../../server/src/log.js';
import { UpstreamDataError, UpstreamUnavailableError } from '../../server/src/errors.js';
import { sourceTypes } from '../../server/src/hostsync/registry.js';
import { mapRecord, resolveMapping } from '../../server/src/hostsync/mapping.js';
import type { SourceType } from '../../server/src/hostsync/source.js';
import { tempDir } from '../helpers/tmp.js';
import { startFake, type FakeUpstream } from '../cmdb/fake-upstream.js';
import { BK_AUTH, startFakeBkCmdb, type FakeBkCmdb } from '../cmdb/fake-bkcmdb.js';

const log = createLogger('silent');
const create = (type: string, opts: Record<string, unknown>, raw: Record<string, unknown> = {}) =>
  sourceTypes.get(type)!.create(sourceTypes.get(type)!.options && parseOpts(type, opts), { name: 'src', config: parseConfig(raw), log });
/** Options through the real config schema (defaults applied). */
function parseOpts(type: string, opts: Record<string, unknown>): never {
  return parseConfig({ hostSync: { sources: { src: { type, ...opts } } } }).hostSync.sources.src as never;
}
const signal = () => AbortSignal.timeout(5000);

test('registry matches the folders under hostsync/sources; each type exports itself', async () => {
  const dir = join(import.meta.dirname, '..', '..', 'server', 'src', 'hostsync', 'sources');
  const folders = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  assert.deepEqual([...sourceTypes.keys()].sort(), folders);
  for (const name of folders) {
    const mod = await import(join(dir, name, 'index.ts')) as { id: string; source: SourceType };
    assert.equal(mod.id, name);
    assert.equal(mod.source.id, name);
    assert.equal(sourceTypes.get(name), mod.source);
    assert.equal(typeof mod.source.create, 'function');
  }
});

test('mock: 25–60 hosts, stable for a seed, all mappable, drifting with churn', async () => {
  const a = await create('mock', { seed: 'demo', churn: 0 }).list(signal());
  const b = await create('mock', { seed: 'demo', churn: 0 }).list(signal());
  assert.ok(a.length >= 25 && a.length <= 60, String(a.length));
  assert.deepEqual(a, b);
  const m = resolveMapping(sourceTypes.get('mock')!.defaultMap);
  for (const r of a) {
    const x = mapRecord(r, m);
    assert.equal(x.kind, 'host', JSON.stringify(x));
    if (x.kind === 'host') for (const k of ['group', 'product', 'region', 'provider', 'cpu', 'memGb', 'diskGb', 'owner', 'tier']) assert.ok(k in x.host.labels!, k);
  }
  const drifting = create('mock', { seed: 'demo', churn: 0.5 });
  const first = await drifting.list(signal());
  let changed = false;
  for (let i = 0; i < 5 && !changed; i++) changed = JSON.stringify(await drifting.list(signal())) !== JSON.stringify(first);
  assert.ok(changed);
});

let dir: { path: string; cleanup(): Promise<void> };
before(async () => { dir = await tempDir('gf-src-'); });
after(async () => { await dir.cleanup(); });

test('file: YAML, JSON and CSV with the same content give the same records', async () => {
  const yamlPath = join(dir.path, 'hosts.yaml');
  await writeFile(yamlPath, 'hosts:\n  - uid: h1\n    ip: 192.0.2.1\n    hostname: web-1\n    env: prod\n    apps: [shop, pay]\n    labels: {rack: r1}\n  - ip: 192.0.2.2\n    env: test\n    apps: [shop]\n');
  const jsonPath = join(dir.path, 'hosts.json');
  await writeFile(jsonPath, JSON.stringify([{ uid: 'h1', ip: '192.0.2.1', hostname: 'web-1', env: 'prod', apps: ['shop', 'pay'], labels: { rack: 'r1' } }, { ip: '192.0.2.2', env: 'test', apps: ['shop'] }]));
  const csvPath = join(dir.path, 'hosts.csv');
  await writeFile(csvPath, 'uid,ip,hostname,env,apps,labels.rack\nh1,192.0.2.1,web-1,prod,"shop,pay",r1\n,192.0.2.2,,test,shop,\n');
  const m = resolveMapping(sourceTypes.get('file')!.defaultMap);
  const hosts = async (path: string) => (await create('file', { path }).list(signal())).map((r) => mapRecord(r, m));
  const y = await hosts(yamlPath);
  assert.deepEqual(y.map((r) => r.kind === 'host' && [r.uid, r.host.ip, r.host.env, r.host.apps, r.host.labels]), [['h1', '192.0.2.1', 'prod', ['pay', 'shop'], { rack: 'r1' }], ['192.0.2.2', '192.0.2.2', 'test', ['shop'], {}]]);
  assert.deepEqual(await hosts(jsonPath), y);
  assert.deepEqual(await hosts(csvPath), y);
  await writeFile(join(dir.path, 'bad.yaml'), 'hosts: [a: b: c');
  await assert.rejects(create('file', { path: join(dir.path, 'bad.yaml') }).list(signal()), UpstreamDataError);
  await writeFile(join(dir.path, 'bad.json'), '{"hosts": 3}');
  await assert.rejects(create('file', { path: join(dir.path, 'bad.json') }).list(signal()), /expected a list of hosts/);
  await assert.rejects(create('file', { path: join(dir.path, 'missing.csv') }).list(signal()), (e: unknown) => e instanceof UpstreamUnavailableError && /ENOENT/.test((e as Error).message));
});

let fake: FakeUpstream;
before(async () => { fake = await startFake(); });
after(async () => { assert.deepEqual(fake.unexpected.map((r) => r.path), [], 'no unexpected calls'); await fake.close(); });

test('http: items path, next-page links, auth header; auth failure, 5xx, malformed, foreign next page', async () => {
  fake.route('GET /inv', (req) => {
    if (req.headers['x-token'] !== 's3cret') return { status: 403, body: { error: 'forbidden' } };
    const page = Number(req.query.get('page') ?? 1);
    const items = page === 1 ? [{ id: 'a', ip: '192.0.2.10', env: 'prod', apps: 'shop' }] : [{ id: 'b', ip: '192.0.2.11', env: 'prod', apps: 'pay' }];
    return { body: { data: { items }, links: { next: page === 1 ? '/inv?page=2' : null } } };
  });
  const src = (extra: Record<string, unknown> = {}) => create('http', { url: `${fake.url}/inv`, itemsPath: 'data.items', nextPath: 'links.next', uidField: 'id', authHeader: 'X-Token', authValue: 's3cret', requestTimeout: 1, ...extra });
  assert.deepEqual((await src().list(signal())).map((r) => [r.uid, r.ip]), [['a', '192.0.2.10'], ['b', '192.0.2.11']]);
  await assert.rejects(src({ authValue: 'nope' }).list(signal()), (e: unknown) => e instanceof UpstreamUnavailableError && /HTTP 403/.test((e as Error).message));
  const cases: Array<[unknown, typeof UpstreamUnavailableError | typeof UpstreamDataError, RegExp]> = [
    [{ status: 502, raw: 'bad gateway' }, UpstreamUnavailableError, /HTTP 502/],
    [{ raw: 'not json' }, UpstreamDataError, /not JSON/],
    [{ body: { data: { items: 'x' } } }, UpstreamDataError, /expected a list of hosts at "data.items"/],
    [{ body: { data: { items: [] }, links: { next: 'http://elsewhere.example/inv' } } }, UpstreamDataError, /another origin/],
    [{ body: { data: { items: [] }, links: { next: '/x' } }, delayMs: 1500 }, UpstreamUnavailableError, /no answer within 1 s/],
  ];
  for (const [reply, cls, re] of cases) {
    fake.route('GET /inv2', () => reply as never);
    await assert.rejects(src({ url: `${fake.url}/inv2` }).list(signal()), (e: unknown) => e instanceof cls && re.test((e as Error).message), re.source);
  }
});

let bk: FakeBkCmdb;
before(async () => { bk = await startFakeBkCmdb(); });
after(async () => { assert.deepEqual(bk.fake.unexpected.map((r) => r.path), [], 'no unexpected calls'); await bk.close(); });

test('bkcmdb: every host of the business with set and module names, all pages; idle pool excluded by default', async () => {
  for (let i = 0; i < 1100; i++) bk.hosts.push({ bk_host_id: 10_000 + i, bk_host_innerip: `10.3.${i >> 8}.${i & 255}`, bk_host_name: `h${i}`, bk_cpu: 8, bk_mem: 16000, set: i % 2 ? 'prod' : 'test', modules: i % 3 ? ['shop'] : ['shop', 'pay'] });
  bk.hosts.push({ bk_host_id: 99, bk_host_innerip: '10.3.200.1,10.3.200.2', set: '空闲机池', modules: ['空闲机'] });
  const raw = { inventory: { bkcmdb: { baseUrl: bk.baseUrl, appCode: BK_AUTH.bk_app_code, appSecret: BK_AUTH.bk_app_secret, username: BK_AUTH.bk_username, bizId: 7 } } };
  bk.pageRequests.length = 0;
  const recs = await create('bkcmdb', { watch: false }, raw).list(signal());
  assert.equal(recs.length, 1101);
  assert.deepEqual(bk.pageRequests, [{ start: 0, limit: 500, sort: undefined }, { start: 500, limit: 500, sort: undefined }, { start: 1000, limit: 500, sort: undefined }]);
  const m = resolveMapping(sourceTypes.get('bkcmdb')!.defaultMap);
  const mapped = recs.map((r) => mapRecord(r, m));
  assert.equal(mapped.filter((x) => x.kind === 'skip').length, 1, 'idle pool host left out');
  const h3 = mapped.find((x) => x.uid === '10003');
  assert.ok(h3 && h3.kind === 'host');
  if (h3.kind === 'host') assert.deepEqual([h3.host.ip, h3.host.env, h3.host.apps, h3.host.labels!.cpu], ['10.3.0.3', 'prod', ['pay', 'shop'], '8']);
  // Source-level connection overrides, wrong secret → refused.
  await assert.rejects(create('bkcmdb', { watch: false, connection: { appSecret: 'wrong' } }, raw).list(signal()), UpstreamUnavailableError);
  bk.failNext.push({ status: 504, body: { code: 1650401, data: null, code_name: 'REQUEST_BACKEND_TIMEOUT', message: 'timeout', result: false } });
  await assert.rejects(create('bkcmdb', { watch: false }, raw).list(signal()), (e: unknown) => e instanceof UpstreamUnavailableError && /REQUEST_BACKEND_TIMEOUT/.test((e as Error).message));
  bk.failNext.push({ body: { result: true, code: 0, data: { count: 1, info: [{ host: { bk_host_id: 1 } }] } } });
  await assert.rejects(create('bkcmdb', { watch: false }, raw).list(signal()), /must be \{host, topo\[\]\}/);
});

test('bkcmdb: the documented list_biz_hosts_topo answer', async () => {
  const { readFileSync } = await import('node:fs');
  const body = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'bkcmdb-list-biz-hosts-topo-response.json'), 'utf8'));
  bk.failNext.push({ body });
  const raw = { inventory: { bkcmdb: { baseUrl: bk.baseUrl, appCode: BK_AUTH.bk_app_code, appSecret: BK_AUTH.bk_app_secret, username: BK_AUTH.bk_username, bizId: 7 } } };
  const recs = await create('bkcmdb', { watch: false }, raw).list(signal());
  assert.deepEqual(recs.map((r) => [r.uid, r.ip, r.fields.set, r.fields.module]), [['1024', '192.0.2.21', 'prod', 'orders-api,orders-worker'], ['1040', '192.0.2.40', '空闲机池', '空闲机']]);
});

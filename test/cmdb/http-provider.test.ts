// CMDB provider "http" through its real client against a loopback server: answers, auth header, failures classified.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../server/src/config.js';
import { createLogger } from '../../server/src/log.js';
import { createProvider } from '../../server/src/cmdb/registry.js';
import { UpstreamDataError, UpstreamUnavailableError } from '../../server/src/errors.js';
import type { Db } from '../../server/src/db/connection.js';
import { startFake, type FakeUpstream } from './fake-upstream.js';

let fake: FakeUpstream;
before(async () => { fake = await startFake(); });
after(async () => { assert.deepEqual(fake.unexpected.map((r) => r.path), [], 'no unexpected calls'); await fake.close(); });

const provider = (extra: Record<string, unknown> = {}) => createProvider({
  config: parseConfig({ inventory: { provider: 'http', http: { url: `${fake.url}/cmdb/{env}/hosts?app={app}`, authHeader: 'X-Api-Key', authValue: 'k-123', headers: { 'X-Site': 'bj' }, timeout: 1, ...extra } } }),
  db: {} as Db, log: createLogger('silent'),
});

test('a list of IPs, a list of objects and a wrapped list all work; {env}/{app} are URL-encoded; auth header sent', async () => {
  let reply: unknown = ['192.0.2.1', '192.0.2.2'];
  fake.route('GET /cmdb/prod/hosts', (req) => {
    if (req.headers['x-api-key'] !== 'k-123' || req.headers['x-site'] !== 'bj') return { status: 401, body: { error: 'no' } };
    return { body: reply };
  });
  const p = provider();
  assert.deepEqual(await p.resolveHosts({ env: 'prod', app: 'shop' }), [{ ip: '192.0.2.1' }, { ip: '192.0.2.2' }]);
  assert.equal(fake.calls.at(-1)!.query.get('app'), 'shop');
  reply = [{ ip: '192.0.2.3', hostname: 'shop-1', port: 2222, user: 'deploy' }];
  assert.deepEqual(await p.resolveHosts({ env: 'prod', app: 'a&b' }), [{ ip: '192.0.2.3', hostname: 'shop-1', port: 2222, user: 'deploy' }]);
  assert.equal(fake.calls.at(-1)!.query.get('app'), 'a&b');
  reply = { hosts: [] };
  assert.deepEqual(await p.resolveHosts({ env: 'prod', app: 'shop' }), [], 'an empty answer is "no hosts", not an error');
});

test('auth failure, 5xx, 429 → unavailable; malformed bodies → bad data; a hang → timeout', async () => {
  const p = provider();
  const cases: Array<[string, () => { status?: number; body?: unknown; raw?: string; delayMs?: number }, typeof UpstreamUnavailableError | typeof UpstreamDataError, RegExp]> = [
    ['auth', () => ({ status: 401, body: { error: 'bad key' } }), UpstreamUnavailableError, /HTTP 401.*refused/],
    ['5xx', () => ({ status: 503, raw: '<html>bad gateway</html>' }), UpstreamUnavailableError, /HTTP 503/],
    ['429', () => ({ status: 429, body: {} }), UpstreamUnavailableError, /HTTP 429/],
    ['not json', () => ({ raw: 'hello' }), UpstreamDataError, /not JSON/],
    ['not a list', () => ({ body: { count: 3 } }), UpstreamDataError, /expected a JSON array/],
    ['bad ip', () => ({ body: ['192.0.2.1', 'nope'] }), UpstreamDataError, /\[1\] is not an IP/],
    ['bad port', () => ({ body: [{ ip: '192.0.2.1', port: 70000 }] }), UpstreamDataError, /\[0\]\.port/],
    ['404', () => ({ status: 404, body: { error: 'no such env' } }), UpstreamDataError, /HTTP 404/],
    ['hang', () => ({ delayMs: 1500, body: [] }), UpstreamUnavailableError, /no answer within 1 s/],
  ];
  for (const [name, reply, cls, re] of cases) {
    fake.route('GET /cmdb/test/hosts', reply);
    await assert.rejects(p.resolveHosts({ env: 'test', app: 'shop' }), (err: unknown) => err instanceof cls && re.test((err as Error).message), name);
  }
});

test('connection refused → unavailable', async () => {
  const p = createProvider({ config: parseConfig({ inventory: { provider: 'http', http: { url: 'http://127.0.0.1:9/{env}/{app}' } } }), db: {} as Db, log: createLogger('silent') });
  await assert.rejects(p.resolveHosts({ env: 'prod', app: 'shop' }), (err: unknown) => err instanceof UpstreamUnavailableError && /cannot connect/.test((err as Error).message));
});

// PURE parts of tokens and audit: glob matching, what scopes allow, the 403 wording, the listen policy, redaction.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { can, check, globMatch, normaliseScopes, scopesAllow, scopesInput, type Actor, type Scopes } from '../../server/src/auth/scopes.js';
import { isLoopbackHost, listenPolicy } from '../../server/src/auth/listen-policy.js';
import { redactParams } from '../../server/src/audit/redact.js';

const scopes = (s: Partial<Scopes>): Scopes => ({ read: false, sync: [], admin: false, ...s });
const token = (s: Partial<Scopes>, name = 't'): Actor => ({ kind: 'token', name, scopes: scopes(s), expiresAt: null });

describe('scopes', () => {
  it('globs: * and ? only; dots are literal; the whole name must match', () => {
    const cases: Array<[string, string, boolean]> = [
      ['prod*', 'prod', true], ['prod*', 'prod-eu', true], ['prod*', 'preprod', false], ['*', 'anything', true],
      ['te?t', 'test', true], ['te?t', 'tet', false], ['a.b', 'a.b', true], ['a.b', 'axb', false], ['shop', 'shop2', false],
    ];
    for (const [p, v, want] of cases) assert.equal(globMatch(p, v), want, `${p} ~ ${v}`);
  });

  it('what each scope allows', () => {
    const shop = scopes({ sync: [{ env: ['test', 'prod*'], app: ['shop'] }] });
    const table: Array<[Scopes, Parameters<typeof scopesAllow>[1], Parameters<typeof scopesAllow>[2], boolean]> = [
      [scopes({ read: true }), 'read', undefined, true],
      [scopes({ read: true }), 'sync', [{ env: 'test', app: 'shop' }], false],
      [shop, 'read', undefined, true], // sync implies read
      [shop, 'sync', [{ env: 'prod-eu', app: 'shop' }, { env: 'test', app: 'shop' }], true],
      [shop, 'sync', [{ env: 'prod', app: 'shop' }, { env: 'prod', app: 'pay' }], false], // every unit must be covered
      [shop, 'sync', '*', false],
      [scopes({ sync: [{ env: ['*'], app: ['*'] }] }), 'sync', '*', true],
      [shop, 'admin', undefined, false],
      [shop, 'override', undefined, false],
      [scopes({ admin: true }), 'override', undefined, true],
      [scopes({ admin: true }), 'sync', '*', true],
    ];
    for (const [s, need, target, want] of table) assert.equal(scopesAllow(s, need, target), want, JSON.stringify([s, need, target]));
    assert.equal(can({ kind: 'open' }, 'override'), true);
    assert.equal(can({ kind: 'webhook', name: 'gitlab:x' }, 'read'), false);
    assert.equal(can({ kind: 'anonymous', reason: 'r' }, 'read'), false);
  });

  it('says in a 403 which right is needed and which the token has; 401 for the anonymous', () => {
    assert.deepEqual(check(token({ sync: [{ env: ['prod'], app: ['shop'] }] }, 'shop-team'), 'sync', [{ env: 'prod', app: 'payments' }]),
      { ok: false, status: 403, message: "needs sync on prod/payments; token 'shop-team' has sync on prod/shop" });
    assert.deepEqual(check(token({ read: true, sync: [{ env: ['test', 'prod*'], app: ['shop'] }] }, 'x'), 'admin'),
      { ok: false, status: 403, message: "needs admin; token 'x' has read, sync on {test,prod*}/shop" });
    assert.deepEqual(check(token({ read: true }), 'override'), { ok: false, status: 403, message: "needs admin (to override a sync window); token 't' has read" });
    assert.deepEqual(check({ kind: 'anonymous', reason: 'no token' }, 'read'), { ok: false, status: 401, message: 'no token' });
    assert.deepEqual(check(token({ admin: true }), 'sync', '*'), { ok: true });
  });

  it('takes scopes as the API sends them, one sync grant or several', () => {
    assert.deepEqual(normaliseScopes(scopesInput.parse({ sync: { env: ['prod'], app: ['shop'] } })), scopes({ sync: [{ env: ['prod'], app: ['shop'] }] }));
    assert.deepEqual(normaliseScopes(scopesInput.parse({ read: true, admin: false })), scopes({ read: true }));
    for (const bad of [{}, { read: false }, { sync: { env: [], app: ['a'] } }, { sync: { env: ['a/b'], app: ['a'] } }, { root: true }]) {
      assert.equal(scopesInput.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });
});

describe('listen policy', () => {
  it('loopback is 127.0.0.0/8, ::1 and localhost only', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '127.example.com', 'localhost.example.com', '::ffff:10.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
  });
  it('no token on a public address: no start, unless api.open (then a warning)', () => {
    assert.deepEqual(listenPolicy('127.0.0.1', false, false), { start: true, open: true });
    assert.deepEqual(listenPolicy('0.0.0.0', true, false), { start: true, open: false });
    assert.equal(listenPolicy('0.0.0.0', false, false).start, false);
    const open = listenPolicy('0.0.0.0', false, true);
    assert.ok(open.start && open.open && /api\.open: true/.test(open.warning!));
  });
});

describe('audit parameter redaction', () => {
  it('redacts keys matching token|secret|password|key at any depth, and keeps rows small', () => {
    const out = redactParams({ name: 'x', token: 't', nested: { clientSecret: 's', PassWord: 'p', apiKey: 'k', keys: [1], ok: 1 }, list: [{ privateKey: 'pk' }] });
    assert.deepEqual(out, { name: 'x', token: '[redacted]', nested: { clientSecret: '[redacted]', PassWord: '[redacted]', apiKey: '[redacted]', keys: '[redacted]', ok: 1 }, list: [{ privateKey: '[redacted]' }] });
    const big = redactParams({ ips: Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`), note: 'y'.repeat(5000) }) as { ips: string[]; note: string };
    assert.equal(big.ips.length, 21);
    assert.equal(big.ips.at(-1), '… 980 more');
    assert.equal(big.note, `${'y'.repeat(200)}… (5000 chars)`);
  });
});

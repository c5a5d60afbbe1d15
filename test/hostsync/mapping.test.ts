// Mapping records to inventory hosts: env/apps fields, value maps, defaults, labels, include/exclude, errors, hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashHost, mapRecord, resolveMapping } from '../../server/src/hostsync/mapping.js';

const rec = (fields: Record<string, string>, extra: Record<string, unknown> = {}) => ({ uid: 'u1', ip: '192.0.2.1', hostname: 'web-1', fields, ...extra });

test('defaults of the source type, overlaid key by key by the configured map', () => {
  const m = resolveMapping({ env: { field: 'tag.env' }, apps: { field: 'tag.app' }, labels: ['region', 'tag.*'] }, { env: { values: { production: 'prod' } } });
  const r = mapRecord(rec({ 'tag.env': 'production', 'tag.app': 'shop,pay', region: 'cn-hangzhou', 'tag.owner': 'ops', 'tag.acs:system': 'x' }), m);
  assert.equal(r.kind, 'host');
  if (r.kind !== 'host') return;
  assert.deepEqual(r.host, { ip: '192.0.2.1', hostname: 'web-1', env: 'prod', apps: ['pay', 'shop'], port: null, user: null, labels: { region: 'cn-hangzhou', env: 'production', app: 'shop,pay', owner: 'ops' } });
  assert.equal(r.hash, hashHost(r.host));
});

test('table: env and apps resolution', () => {
  const cases: Array<[string, Parameters<typeof resolveMapping>[1], Record<string, string>, string | { env: string; apps: string[] }]> = [
    ['first non-empty env field wins', { env: { field: ['a', 'b'] } }, { a: '', b: 'test' }, { env: 'test', apps: [] }],
    ['default env', { env: { default: 'prod' } }, {}, { env: 'prod', apps: [] }],
    ['onlyMapped ignores unlisted values', { env: { values: { p: 'prod' }, onlyMapped: true, default: 'dev' } }, { env: 'x' }, { env: 'dev', apps: [] }],
    ['no env → error', {}, {}, 'error'],
    ['no env + skipWithoutEnv → skip', { skipWithoutEnv: true }, {}, 'skip'],
    ['apps split on custom separator, mapped, mapped-to-empty dropped', { apps: { split: '|', values: { old: '', 'shop-mod': 'shop' } } }, { env: 'prod', apps: 'shop-mod| old |pay' }, { env: 'prod', apps: ['pay', 'shop'] }],
    ['apps default when none', { apps: { default: ['base'] } }, { env: 'prod' }, { env: 'prod', apps: ['base'] }],
    ['invalid env → error', {}, { env: '空闲机池' }, 'error'],
    ['exclude', { exclude: { set: ['Idle Pool'] } }, { env: 'prod', set: 'Idle Pool' }, 'skip'],
    ['include', { include: { status: ['Running'] } }, { env: 'prod', status: 'Stopped' }, 'skip'],
  ];
  for (const [name, cfg, fields, want] of cases) {
    const r = mapRecord(rec(fields), resolveMapping({}, cfg));
    if (typeof want === 'string') assert.equal(r.kind, want, name);
    else {
      assert.equal(r.kind, 'host', `${name}: ${JSON.stringify(r)}`);
      if (r.kind === 'host') assert.deepEqual({ env: r.host.env, apps: r.host.apps }, want, name);
    }
  }
});

test('labels: plain, prefix.*, renamed; invalid keys dropped; long values cut', () => {
  const r = mapRecord(rec({ env: 'prod', zone: 'z1', 'labels.tier': 'web', cpu: '8', long: 'x'.repeat(300) }), resolveMapping({}, { labels: ['zone', 'labels.*', 'cores=cpu', 'missing', 'long'] }));
  assert.equal(r.kind, 'host');
  if (r.kind === 'host') assert.deepEqual(r.host.labels, { zone: 'z1', tier: 'web', cores: '8', long: 'x'.repeat(256) });
});

test('no IP, bad port → per-record error; an invalid hostname is dropped, not an error', () => {
  assert.deepEqual(mapRecord(rec({ env: 'prod' }, { ip: undefined }), resolveMapping({})), { kind: 'error', uid: 'u1', error: 'no IP address' });
  assert.equal(mapRecord(rec({ env: 'prod' }, { port: Number('x') }), resolveMapping({})).kind, 'error');
  const r = mapRecord(rec({ env: 'prod' }, { hostname: 'bad_name!' }), resolveMapping({}));
  assert.equal(r.kind === 'host' && r.host.hostname, null);
});

test('hash: stable under label and app order, changes with any field that matters', () => {
  const base = { ip: '192.0.2.1', hostname: 'a', env: 'prod', apps: ['x', 'y'], port: null, user: null, labels: { a: '1', b: '2' } };
  assert.equal(hashHost(base), hashHost({ ...base, apps: ['y', 'x'], labels: { b: '2', a: '1' } }));
  for (const change of [{ ip: '192.0.2.2' }, { hostname: 'b' }, { env: 'test' }, { apps: ['x'] }, { port: 22 }, { user: 'deploy' }, { labels: { a: '1' } }]) {
    assert.notEqual(hashHost(base), hashHost({ ...base, ...change }), JSON.stringify(change));
  }
});

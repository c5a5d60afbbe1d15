import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changedUnits, parseNameStatus, pathToUnit, selectUnits, unitKey } from '../../server/src/gitops/targets.js';

describe('pathToUnit', () => {
  const cases: Array<[string, string | undefined, string | undefined]> = [
    ['nginx/prod/shop/etc/nginx/conf.d/shop.conf', 'nginx/prod/shop', 'etc/nginx/conf.d/shop.conf'],
    ['tomcat/bx/billing/opt/b/app.properties', 'tomcat/bx/billing', 'opt/b/app.properties'],
    ['README.md', undefined, undefined],
    ['nginx/prod/x', undefined, undefined],
    ['nginx/prod/shop', undefined, undefined],
    ['nginx/../shop/etc/x', undefined, undefined],
    ['nginx/prod/shop/../../etc/passwd', undefined, undefined],
    ['-rf/prod/shop/etc/x', undefined, undefined],
    ['nginx/prod/shop/etc/-x', undefined, undefined],
    ['/nginx/prod/shop/etc/x', undefined, undefined],
    ['.git/prod/shop/etc/x', undefined, undefined],
    ['nginx/prod/shop/etc//x', undefined, undefined],
    ['nginx/pr od/shop/etc/x', undefined, undefined],
  ];
  for (const [path, unit, hostPath] of cases) {
    it(`${JSON.stringify(path)} → ${unit ?? 'not deployable'}`, () => {
      const t = pathToUnit(path);
      assert.equal(t && unitKey(t.unit), unit);
      assert.equal(t?.hostPath, hostPath);
    });
  }
});

describe('git diff parsing and changed units', () => {
  const out = ['M', 'nginx/prod/shop/etc/a.conf', 'A', 'README.md', 'D', 'tomcat/test/shop/opt/x', 'R087', 'nginx/bx/shop/etc/b', 'nginx/prod/blog/etc/b', 'T', 'env/prod/app/etc/link', ''].join('\0');
  it('parses added, modified, removed, renamed and type changes', () => {
    assert.deepEqual(parseNameStatus(out), [
      { kind: 'modified', path: 'nginx/prod/shop/etc/a.conf' },
      { kind: 'added', path: 'README.md' },
      { kind: 'removed', path: 'tomcat/test/shop/opt/x' },
      { kind: 'renamed', path: 'nginx/prod/blog/etc/b', from: 'nginx/bx/shop/etc/b' },
      { kind: 'type-changed', path: 'env/prod/app/etc/link' },
    ]);
  });
  it('maps both sides of a rename to units and ignores non-unit paths', () => {
    assert.deepEqual(changedUnits(parseNameStatus(out)).map(unitKey), ['env/prod/app', 'nginx/bx/shop', 'nginx/prod/blog', 'nginx/prod/shop', 'tomcat/test/shop']);
  });
  it('selects every mod of env/app when mod is absent', () => {
    const all = changedUnits(parseNameStatus(out));
    assert.deepEqual(selectUnits(all, { env: 'prod', app: 'shop' }).map(unitKey), ['nginx/prod/shop']);
    assert.deepEqual(selectUnits(all, { env: 'prod', app: 'app', mod: 'env' }).map(unitKey), ['env/prod/app']);
    assert.deepEqual(selectUnits(all, { env: 'prod', app: 'app', mod: 'nginx' }), []);
  });
});

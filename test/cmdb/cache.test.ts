// The answer cache: reuse within the TTL, never cache failures, share concurrent lookups, invalidate on demand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withCache } from '../../server/src/cmdb/cache.js';
import { UpstreamUnavailableError } from '../../server/src/errors.js';
import type { CmdbProvider } from '../../server/src/cmdb/provider.js';

test('cache: hit within ttl, miss after, failures not cached, invalidate clears', async () => {
  let calls = 0;
  let fail = false;
  const inner: CmdbProvider = {
    id: 'x',
    async resolveHosts({ env, app }) {
      calls++;
      if (fail) throw new UpstreamUnavailableError('down');
      return [{ ip: `10.0.0.${calls}`, hostname: `${env}-${app}` }];
    },
  };
  let now = 1000;
  const p = withCache(inner, 10, () => now);
  const [a, b] = await Promise.all([p.resolveHosts({ env: 'prod', app: 'shop' }), p.resolveHosts({ env: 'prod', app: 'shop' })]);
  assert.equal(calls, 1);
  assert.deepEqual(a, b);
  a[0]!.ip = 'mutated';
  assert.equal((await p.resolveHosts({ env: 'prod', app: 'shop' }))[0]!.ip, '10.0.0.1', 'callers get copies');
  await p.resolveHosts({ env: 'prod', app: 'other' });
  assert.equal(calls, 2);
  now += 10_001;
  fail = true;
  await assert.rejects(p.resolveHosts({ env: 'prod', app: 'shop' }), UpstreamUnavailableError);
  fail = false;
  assert.equal((await p.resolveHosts({ env: 'prod', app: 'shop' }))[0]!.ip, '10.0.0.4', 'a failure is not cached');
  p.invalidate!();
  await p.resolveHosts({ env: 'prod', app: 'shop' });
  assert.equal(calls, 5);
});

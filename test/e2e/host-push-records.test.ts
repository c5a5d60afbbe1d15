// What a host push records and counts: its duration includes its hooks, and a host retried at the end of a
// rollout (skipUnreachable) is counted once in the metrics, with its final result.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let fleet: Fleet;
let s: TestServer;

before(async () => {
  tmp = await tempDir('gf-records-');
  fleet = await startFleet(join(tmp.path, 'fleet'), 2);
  const fx = await createGitFixture(join(tmp.path, 'git'));
  await fx.commit({
    'app/prod/web/etc/web/a.conf': 'a\n',
    'app/prod/web/.gitfleet.yaml': 'hooks:\n  validate: "sleep 1.2"\nrollout:\n  skipUnreachable: true\n',
  });
  s = await startTestServer(join(tmp.path, 'data'), {
    repo: { url: fx.origin },
    deploy: { retries: 0, hostTimeout: 20, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 3 } },
    hostSync: { converge: { enabled: false } },
  });
  for (const ip of fleet.ips) assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['web'] } })).status, 201);
});
after(async () => {
  await s?.stop();
  await fleet?.down();
  await tmp?.cleanup();
});

const metric = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);

it('counts a host retried at the end once, and records durations with the hooks in them', async () => {
  const [A, B] = fleet.ips as [string, string];
  await fleet.stopHost(B);
  try {
    const r = await s.api('/sync?env=prod&app=web');
    assert.equal(r.body.status, 'partial', JSON.stringify(r.body.hosts));
    const a = r.body.hosts.find((h: { ip: string }) => h.ip === A);
    assert.ok(a.durationMs >= 1200, `A's push took ${a.durationMs} ms with a 1.2 s validate`);
    const m = await (await fetch(`${s.url}/metrics`)).text();
    assert.equal(metric(m, /gitfleet_host_pushes_total\{status="failed"\} (\d+)/), 1, 'B tried twice (deferred, then at the end), counted once');
    assert.equal(metric(m, /gitfleet_host_pushes_total\{status="succeeded"\} (\d+)/), 1);
    assert.equal(metric(m, /gitfleet_host_push_duration_seconds_count\{status="succeeded"\} (\d+)/), 1);
    assert.ok(metric(m, /gitfleet_host_push_duration_seconds_sum\{status="succeeded"\} ([\d.]+)/) >= 1.2);
  } finally {
    await fleet.startHost(B);
  }
});

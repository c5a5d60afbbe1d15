// A full data disk: the data dir on a small tmpfs, filled while a deployment runs. Writes fail with a clear 507,
// reads keep working, health says degraded, and once space returns no record is left running (without a restart).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { DeploymentView } from '../../server/src/deploy/types.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const run = promisify(execFile);
const FINAL = ['succeeded', 'partial', 'failed', 'interrupted'];

describe('a full data disk (tmpfs data dir filled during a deployment)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer | undefined;
  let dataDir: string;
  let mounted = false;
  const filler = () => join(dataDir, 'filler');

  before(async () => {
    tmp = await tempDir('gf-full-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 1);
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({
      'nginx/prod/shop/etc/shop.conf': 'v1\n',
      'nginx/prod/shop/.gitfleet.yaml': 'hooks:\n  validate: "sleep 2"\n  reload: "date > /tmp/reloaded"\n',
    });
    dataDir = join(tmp.path, 'data');
    await mkdir(dataDir);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'tmpfs', dataDir]);
    mounted = true;
    s = await startTestServer(dataDir, {
      repo: { url: fx.origin },
      deploy: { retries: 0, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile } },
    });
    assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip: fleet.ips[0], env: 'prod', apps: ['shop'] } })).status, 201);
  });

  after(async () => {
    await s?.stop().catch(() => undefined);
    if (mounted) await run('umount', ['-l', dataDir]).catch(() => undefined);
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('writes fail with 507 and a reason, reads work, health is degraded; after space returns nothing is left running', async () => {
    const ip = fleet.ips[0]!;
    const finished = new Promise<DeploymentView>((res) => s!.ctx.deployer.events.once('finished', res));
    const r = await s!.api('/sync?env=prod&app=shop&wait=false');
    assert.equal(r.status, 202);
    const id = r.body.id as number;
    // The file is on the host and its validate runs: now the disk fills.
    await until('the file on the host', async () => ((await readFile(fleet.path(ip, '/etc/shop.conf'), 'utf8')) === 'v1\n' ? true : undefined));
    await run('dd', ['if=/dev/zero', `of=${filler()}`, 'bs=64k']).catch(() => undefined);
    await finished;
    // Its end could not be written: the record says running, though nothing works on it any more.
    const stuck = await s!.api(`/api/v1/deployments/${id}`);
    assert.equal(stuck.status, 200);
    assert.equal(stuck.body.status, 'running', JSON.stringify(stuck.body));

    // Degraded, read-only, with a reason.
    const add = await s!.api('/api/v1/hosts', { method: 'POST', body: { ip: '192.0.2.7', env: 'prod', apps: ['x'] } });
    assert.equal(add.status, 507, JSON.stringify(add.body));
    assert.equal(add.body.error.code, 'insufficient_storage');
    assert.match(add.body.error.message, /disk|space/i);
    const units = await s!.api('/api/v1/units');
    assert.equal(units.status, 200, JSON.stringify(units.body));
    assert.ok(units.body.items.some((u: { unit: string }) => u.unit === 'nginx/prod/shop'), JSON.stringify(units.body));
    const files = await s!.api('/api/v1/units/nginx/prod/shop/files');
    assert.equal(files.status, 200, JSON.stringify(files.body));
    const health = await s!.api('/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'degraded', JSON.stringify(health.body));
    assert.match(JSON.stringify(health.body), /data dir/i);
    const ready = await s!.api('/readyz');
    assert.equal(ready.status, 503, JSON.stringify(ready.body));

    // Space returns: the reaper finalises the deployment and its host row, without a restart.
    await rm(filler());
    const d = await until('the deployment in a final state', async () => {
      const x = await s!.api(`/api/v1/deployments/${id}`);
      return FINAL.includes(x.body.status) ? x.body : undefined;
    });
    assert.equal(d.status, 'interrupted');
    assert.match(d.error, /could not record/);
    assert.ok(d.hosts.every((h: { status: string }) => !['pending', 'running'].includes(h.status)), JSON.stringify(d.hosts));
    // Queued again, like a deployment a crash cut off: it runs to the end now that there is space.
    const resumed = await until('the resumed deployment', async () => {
      const list = await s!.api('/api/v1/deployments?limit=10');
      const x = list.body.items.find((i: { request: { resumeOf?: number } }) => i.request.resumeOf === id);
      return x && FINAL.includes(x.status) ? x : undefined;
    });
    assert.equal(resumed.status, 'succeeded', JSON.stringify(resumed));
    assert.equal((await s!.api('/healthz')).body.status, 'ok');
    assert.equal((await s!.api('/readyz')).status, 200);
    // Writes work again, and a new deployment runs to the end.
    assert.equal((await s!.api('/api/v1/hosts', { method: 'POST', body: { ip: '192.0.2.7', env: 'prod', apps: ['x'] } })).status, 201);
    const again = await s!.api('/sync?env=prod&app=shop');
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.status, 'succeeded', JSON.stringify(again.body));
  });
});

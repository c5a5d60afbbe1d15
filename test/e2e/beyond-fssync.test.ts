// Issue 4 on the fleet: metadata (modes, owners, excludes, hooks), dry run, drift and self-heal, backups,
// deletion circuit breaker, canary rollouts and rollback — each through the HTTP API.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

describe('beyond fssync', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let ips: string[];

  const sync = async (q: string) => {
    const r = await s.api(`/sync?${q}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const host = (d: { hosts: Array<{ ip: string }> }, ip: string) => d.hosts.find((h) => h.ip === ip) as any;
  const read = (ip: string, p: string) => readFile(fleet.path(ip, p), 'utf8');

  before(async () => {
    tmp = await tempDir('gf-beyond-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 3);
    ips = fleet.ips;
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({ 'README.md': 'repo\n' });
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin },
      deploy: { retries: 0, backups: { keep: 2 }, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 3 } },
    });
    for (const ip of ips) assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['web', 'api', 'db'] } })).status, 201);
  });

  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('applies per-path modes and owners, leaves the metadata file and excluded files off the hosts', async () => {
    await fx.commit({
      'app/prod/web/.gitfleet.yaml': 'owner: www-data\ngroup: www-data\nfiles:\n  - path: "etc/web/*.key"\n    mode: "0600"\n    owner: root\n    group: root\nexclude:\n  - "**/*.md"\n',
      'app/prod/web/etc/web/web.conf': 'listen 80\n',
      'app/prod/web/etc/web/tls.key': 'secret\n',
      'app/prod/web/etc/web/NOTES.md': 'not for hosts\n',
    });
    const d = await sync('env=prod&app=web');
    assert.equal(d.status, 'succeeded', JSON.stringify(d));
    for (const ip of ips) {
      const conf = await stat(fleet.path(ip, '/etc/web/web.conf'));
      const key = await stat(fleet.path(ip, '/etc/web/tls.key'));
      assert.equal(conf.uid, 33);
      assert.equal(conf.mode & 0o777, 0o644);
      assert.equal(key.uid, 0, 'per-path owner rule');
      assert.equal(key.mode & 0o777, 0o600, 'per-path mode rule');
      assert.equal(existsSync(fleet.path(ip, '/etc/web/NOTES.md')), false, 'excluded');
      assert.equal(existsSync(fleet.path(ip, '/.gitfleet.yaml')), false, 'metadata is never pushed');
    }
    // The next full sync neither undoes the rule's owner nor reports it as a change (the rule has its own rsync pass).
    await s.ctx.ssh.closeIdle(); // cold: plain rsync, no probe
    const again = await sync('env=prod&app=web');
    assert.deepEqual(again.hosts.map((h: { changes: string[] }) => h.changes), ips.map(() => []));
    await chmod(fleet.path(ips[0]!, '/etc/web/tls.key'), 0o644);
    const warm = await sync('env=prod&app=web'); // warm: the probe, then rsync on what differs
    assert.deepEqual(warm.hosts.map((h: { changes: string[] }) => h.changes), [['~etc/web/tls.key'], [], []]);
    for (const ip of ips) {
      const key = await stat(fleet.path(ip, '/etc/web/tls.key'));
      assert.deepEqual([key.uid, key.mode & 0o777], [0, 0o600], 'rule owner and mode kept');
      assert.equal((await stat(fleet.path(ip, '/etc/web/web.conf'))).uid, 33);
    }
  });

  it('dry run reports exactly what would change per host and changes nothing', async () => {
    await fx.commit({ 'app/prod/api/etc/api/a.conf': 'a1\n', 'app/prod/api/etc/api/b.conf': 'b1\n' });
    assert.equal((await sync('env=prod&app=api')).status, 'succeeded');
    await writeFile(fleet.path(ips[2]!, '/etc/api/a.conf'), 'a1\n'); // unchanged content on purpose
    const head = await fx.commit({ 'app/prod/api/etc/api/a.conf': 'a2\n', 'app/prod/api/etc/api/b.conf': null, 'app/prod/api/etc/api/c.conf': 'c\n' });
    const before = await s.api('/api/v1/units/app/prod/api/hosts');
    const d = await sync('env=prod&app=api&dryRun=true');
    assert.equal(d.status, 'succeeded');
    assert.equal(d.request.dryRun, true);
    for (const ip of ips) assert.deepEqual(host(d, ip).changes.sort(), ['+etc/api/a.conf', '+etc/api/c.conf', '-etc/api/b.conf']);
    for (const ip of ips) {
      assert.equal(await read(ip, '/etc/api/a.conf'), 'a1\n');
      assert.equal(await read(ip, '/etc/api/b.conf'), 'b1\n');
      assert.equal(existsSync(fleet.path(ip, '/etc/api/c.conf')), false);
    }
    const afterDry = await s.api('/api/v1/units/app/prod/api/hosts');
    assert.deepEqual(afterDry.body, before.body, 'no commit recorded for a dry run');
    assert.notEqual(afterDry.body.lastCommit, head);
    const viaApi = await s.api('/api/v1/deployments', { method: 'POST', body: { units: ['app/prod/api'], dryRun: true, wait: true } });
    assert.equal(viaApi.status, 200);
    assert.equal(viaApi.body.hosts.length, 3);
    assert.equal((await sync('env=prod&app=api')).status, 'succeeded');
    assert.equal(existsSync(fleet.path(ips[0]!, '/etc/api/b.conf')), false);
  });

  it('finds drift after a manual edit on one host, lists it, and self-heals when the unit asks for it', async () => {
    await writeFile(fleet.path(ips[1]!, '/etc/api/a.conf'), 'edited by hand\n');
    const check = await s.api('/api/v1/drift/check', { method: 'POST', body: { unit: 'app/prod/api' } });
    assert.equal(check.status, 200, JSON.stringify(check.body));
    const rows = check.body.results[0].rows;
    assert.deepEqual(rows.map((r: { ip: string; state: string }) => [r.ip, r.state]), [[ips[0], 'in_sync'], [ips[1], 'drifted'], [ips[2], 'in_sync']]);
    assert.deepEqual(rows[1].files, ['+etc/api/a.conf']);
    assert.equal(await read(ips[1]!, '/etc/api/a.conf'), 'edited by hand\n', 'a check changes nothing');
    const units = await s.api('/api/v1/units');
    const api = units.body.items.find((u: { unit: string }) => u.unit === 'app/prod/api');
    assert.deepEqual({ ...api.drift, checkedAt: undefined }, { in_sync: 2, drifted: 1, unreachable: 0, error: 0, checkedAt: undefined });
    assert.match(await (await fetch(`${s.url}/metrics`)).text(), /gitfleet_unit_hosts\{unit="app\/prod\/api",state="drifted"\} 1/);

    await fx.commit({ 'app/prod/api/.gitfleet.yaml': 'selfHeal: true\n' });
    assert.equal((await sync('env=prod&app=api')).status, 'succeeded'); // (also restores the edited file)
    await writeFile(fleet.path(ips[2]!, '/etc/api/c.conf'), 'edited again\n');
    const healed = await s.api('/api/v1/drift/check', { method: 'POST', body: { unit: 'app/prod/api' } });
    assert.equal(healed.body.results[0].healed, 1);
    const list = await s.api('/api/v1/deployments?limit=1');
    const heal = list.body.items[0];
    assert.equal(heal.trigger, 'self-heal');
    await s.ctx.deployer.wait(heal.id);
    assert.equal(await read(ips[2]!, '/etc/api/c.conf'), 'c\n');
    const d = (await s.api(`/api/v1/deployments/${heal.id}`)).body;
    assert.deepEqual(d.hosts.map((h: { ip: string }) => h.ip), [ips[2]], 'only the drifted host is pushed');
  });

  it('a failing validate hook puts back the previous file on that host only; reload runs only after validate passed; backups are kept', async () => {
    await fx.commit({
      'app/prod/db/.gitfleet.yaml': 'hooks:\n  validate: "test ! -e /etc/validate-fails && grep -q version /etc/db/db.conf"\n  reload: "date > /tmp/reloaded"\n',
      'app/prod/db/etc/db/db.conf': 'version 1\n',
    });
    assert.equal((await sync('env=prod&app=db')).status, 'succeeded');
    for (const ip of ips) await rm(fleet.path(ip, '/tmp/reloaded'), { force: true });
    await writeFile(fleet.path(ips[1]!, '/etc/validate-fails'), 'x');
    await fx.commit({ 'app/prod/db/etc/db/db.conf': 'version 2\n', 'app/prod/db/etc/db/extra.conf': 'new file\n' });
    const d = await sync('env=prod&app=db');
    assert.equal(d.status, 'partial');
    const bad = host(d, ips[1]!);
    assert.equal(bad.status, 'failed');
    assert.match(bad.reason, /validate hook failed.*previous files restored/);
    assert.equal(await read(ips[1]!, '/etc/db/db.conf'), 'version 1\n');
    assert.equal(existsSync(fleet.path(ips[1]!, '/etc/db/extra.conf')), false, 'a file the push created is removed again');
    assert.equal(existsSync(fleet.path(ips[1]!, '/tmp/reloaded')), false, 'no reload after a failed validate');
    for (const ip of [ips[0]!, ips[2]!]) {
      assert.equal(host(d, ip).status, 'succeeded');
      assert.equal(await read(ip, '/etc/db/db.conf'), 'version 2\n');
      assert.ok(existsSync(fleet.path(ip, '/tmp/reloaded')), 'reloaded');
      assert.equal(await read(ip, `/var/lib/gitfleet/backups/app~prod~db/${d.id}/etc/db/db.conf`), 'version 1\n', 'overwritten file kept in the backup');
    }
    await rm(fleet.path(ips[1]!, '/etc/validate-fails'));
  });

  it('keeps a bounded number of backups per unit on each host', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      await fx.commit({ 'app/prod/db/etc/db/db.conf': `version 2.${i}\n` });
      const d = await sync('env=prod&app=db');
      assert.equal(host(d, ips[0]!).status, 'succeeded');
      ids.push(d.id);
    }
    const { readdir } = await import('node:fs/promises');
    const kept = (await readdir(fleet.path(ips[0]!, '/var/lib/gitfleet/backups/app~prod~db'))).map(Number).sort((a, b) => a - b);
    assert.ok(kept.length >= 2 && kept.length <= 3, `kept ${kept.join(',')}`);
    assert.equal(kept.at(-1), ids.at(-1), 'the newest backup is kept');
    assert.equal(await read(ips[0]!, `/var/lib/gitfleet/backups/app~prod~db/${ids.at(-1)}/etc/db/db.conf`), 'version 2.3\n');
    await fx.commit({ 'app/prod/db/etc/db/db.conf': 'version 2\n' });
    assert.equal((await sync('env=prod&app=db')).status, 'succeeded');
  });

  it('holds a push that would remove too many files until it is confirmed', async () => {
    const files: Record<string, string | null> = {};
    for (let i = 0; i < 4; i++) files[`app/prod/web/etc/web/extra${i}.conf`] = `x${i}\n`;
    await fx.commit(files);
    assert.equal((await sync('env=prod&app=web')).status, 'succeeded');
    const removal: Record<string, null> = {};
    for (let i = 0; i < 4; i++) removal[`app/prod/web/etc/web/extra${i}.conf`] = null;
    await fx.commit({ ...removal, 'app/prod/web/etc/web/tls.key': null });
    const d = await sync('env=prod&app=web');
    assert.equal(d.status, 'failed');
    assert.equal(d.unitResults[0].status, 'held');
    assert.match(d.unitResults[0].reason, /5 of 6 files .* would be removed/);
    assert.ok(existsSync(fleet.path(ips[0]!, '/etc/web/extra0.conf')), 'nothing deleted while held');
    const c = await s.api(`/api/v1/deployments/${d.id}/confirm`, { method: 'POST', body: {} });
    assert.equal(c.status, 202);
    const confirmed = await s.ctx.deployer.wait(c.body.queued[0]);
    assert.equal(confirmed.status, 'succeeded');
    for (const ip of ips) {
      assert.equal(existsSync(fleet.path(ip, '/etc/web/extra0.conf')), false);
      assert.equal(existsSync(fleet.path(ip, '/etc/web/web.conf')), true);
    }
  });

  it('a canary failure stops the rollout and the rest is recorded as not attempted', async () => {
    await fx.commit({ 'app/prod/web/.gitfleet.yaml': 'owner: www-data\ngroup: www-data\nrollout:\n  canary: 1\n  batchSize: 1\n  maxFailures: 0\n', 'app/prod/web/etc/web/web.conf': 'listen 8080\n' });
    await fleet.stopHost(ips[0]!); // the canary (first host by address)
    try {
      const d = await sync('env=prod&app=web');
      assert.equal(d.status, 'failed');
      assert.equal(host(d, ips[0]!).status, 'failed');
      for (const ip of [ips[1]!, ips[2]!]) {
        assert.equal(host(d, ip).status, 'skipped');
        assert.match(host(d, ip).reason, /not attempted: rollout stopped after 1 failed/);
        assert.equal(await read(ip, '/etc/web/web.conf'), 'listen 80\n');
      }
    } finally {
      await fleet.startHost(ips[0]!);
    }
  });

  it('rolls a unit back to an earlier commit, recorded as a deployment', async () => {
    const v1 = await fx.head();
    await fx.commit({ 'app/prod/db/etc/db/db.conf': 'version 3\n' });
    assert.equal((await sync('env=prod&app=db')).status, 'succeeded');
    assert.equal(await read(ips[0]!, '/etc/db/db.conf'), 'version 3\n');
    const bad = await s.api('/api/v1/rollback', { method: 'POST', body: { commit: 'f'.repeat(40), units: ['app/prod/db'] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'commit');
    const r = await s.api('/api/v1/rollback', { method: 'POST', body: { commit: v1.slice(0, 10), units: ['app/prod/db'], wait: true } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.trigger, 'rollback');
    assert.equal(r.body.after, v1);
    assert.equal(r.body.status, 'succeeded');
    for (const ip of ips) assert.equal(await read(ip, '/etc/db/db.conf'), 'version 2\n');
    assert.equal((await s.api('/api/v1/units/app/prod/db/hosts')).body.lastCommit, v1);
  });
});

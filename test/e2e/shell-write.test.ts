// Small pushes to warm hosts: the probe finds the few paths that differ and the host's open shell writes them
// (no rsync), with the same results rsync gives: content, modes, owners, new directories, removals, backups in
// the --backup-dir layout, itemized changes, hooks and restore; anything it cannot judge, and any push of more
// files than it writes, goes to rsync.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { chmod, chown, lstat, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, syncObserved, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const UNIT = 'app/prod/web';
const META = 'owner: www-data\nfiles:\n  - path: "etc/web/*.key"\n    mode: "0600"\n    owner: root\n  - path: "etc/web/bin/*"\n    mode: "0755"\n';
const BACKUPS = '/var/lib/gitfleet/backups/app~prod~web';

describe('writing small differences through the warm host shell', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let A: string;
  let B: string;
  let wwwData: number;

  const push = async (files: Record<string, string | null>) => {
    await fx.commit(files);
    return syncObserved(s, 'env=prod&app=web');
  };
  const onHost = (ip: string, p: string) => fleet.path(ip, p);
  const temporaries = async (ip: string, dir: string) => (await readdir(onHost(ip, dir))).filter((f) => f.startsWith('.'));

  before(async () => {
    tmp = await tempDir('gf-shellwrite-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 2);
    [A, B] = fleet.ips as [string, string];
    wwwData = Number((await run('id', ['-u', 'www-data'])).stdout.trim());
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({
      [`${UNIT}/.gitfleet.yaml`]: META,
      [`${UNIT}/etc/web/a.conf`]: 'alpha 1\n',
      [`${UNIT}/etc/web/b.conf`]: 'bravo 1\n',
      [`${UNIT}/etc/web/tls.key`]: 'key 1\n',
      [`${UNIT}/etc/web/old.conf`]: 'to be removed\n',
    });
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin },
      deploy: { retries: 0, hostTimeout: 10, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile } },
      hostSync: { converge: { enabled: false } },
    });
    for (const ip of fleet.ips) assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['web'] } })).status, 201);
    const first = await s.api('/sync?env=prod&app=web');
    assert.equal(first.body.status, 'succeeded', JSON.stringify(first.body));
  });
  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('a one-file change on warm hosts is written through the shell: no rsync, content, mode, owner, backup and record as rsync gives', async () => {
    const r = await push({ [`${UNIT}/etc/web/a.conf`]: 'alpha 2, longer\n' });
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
    for (const ip of [A, B]) {
      assert.deepEqual(r.written(ip), ['done']);
      assert.equal(r.rsyncs(ip), 0, 'no rsync');
      assert.deepEqual(r.changes(ip), ['+etc/web/a.conf']);
      assert.equal(await readFile(onHost(ip, '/etc/web/a.conf'), 'utf8'), 'alpha 2, longer\n');
      const st = await stat(onHost(ip, '/etc/web/a.conf'));
      assert.equal(st.mode & 0o7777, 0o644);
      assert.equal(st.uid, wwwData, 'owned by the unit owner');
      assert.equal(await readFile(onHost(ip, `${BACKUPS}/${r.body.id}/etc/web/a.conf`), 'utf8'), 'alpha 1\n', 'the old file is in the backup');
      assert.deepEqual(await temporaries(ip, '/etc/web'), [], 'no temporary file left');
    }
    assert.match(await (await fetch(`${s.url}/metrics`)).text(), /gitfleet_shell_writes_total\{result="done"\} 2/);
  });

  it('new files in new directories, an executable, a per-path owner and a removal, each as rsync would', async () => {
    const r = await push({
      [`${UNIT}/etc/web/conf.d/deep/n.conf`]: 'new\n',
      [`${UNIT}/etc/web/bin/run`]: '#!/bin/sh\necho run\n',
      [`${UNIT}/etc/web/tls.key`]: 'key 2\n',
      [`${UNIT}/etc/web/old.conf`]: null,
    });
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
    for (const ip of [A, B]) {
      assert.deepEqual(r.written(ip), ['done']);
      assert.equal(r.rsyncs(ip), 0);
      assert.deepEqual(r.changes(ip), ['+etc/web/bin/run', '+etc/web/conf.d/deep/n.conf', '+etc/web/tls.key', '-etc/web/old.conf']);
      const mode = async (p: string) => (await stat(onHost(ip, p))).mode & 0o7777;
      assert.equal(await readFile(onHost(ip, '/etc/web/conf.d/deep/n.conf'), 'utf8'), 'new\n');
      assert.equal(await mode('/etc/web/conf.d/deep'), 0o755, 'a new directory gets default permissions');
      assert.equal(await mode('/etc/web/bin/run'), 0o755);
      assert.equal(await mode('/etc/web/tls.key'), 0o600);
      assert.equal((await stat(onHost(ip, '/etc/web/tls.key'))).uid, 0, 'the per-path owner');
      assert.equal(existsSync(onHost(ip, '/etc/web/old.conf')), false);
      const backup = `${BACKUPS}/${r.body.id}/etc/web`;
      assert.deepEqual((await readdir(onHost(ip, backup))).sort(), ['old.conf', 'tls.key'], 'what was overwritten or removed, nothing else');
      assert.equal(await readFile(onHost(ip, `${backup}/old.conf`), 'utf8'), 'to be removed\n');
      assert.deepEqual(await temporaries(ip, '/etc/web'), []);
    }
  });

  it('a re-sync repairs a mode and an owner changed by hand in place (~path), without a backup', async () => {
    await chmod(onHost(A, '/etc/web/b.conf'), 0o600);
    await chown(onHost(A, '/etc/web/a.conf'), 0, 0);
    const r = await syncObserved(s, 'env=prod&app=web');
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
    assert.deepEqual(r.changes(A), ['~etc/web/a.conf', '~etc/web/b.conf']);
    assert.deepEqual([r.rsyncs(A), r.rsyncs(B)], [0, 0], 'no rsync');
    assert.equal((await stat(onHost(A, '/etc/web/b.conf'))).mode & 0o7777, 0o644);
    assert.equal((await stat(onHost(A, '/etc/web/a.conf'))).uid, wwwData);
    assert.equal(existsSync(onHost(A, `${BACKUPS}/${r.body.id}`)), false, 'nothing was replaced: nothing backed up');
  });

  it('a push changing more files than the shell writes, or the metadata, goes straight to rsync (no probe)', async () => {
    const many = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`${UNIT}/etc/web/many/m${i}.conf`, `m${i}\n`]));
    for (const files of [many, { [`${UNIT}/.gitfleet.yaml`]: `${META}  - path: "etc/web/b.conf"\n    mode: "0640"\n` }]) {
      const r = await push(files);
      assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
      for (const ip of [A, B]) assert.deepEqual([r.probe(ip), r.written(ip), r.rsyncs(ip) > 0], [[], [], true]);
    }
    assert.equal((await stat(onHost(B, '/etc/web/b.conf'))).mode & 0o7777, 0o640);
    assert.equal(await readFile(onHost(B, '/etc/web/many/m8.conf'), 'utf8'), 'm8\n');
  });

  it('a host where a path is something the probe cannot judge (a symlink) gets rsync; the other still the shell', async () => {
    await rm(onHost(A, '/etc/web/a.conf'));
    await symlink('/etc/web/b.conf', onHost(A, '/etc/web/a.conf'));
    const r = await push({ [`${UNIT}/etc/web/a.conf`]: 'alpha 3\n' });
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
    assert.deepEqual([r.written(A), r.rsyncs(A)], [[], 1]);
    assert.deepEqual([r.written(B), r.rsyncs(B)], [['done'], 0]);
    for (const ip of [A, B]) {
      assert.deepEqual(r.changes(ip), ['+etc/web/a.conf']);
      assert.ok((await lstat(onHost(ip, '/etc/web/a.conf'))).isFile());
      assert.equal(await readFile(onHost(ip, '/etc/web/a.conf'), 'utf8'), 'alpha 3\n');
    }
  });

  it('a file where a new directory must go is refused before anything is written, with the path named', async () => {
    // On A, a regular file that git never held sits where the new directory x.d must go.
    await writeFile(onHost(A, '/etc/web/x.d'), 'in the way\n');
    const r = await push({ [`${UNIT}/etc/web/a.conf`]: 'alpha 4\n', [`${UNIT}/etc/web/x.d/x.conf`]: 'x\n' });
    assert.equal(r.body.status, 'partial', JSON.stringify(r.body));
    assert.deepEqual([r.written(A), r.rsyncs(A)], [[], 0], 'neither transport ran');
    const a = r.host(A);
    assert.equal(a.status, 'failed');
    assert.equal(a.reason, '/etc/web/x.d is a file, not a directory (not managed by git): refused; nothing was written on this host');
    assert.deepEqual(r.changes(A), []);
    assert.equal(await readFile(onHost(A, '/etc/web/a.conf'), 'utf8'), 'alpha 3\n', 'nothing written');
    assert.equal(await readFile(onHost(A, '/etc/web/x.d'), 'utf8'), 'in the way\n', 'left alone');
    assert.deepEqual(r.changes(B), ['+etc/web/a.conf', '+etc/web/x.d/x.conf']);
    await rm(onHost(A, '/etc/web/x.d'));
  });

  it('a failing validate hook after a shell write puts the previous files back', async () => {
    await push({ [`${UNIT}/etc/web/x.d/x.conf`]: 'x\n' }); // A catches up
    const hooks = `${META}hooks:\n  validate: "test ! -e /etc/validate-fails"\n`;
    await push({ [`${UNIT}/.gitfleet.yaml`]: hooks });
    await writeFile(onHost(B, '/etc/validate-fails'), 'x');
    const r = await push({ [`${UNIT}/etc/web/a.conf`]: 'alpha 5\n', [`${UNIT}/etc/web/fresh.conf`]: 'fresh\n' });
    assert.equal(r.body.status, 'partial', JSON.stringify(r.body));
    assert.deepEqual([r.written(B), r.rsyncs(B)], [['done'], 0]);
    assert.match(r.host(B).reason, /validate hook failed.*previous files restored/);
    assert.equal(await readFile(onHost(B, '/etc/web/a.conf'), 'utf8'), 'alpha 4\n');
    assert.equal(existsSync(onHost(B, '/etc/web/fresh.conf')), false, 'a file the push created is removed again');
    assert.equal(await readFile(onHost(A, '/etc/web/a.conf'), 'utf8'), 'alpha 5\n');
    await rm(onHost(B, '/etc/validate-fails'));
  });

  it('with deploy.ssh.shellWrites off, a push of a change to warm hosts is rsync straight away (no probe: it would only add to rsync)', async () => {
    await s.stop();
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin },
      deploy: { retries: 0, hostTimeout: 10, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, shellWrites: false } },
      hostSync: { converge: { enabled: false } },
    });
    await syncObserved(s, 'env=prod&app=web'); // B catches up; both warm again
    const r = await push({ [`${UNIT}/etc/web/a.conf`]: 'alpha 6\n' });
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
    for (const ip of [A, B]) {
      // Two rsync passes: the unit's and the one for the tls.key owner rule (unprobed, every pass runs).
      assert.deepEqual([r.probe(ip), r.written(ip), r.rsyncs(ip)], [[], [], 2]);
      assert.deepEqual(r.changes(ip), ['+etc/web/a.conf']);
    }
  });
});

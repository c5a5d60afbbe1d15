// A dry run's per-host content diff: read from the host read-only (nothing written), stored with the host's
// record and shown by the deployments API: text diffs per host, binary files by size, a link on the host not
// followed (its target's content never read), and at most dryRunDiff.maxFiles files per host (the rest counted).
import assert from 'node:assert/strict';
import { lstat, readFile, symlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const U = 'app/prod/web/etc/web';

describe('dry-run content diff', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let A: string; let B: string;

  before(async () => {
    tmp = await tempDir('gf-drydiff-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 2);
    [A, B] = fleet.ips as [string, string];
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({ [`${U}/a.conf`]: 'one\ntwo\nthree\n', [`${U}/b.conf`]: 'bravo\n', [`${U}/logo.bin`]: '\0\x01\x02', [`${U}/link.conf`]: 'x\n', [`${U}/z.conf`]: 'zulu\n' });
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin },
      deploy: { retries: 0, hostTimeout: 20, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile } },
      hostSync: { converge: { enabled: false } },
      dryRunDiff: { maxFiles: 5 },
    });
    for (const ip of fleet.ips) assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['web'] } })).status, 201);
    assert.equal((await s.api('/sync?env=prod&app=web')).body.status, 'succeeded');
  });
  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('shows per host what each changed file would become, reads no link, writes nothing', async () => {
    // Host A: a.conf edited by hand, link.conf replaced by a link to a secret outside the unit.
    await writeFile(fleet.path(A, '/etc/web/a.conf'), 'one\nTWO\nthree\n');
    await writeFile(fleet.path(A, '/etc/secret'), 'root-password\n');
    await rm(fleet.path(A, '/etc/web/link.conf'));
    await symlink('/etc/secret', fleet.path(A, '/etc/web/link.conf'));
    await fx.commit({ [`${U}/b.conf`]: 'bravo\nbis\n', [`${U}/logo.bin`]: '\0\x01\x02\x03', [`${U}/c.conf`]: 'charlie\n', [`${U}/z.conf`]: null });
    const stat = async (ip: string, p: string) => { const st = await lstat(fleet.path(ip, p)); return `${st.ino} ${st.mtimeMs} ${st.size}`; };
    const paths = ['/etc/web', '/etc/web/a.conf', '/etc/web/b.conf', '/etc/web/logo.bin', '/etc/web/z.conf'];
    const before = await Promise.all(fleet.ips.flatMap((ip) => paths.map((p) => stat(ip, p))));

    const r = await s.api('/sync?env=prod&app=web&dryRun=true');
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
    const got = await s.api(`/api/v1/deployments/${r.body.id}`);
    const host = (ip: string) => got.body.hosts.find((h: { ip: string }) => h.ip === ip);
    const byPath = (ip: string) => new Map(host(ip).diff.files.map((f: { path: string }) => [f.path, f]));

    // B: b.conf (text), c.conf (added), logo.bin (binary), z.conf (removed).
    const b = byPath(B);
    assert.deepEqual([...b.keys()].sort(), ['/etc/web/b.conf', '/etc/web/c.conf', '/etc/web/logo.bin', '/etc/web/z.conf']);
    assert.equal((b.get('/etc/web/b.conf') as any).diff, '--- host/etc/web/b.conf\n+++ git/etc/web/b.conf\n@@ -1,1 +1,2 @@\n bravo\n+bis\n');
    assert.deepEqual(b.get('/etc/web/logo.bin'), { path: '/etc/web/logo.bin', kind: 'binary', hostBytes: 3, newBytes: 4 });
    assert.equal((b.get('/etc/web/c.conf') as any).kind, 'added');
    assert.equal((b.get('/etc/web/z.conf') as any).diff, '--- host/etc/web/z.conf\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-zulu\n');
    assert.equal(host(B).diff.omitted, 0);

    // A: six changes, five shown (the cap; a.conf's hand edit among them), one counted; the link is named, never read.
    const a = byPath(A);
    assert.equal(host(A).diff.files.length + host(A).diff.omitted, 6);
    assert.equal(host(A).diff.files.length, 5);
    assert.equal(host(A).diff.omitted, 1);
    assert.equal((a.get('/etc/web/a.conf') as any).diff, '--- host/etc/web/a.conf\n+++ git/etc/web/a.conf\n@@ -1,3 +1,3 @@\n one\n-TWO\n+two\n three\n');
    assert.deepEqual(a.get('/etc/web/link.conf'), { path: '/etc/web/link.conf', kind: 'not_read', note: 'a link on the host (not followed)', newBytes: 2 });
    assert.ok(!JSON.stringify(got.body).includes('root-password'), 'the link target was not read');

    // Nothing written: the files, their directory and the link are as they were.
    assert.deepEqual(await Promise.all(fleet.ips.flatMap((ip) => paths.map((p) => stat(ip, p)))), before);
    assert.equal(await readFile(fleet.path(B, '/etc/web/b.conf'), 'utf8'), 'bravo\n');
    assert.ok((await lstat(fleet.path(A, '/etc/web/link.conf'))).isSymbolicLink());

    // A real deployment has no diff.
    const real = await s.api('/sync?env=prod&app=web');
    assert.equal(real.body.status, 'succeeded');
    assert.ok(real.body.hosts.every((h: { diff?: unknown }) => h.diff === undefined));
  });
});

// The probe before rsync on warm hosts: a re-sync finds exactly what was changed by hand (content of the same
// size, mode, owner, a file turned into a FIFO, a deleted file) and rsync runs on those paths only (the FIFO
// is beyond what the shell writes); an untouched host gets no rsync at all; a drift check sees the same through
// the probe.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, chown, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, syncObserved, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const FILES = { a: 'alpha\n', b: 'bravo\n', c: 'charlie\n', d: 'delta\n', e: 'echo\n' };

describe('probe of warm hosts before rsync', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let A: string;
  let B: string;
  let wwwData: number;

  const sync = () => syncObserved(s, 'env=prod&app=web');

  before(async () => {
    tmp = await tempDir('gf-probe-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 2);
    [A, B] = fleet.ips as [string, string];
    wwwData = Number((await run('id', ['-u', 'www-data'])).stdout.trim());
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit(Object.fromEntries(Object.entries(FILES).map(([k, v]) => [`app/prod/web/etc/web/${k}.conf`, v])));
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin },
      deploy: { retries: 0, hostTimeout: 4, owner: 'www-data', ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile } },
      hostSync: { converge: { enabled: false } },
    });
    for (const ip of fleet.ips) assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['web'] } })).status, 201);
  });
  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('a first sync (hosts at no known commit, cold) is plain rsync', async () => {
    const r = await sync();
    assert.equal(r.body.status, 'succeeded');
    assert.deepEqual([r.probe(A), r.probe(B)], [[], []]);
    assert.deepEqual([r.rsyncs(A), r.rsyncs(B)], [1, 1]);
    assert.equal(await readFile(fleet.path(B, '/etc/web/e.conf'), 'utf8'), 'echo\n');
  });

  it('a re-sync repairs exactly the hand-made changes on one host and runs no rsync on the other', async () => {
    const p = (f: string) => fleet.path(A, `/etc/web/${f}`);
    await writeFile(p('a.conf'), 'alphA\n');                 // same size, other content
    await chmod(p('b.conf'), 0o600);                          // mode
    await chown(p('c.conf'), 0, 0);                           // owner (the unit's is www-data)
    await rm(p('d.conf'));
    await run('mkfifo', [p('d.conf')]);                       // a FIFO where a file belongs: the probe must not block on it
    await rm(p('e.conf'));                                    // deleted
    await writeFile(p('local.conf'), 'made on the host\n');   // not managed by git: left alone
    const r = await sync();
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
    assert.deepEqual(r.probe(A), ['differs']);
    assert.deepEqual(r.probe(B), ['in_sync']);
    assert.equal(r.rsyncs(B), 0, 'nothing to do on B: no rsync');
    assert.equal(r.rsyncs(A), 1);
    assert.deepEqual(r.changes(A).map((c: string) => c.slice(1)).sort(), ['etc/web/a.conf', 'etc/web/b.conf', 'etc/web/c.conf', 'etc/web/d.conf', 'etc/web/e.conf']);
    assert.deepEqual(r.changes(B), []);
    for (const [k, v] of Object.entries(FILES)) {
      const st = await stat(p(`${k}.conf`));
      assert.ok(st.isFile(), `${k}.conf is a regular file again`);
      assert.equal(st.mode & 0o777, 0o644, `${k}.conf mode`);
      assert.equal(st.uid, wwwData, `${k}.conf owner`);
      assert.equal(await readFile(p(`${k}.conf`), 'utf8'), v);
    }
    assert.equal(await readFile(p('local.conf'), 'utf8'), 'made on the host\n');
  });

  it('once everything is in place, a re-sync runs no rsync anywhere', async () => {
    const r = await sync();
    assert.deepEqual([r.probe(A), r.probe(B)], [['in_sync'], ['in_sync']]);
    assert.deepEqual([r.rsyncs(A), r.rsyncs(B)], [0, 0]);
    assert.match(await (await fetch(`${s.url}/metrics`)).text(), /gitfleet_probes_total\{result="in_sync"\} [3-9]/);
  });

  it('on cold hosts the probe opens the connection: a re-sync with nothing to do is still rsync-free, and the masters stay', async () => {
    await s.ctx.ssh.closeIdle();
    const logins = async (ip: string) => (await readFile(join(fleet.dir, 'hosts', ip, 'sshd.log'), 'utf8')).split('\n').filter((l) => l.includes('Accepted publickey')).length;
    const before = await Promise.all([A, B].map(logins));
    const r = await sync();
    assert.deepEqual([r.probe(A), r.probe(B)], [['in_sync'], ['in_sync']]);
    assert.deepEqual([r.rsyncs(A), r.rsyncs(B)], [0, 0]);
    assert.deepEqual((await Promise.all([A, B].map(logins))).map((n, i) => n - before[i]!), [1, 1], 'one new connection per host');
    assert.deepEqual(s.ctx.ssh.openHosts().sort(), [A, B].sort());
  });

  it('a cold probe that cannot connect fails the host with the connection reason, without trying rsync', async () => {
    await s.ctx.ssh.closeIdle();
    await fleet.stopHost(B);
    try {
      const r = await sync();
      assert.equal(r.body.status, 'partial');
      assert.deepEqual(r.probe(B), ['failed']);
      assert.equal(r.rsyncs(B), 0);
      const b = r.body.hosts.find((h: { ip: string }) => h.ip === B);
      assert.match(b.reason, /connection refused/);
      assert.deepEqual(r.probe(A), ['in_sync']);
    } finally {
      await fleet.startHost(B);
    }
  });

  it('a push of a change probes a warm host behind the commit but sends a cold one straight to rsync; a drift check probes', async () => {
    // A's connection is open (previous test), B's failed.
    await fx.commit({ 'app/prod/web/etc/web/a.conf': 'alpha v2\n' });
    const r = await sync();
    assert.deepEqual([r.probe(A), r.probe(B)], [['differs'], []]);
    assert.deepEqual([r.rsyncs(A), r.rsyncs(B)], [0, 1], 'A: the one file went through its shell (shell-write.test.ts)');
    assert.deepEqual([r.changes(A), r.changes(B)], [['+etc/web/a.conf'], ['+etc/web/a.conf']]);

    await writeFile(fleet.path(B, '/etc/web/c.conf'), 'charliE\n');
    const mark = s.logs.length;
    const check = await s.api('/api/v1/drift/check', { method: 'POST', body: { unit: 'app/prod/web' } });
    assert.equal(check.status, 200, JSON.stringify(check.body));
    const rows = check.body.results[0].rows;
    assert.deepEqual(rows.map((x: { ip: string; state: string; files: string[] }) => [x.ip, x.state, x.files]), [[A, 'in_sync', []], [B, 'drifted', ['+etc/web/c.conf']]]);
    const probes = s.logs.slice(mark).filter((l) => l.msg === 'probed').map((l) => [l.host, l.probe]).sort();
    assert.deepEqual(probes, [[A, 'in_sync'], [B, 'differs']]);
    assert.equal(await readFile(fleet.path(B, '/etc/web/c.conf'), 'utf8'), 'charliE\n', 'a check changes nothing');
  });

  it('a host that stops answering while probed fails within the host timeout, the other is unaffected', async () => {
    await writeFile(fleet.path(B, '/etc/web/c.conf'), 'charlie\n');
    await sync(); // both in sync, shells open
    await fleet.pauseHost(B);
    try {
      const t0 = Date.now();
      const r = await sync();
      const took = Date.now() - t0;
      assert.equal(r.body.status, 'partial');
      assert.deepEqual([r.probe(A), r.probe(B)], [['in_sync'], ['timeout']]);
      assert.match(r.body.hosts.find((h: { ip: string }) => h.ip === B).reason, /did not answer within 4 s/);
      assert.ok(took < 12_000, `failed within the timeout, took ${took} ms`);
    } finally {
      await fleet.resumeHost(B);
    }
  });

  it('shutdown with probe shells open leaves no ssh process, no socket and no FIFO behind', async () => {
    await sync(); // both in sync again: each host's shell is open
    const controlDir = s.ctx.ssh['o' as never]['controlDir' as never] as string;
    const ours = async () => (await run('ps', ['-eo', 'pid,args'])).stdout.split('\n').filter((l) => l.includes(controlDir) && !l.includes(' ps '));
    const shells = (await ours()).filter((l) => l.includes('exec /bin/sh'));
    assert.equal(shells.length, 2, `a shell per host before shutdown: ${shells.join('; ')}`);
    const runDir = s.ctx.launcher['o' as never]['dir' as never] as string; // off the data dir (boot.ts runDir)
    assert.ok((await readdir(runDir)).some((f) => f.endsWith('.i')), 'the shells talk through FIFOs in the run directory');
    await s.stop();
    assert.deepEqual(await ours(), []);
    assert.deepEqual(await readdir(controlDir), []);
    assert.deepEqual(await readdir(runDir).catch(() => []), []);
  });
});

// Warm fan-out: SSH master connections are reused across pushes, replaced when they die, capped, and closed on shutdown.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { socketName } from '../../server/src/ssh/connections.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const FLEET = resolve(import.meta.dirname, '..', '..', 'scripts', 'fleet.sh');

describe('SSH connection reuse', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let ips: string[];

  /** Successful SSH authentications seen by a host's sshd (one per new connection). */
  const logins = async (ip: string) => (await readFile(join(fleet.dir, 'hosts', ip, 'sshd.log'), 'utf8')).split('\n').filter((l) => l.includes('Accepted publickey')).length;
  const controlDir = () => s.ctx.ssh['o' as never]['controlDir' as never] as string;
  // Between pushes, every ssh process using our control directory is a master (the first ssh to a host stays as its master).
  // Masters only ("ssh: <socket> [mux]"); the long-lived shells of the probe are mux clients of theirs.
  const masters = async () => (await run('ps', ['-eo', 'pid,args'])).stdout.split('\n').filter((l) => l.includes(controlDir()) && /^\d+ ssh: \S+ \[mux\]$/.test(l.trim()));
  const sync = async (app: string) => {
    const r = await s.api(`/sync?env=prod&app=${app}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };

  before(async () => {
    tmp = await tempDir('gf-reuse-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 3);
    ips = fleet.ips;
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({
      'app/prod/all/etc/all.conf': 'all v1\n',
      'app/prod/a1/etc/a1.conf': 'a1\n', 'app/prod/a2/etc/a2.conf': 'a2\n', 'app/prod/a3/etc/a3.conf': 'a3\n',
    });
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin },
      deploy: { retries: 0, hostTimeout: 4, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 5, maxConnections: 2 } },
      // Hosts are added below; new-host converge would push to them while this test counts sessions.
      hostSync: { converge: { enabled: false } },
    });
    for (const [i, ip] of ips.entries()) {
      assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['all', `a${i + 1}`] } })).status, 201);
    }
  });

  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('a second push to the same hosts opens no new SSH session, and the files are right', async () => {
    await sync('a1');
    await sync('a2');
    const before = await Promise.all(ips.slice(0, 2).map(logins));
    // The unit "all" targets all three hosts; the cap is 2, so use the two warm ones only by checking them.
    await fx.commit({ 'app/prod/a1/etc/a1.conf': 'a1 v2\n' });
    const d = await sync('a1');
    assert.equal(d.status, 'succeeded');
    assert.deepEqual(d.hosts.map((h: { changes: string[] }) => h.changes), [['+etc/a1.conf']]);
    await sync('a2');
    const afterPush = await Promise.all(ips.slice(0, 2).map(logins));
    assert.deepEqual(afterPush, before, 'no new authentication on the hosts');
    assert.equal(await readFile(fleet.path(ips[0]!, '/etc/a1.conf'), 'utf8'), 'a1 v2\n');
    const m = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(m, /gitfleet_ssh_connections_total\{event="reused"\} [1-9]/);
    assert.match(m, /gitfleet_ssh_connections_open 2/);
  });

  it('caps open connections, closing the least recently used', async () => {
    assert.deepEqual(s.ctx.ssh.openHosts().sort(), [ips[0], ips[1]].sort());
    await sync('a2'); // ips[1] most recent, ips[0] least recent
    await sync('a3');
    assert.deepEqual(s.ctx.ssh.openHosts().sort(), [ips[1], ips[2]].sort());
    // The evicted master stops in the background (the push that needed the room does not wait for it).
    for (let i = 0; i < 50 && (await masters()).length > 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await masters()).length, 2, 'the evicted master process is gone');
  });

  it('replaces a master that died between pushes', async () => {
    const [victim] = await masters();
    const pid = Number(victim!.trim().split(/\s+/)[0]);
    const hostOf = s.ctx.ssh.openHosts();
    process.kill(pid, 'SIGKILL');
    await fx.commit({ 'app/prod/a2/etc/a2.conf': 'a2 v2\n', 'app/prod/a3/etc/a3.conf': 'a3 v2\n' });
    assert.equal((await sync('a2')).status, 'succeeded');
    assert.equal((await sync('a3')).status, 'succeeded');
    assert.equal(await readFile(fleet.path(ips[1]!, '/etc/a2.conf'), 'utf8'), 'a2 v2\n');
    assert.equal(await readFile(fleet.path(ips[2]!, '/etc/a3.conf'), 'utf8'), 'a3 v2\n');
    assert.deepEqual(s.ctx.ssh.openHosts().sort(), hostOf.sort());
    // The replacement is a real master: the next pushes reuse it.
    const logged = await Promise.all([ips[1]!, ips[2]!].map(logins));
    await sync('a2');
    await sync('a3');
    assert.deepEqual(await Promise.all([ips[1]!, ips[2]!].map(logins)), logged);
    assert.match(await (await fetch(`${s.url}/metrics`)).text(), /gitfleet_ssh_connections_total\{event="died"\} 1/);
  });

  it('rejects a host whose key changed when its connection is reopened', async () => {
    const ip = ips[0]!; // not open any more (evicted above): the next push reconnects
    assert.ok(!s.ctx.ssh.openHosts().includes(ip));
    const keyFile = fleet.path(ip, '/etc/ssh/ssh_host_ed25519_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${keyFile}.new`]);
    await run('mv', ['-f', `${keyFile}.new`, keyFile]);
    await run('mv', ['-f', `${keyFile}.new.pub`, `${keyFile}.pub`]);
    await run(FLEET, ['stop-host', fleet.dir, ip]);
    await run(FLEET, ['start-host', fleet.dir, ip]);
    const d = await sync('a1');
    assert.equal(d.status, 'failed');
    assert.match(d.hosts[0].reason, /host key/);
    assert.equal(d.hosts[0].attempts, 1, 'a host key problem is not retried');
    assert.equal(await readFile(fleet.path(ip, '/etc/a1.conf'), 'utf8'), 'a1 v2\n');
  });

  it('a stalled master fails its host within the host timeout instead of hanging the deployment', async () => {
    const ip = ips[2]!;
    assert.ok(s.ctx.ssh.openHosts().includes(ip), 'warm connection to the host');
    await fleet.pauseHost(ip); // TCP stays up, nothing answers: the open master stalls
    try {
      await fx.commit({ 'app/prod/a3/etc/a3.conf': 'a3 v3\n' });
      const started = Date.now();
      const d = await sync('a3');
      const took = Date.now() - started;
      assert.equal(d.status, 'failed');
      assert.match(d.hosts[0].reason, /timeout|not responding|connection/);
      assert.ok(took < 15_000, `failed within the timeout, took ${took} ms`);
    } finally {
      await fleet.resumeHost(ip);
    }
  });

  it('adopts a live master it does not track instead of orphaning it, and closeIdle closes untracked ones', async () => {
    await s.ctx.ssh.closeIdle();
    assert.deepEqual(await masters(), []);
    // ips[0] has a new host key since the test above. Masters made behind the manager's back, as a first use judged failed could leave one: at a host's own
    // control path, and at a name no host has.
    const opts = ['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${fleet.knownHostsFile}`,
      '-o', `IdentityFile=${fleet.identityFile}`, '-o', 'IdentitiesOnly=yes', '-o', 'ControlMaster=yes', '-o', 'ControlPersist=60'];
    const own = join(controlDir(), socketName({ user: 'root', host: ips[1]!, port: 22 }));
    await run('ssh', [...opts, '-o', `ControlPath=${own}`, `root@${ips[1]}`, 'true']);
    await run('ssh', [...opts, '-o', `ControlPath=${join(controlDir(), 'stray')}`, `root@${ips[2]}`, 'true']);
    assert.equal((await masters()).length, 2);
    const before = await logins(ips[1]!);
    await fx.commit({ 'app/prod/a2/etc/a2.conf': 'a2 v3\n' });
    assert.equal((await sync('a2')).status, 'succeeded');
    assert.equal(await readFile(fleet.path(ips[1]!, '/etc/a2.conf'), 'utf8'), 'a2 v3\n');
    assert.equal(await logins(ips[1]!), before, 'the push rode on the existing master: no new authentication');
    assert.deepEqual(s.ctx.ssh.openHosts(), [ips[1]]);
    await s.ctx.ssh.closeIdle();
    assert.deepEqual(await masters(), [], 'the adopted master and the stray one are both closed');
    assert.deepEqual(await readdir(controlDir()), []);
    await sync('a2'); // the shutdown test below starts with a master open
  });

  it('a host whose master is being evicted waits for it to stop, then opens a new one (never rides on the exiting one)', async () => {
    assert.equal((await sync('a3')).status, 'succeeded'); // open: ips[1] (least recently used) and ips[2]; cap 2
    const before = await logins(ips[1]!);
    const l0 = await s.ctx.ssh.lease({ ip: ips[0]! }); // needs room: ips[1]'s master is evicted, in the background
    const l1 = await s.ctx.ssh.lease({ ip: ips[1]! });
    assert.equal(l1.warm, false, 'the master being stopped is not adopted');
    l0.release();
    l1.release();
    assert.equal((await sync('a2')).status, 'succeeded'); // the shutdown test below starts with a master open
    assert.equal(await logins(ips[1]!), before + 1, 'a new connection replaced the evicted one');
  });

  it('shutdown leaves no ssh process and no socket behind', async () => {
    assert.ok((await masters()).length > 0);
    const dir = controlDir();
    await s.stop();
    assert.deepEqual(await masters(), []);
    assert.deepEqual(await readdir(dir), []);
    await writeFile(join(tmp.path, 'stopped'), ''); // s.stop() is idempotent for the after hook
  });
});

// Nothing left behind: the ssh masters of a server killed with -9 are closed by the next start (they would hold
// their host sessions open until their idle timeout), and an idle server has no zombie child.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { freePort } from '../helpers/net.js';
import { processTable, zombiesUnder } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';
import { sleep, until } from '../helpers/wait.js';
import { exited, startServerProcess } from '../helpers/server-process.js';

describe('processes left behind (server as a separate process)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let configFile: string;
  let dataDir: string;
  let url: string;
  let child: ChildProcess | undefined;

  const start = async () => (child = await startServerProcess(configFile, url));
  /** The ssh masters on control sockets of this server's data dir (a master names itself "ssh: <socket> [mux]"). */
  const sshOfServer = async () => (await processTable()).filter((p) => p.state !== 'Z' && p.cmdline.join(' ').startsWith(`ssh: ${dataDir}/ssh/cm/`) && p.cmdline.join(' ').includes('[mux]'));
  const sync = async () => {
    const r = await fetch(`${url}/sync?env=prod&app=shop`);
    const body = await r.json() as { status: string };
    assert.equal(r.status, 200);
    assert.equal(body.status, 'succeeded', JSON.stringify(body));
  };

  before(async () => {
    tmp = await tempDir('gf-left-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 2);
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'v0\n' });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    dataDir = join(tmp.path, 'data');
    configFile = join(tmp.path, 'gitfleet.yaml');
    await writeFile(configFile, [
      `dataDir: ${dataDir}`,
      'server: { port: ' + port + ', shutdownGrace: 2 }',
      `repo: { url: ${fx.origin}, pollInterval: 0 }`,
      'log: { level: warn }',
      'deploy:',
      '  retries: 0',
      `  ssh: { identityFile: ${fleet.identityFile}, knownHostsFile: ${fleet.knownHostsFile}, idleTimeout: 600 }`,
    ].join('\n'));
    await start();
    for (const ip of fleet.ips) {
      const r = await fetch(`${url}/api/v1/hosts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ip, env: 'prod', apps: ['shop'] }) });
      assert.equal(r.status, 201);
    }
  });

  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    for (const p of await sshOfServer().catch(() => [])) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('an idle server has no zombie child', async () => {
    for (let i = 0; i < 3; i++) await sync();
    await sleep(1200);
    const zombies = await zombiesUnder(child!.pid!);
    assert.deepEqual(zombies.map((p) => `${p.pid} ${p.cmdline.join(' ')}`), []);
  });

  it('kill -9, then restart: the ssh masters of the old process are closed during start-up', async () => {
    await sync();
    // A master goes to the background once its first session is set up: give it a moment.
    const masters = await until('one master per host', async () => { const m = await sshOfServer(); return m.length >= fleet.ips.length ? m : undefined; }, 10_000);
    child!.kill('SIGKILL');
    await exited(child!);
    await sleep(300);
    const after9 = await sshOfServer();
    assert.ok(after9.length >= fleet.ips.length, 'the masters outlive the killed server');
    await start();
    const left = (await processTable()).filter((p) => masters.some((m) => m.pid === p.pid) && p.state !== 'Z');
    assert.deepEqual(left.map((p) => `${p.pid} ${p.cmdline.join(' ')}`), [], 'no master of the old process is alive once the new one listens');
    // The new process opens its own and a clean stop closes them.
    await sync();
    assert.ok((await sshOfServer()).length >= fleet.ips.length);
    child!.kill('SIGTERM');
    await exited(child!);
    assert.deepEqual((await sshOfServer()).map((p) => p.pid), [], 'a clean stop leaves no master');
  });
});

// deploy.ssh.keepWarm: masters of recently deployed hosts outlive the idle timeout; without it they expire.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('keeping connections warm', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  const logins = async (ip: string) => (await readFile(join(fleet.dir, 'hosts', ip, 'sshd.log'), 'utf8')).split('\n').filter((l) => l.includes('Accepted publickey')).length;

  before(async () => {
    tmp = await tempDir('gf-warm-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 2);
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({ 'app/prod/web/etc/web.conf': 'x\n' });
  });
  after(async () => {
    await fleet?.down();
    await tmp?.cleanup();
  });

  const server = async (name: string, keepWarm: boolean): Promise<TestServer> => {
    const s = await startTestServer(join(tmp.path, name), {
      repo: { url: fx.origin },
      hostSync: { converge: { enabled: false } },
      deploy: { ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, idleTimeout: 2, keepWarm } },
    });
    for (const ip of fleet.ips) await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['web'] } });
    return s;
  };
  const controlDir = (s: TestServer) => s.ctx.ssh['o' as never]['controlDir' as never] as string;

  it('without keepWarm, an idle master expires after the idle timeout', async () => {
    const s = await server('cold', false);
    try {
      assert.equal((await s.api('/sync?env=prod&app=web')).body.status, 'succeeded');
      assert.equal((await readdir(controlDir(s))).length, 2);
      await sleep(4500);
      assert.equal((await readdir(controlDir(s))).length, 0, 'ControlPersist closed the idle masters');
    } finally {
      await s.stop();
    }
  });

  it('with keepWarm, masters of recently deployed hosts stay open and the next push needs no new session', async () => {
    const s = await server('warm', true);
    try {
      assert.equal((await s.api('/sync?env=prod&app=web')).body.status, 'succeeded');
      const before = await Promise.all(fleet.ips.map(logins));
      await sleep(4500);
      const sockets = await readdir(controlDir(s));
      assert.equal(sockets.length, 2);
      assert.equal(s.ctx.ssh.shells.openCount, 2, 'kept through their probe shells, which stay open too');
      for (const f of sockets) assert.ok(existsSync(join(controlDir(s), f)));
      assert.equal((await s.api('/sync?env=prod&app=web')).body.status, 'succeeded');
      assert.deepEqual(await Promise.all(fleet.ips.map(logins)), before, 'no new SSH authentication on the hosts');
    } finally {
      await s.stop();
    }
  });
});

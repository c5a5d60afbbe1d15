// Scheduled duties on the leader only: two gitfleet servers on one PostgreSQL database; the poller and the release
// of held work run on the leading one; after it stops, the other leads within a try interval and takes them over.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { requirePostgres, testPostgres } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { sleep, until } from '../helpers/wait.js';

/** A 6-field UTC cron that fires once, at t (whole seconds). */
const cronAt = (t: Date) => `${t.getUTCSeconds()} ${t.getUTCMinutes()} ${t.getUTCHours()} ${t.getUTCDate()} ${t.getUTCMonth() + 1} *`;

if (requirePostgres()) {
  describe('duties on the leader only', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    let fx: GitFixture;
    let a: TestServer;
    let b: TestServer;
    before(async () => {
      tmp = await tempDir('gf-duties-');
      fx = await createGitFixture(join(tmp.path, 'git'));
      await fx.commit({ 'app/prod/web/etc/web.conf': 'v0\n' });
      const url = await (await testPostgres()).createDatabase();
      const cfg = { db: { url }, repo: { url: fx.origin, pollInterval: 1 }, cluster: { leaseSeconds: 3 }, hostSync: { converge: { enabled: false } } };
      a = await startTestServer(join(tmp.path, 'a'), cfg);
      b = await startTestServer(join(tmp.path, 'b'), cfg);
    });
    after(async () => {
      await a?.stop();
      await b?.stop();
      await (await testPostgres()).stop();
      await tmp.cleanup();
    });

    const deployments = async (s: TestServer) => (await s.api('/api/v1/deployments?limit=100')).body.items as Array<{ id: number; trigger: string; actor: string; after: string | null; status: string }>;
    const said = (s: TestServer, msg: string) => s.logs.filter((l) => l.msg === msg);

    test('the poller and held-work releases run on the leader; the other takes over when it stops', async () => {
      assert.equal(a.ctx.leader.isLeader, true, 'the first server leads');
      assert.equal(b.ctx.leader.isLeader, false);
      assert.equal(said(a, 'became leader').length, 1);

      // A deny window on prod/web from the next whole second for 3 s (through the leader, which decides the hold).
      const start = new Date(Math.ceil((Date.now() + 1500) / 1000) * 1000);
      const w = await a.api('/api/v1/windows/freeze', { method: 'POST', body: { kind: 'deny', schedule: cronAt(start), duration: '3s', envs: ['prod'], apps: ['web'] } });
      assert.equal(w.status, 201, JSON.stringify(w.body));
      await sleep(start.getTime() - Date.now() + 200);

      const c1 = await fx.commit({ 'app/prod/web/etc/web.conf': 'v1\n' });
      const polled = await until('a poller deployment of the new head', async () => (await deployments(a)).find((d) => d.actor === 'poller' && d.after === c1), 10_000);
      await sleep(2500); // more poller ticks on both servers
      assert.equal((await deployments(a)).filter((d) => d.actor === 'poller').length, 1, 'one poller deployment per new head');
      assert.equal(said(a, 'poller found new commits').length, 1);
      assert.equal(said(b, 'poller found new commits').length, 0, 'the follower does not poll');
      assert.ok(said(a, 'units held by a sync window').length >= 1, 'held while the window is open');

      const released = await until('the release of the held unit', async () => (await deployments(a)).find((d) => d.id > polled.id && d.actor.startsWith('sync window release')), 15_000);
      await sleep(1500);
      assert.equal((await deployments(a)).filter((d) => d.actor.startsWith('sync window release')).length, 1, 'released once');
      assert.equal(said(a, 'held units released: sync windows let them').length, 1);
      assert.equal(said(b, 'held units released: sync windows let them').length, 0, 'the follower does not release');
      assert.ok(released.id > polled.id);

      // The leader stops: its lock is released, the other leads at its next try (within one interval of 1000 ms).
      const t0 = Date.now();
      await a.stop();
      const tookOver = await until('b to lead', async () => (b.ctx.leader.isLeader ? Date.now() - t0 : undefined), 5_000);
      assert.ok(tookOver <= 2000, `took ${tookOver} ms`);
      const c2 = await fx.commit({ 'app/prod/web/etc/web.conf': 'v2\n' });
      await until('the new leader polls', async () => (await deployments(b)).find((d) => d.actor === 'poller' && d.after === c2), 10_000);
      assert.equal(said(b, 'poller found new commits').length, 1);
      console.log(`duties: leader stop → the other led after ${tookOver} ms`);
    });
  });
}

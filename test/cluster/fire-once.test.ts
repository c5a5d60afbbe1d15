// Fire-once on both stores (claimFire), and the gating end to end: two gitfleet processes on one PostgreSQL database
// with a host-sync source on a 1-second cron reach its upstream once per fire, also after the leader is SIGKILLed.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDb, type Db } from '../../server/src/db/connection.js';
import { migrate } from '../../server/src/db/migrate.js';
import { openPostgres } from '../../server/src/db/postgres.js';
import { claimFire, pruneFires } from '../../server/src/db/schedule-fires.js';
import { Cron } from 'croner';
import { PgLeader, startLeader } from '../../server/src/cluster/leader.js';
import { clusterNode } from '../../server/src/cluster/node.js';
import { fireGate, nominalRun } from '../../server/src/cluster/schedule-gate.js';
import { createLogger } from '../../server/src/log.js';
import { startFake, type FakeUpstream } from '../cmdb/fake-upstream.js';
import { freePort } from '../helpers/net.js';
import { postgresUnavailable, requirePostgres, testPostgres } from '../helpers/postgres.js';
import { exited, startServerProcess } from '../helpers/server-process.js';
import { startTestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { sleep, until } from '../helpers/wait.js';

// The shared test cluster (started by the first PostgreSQL test here) stops with this file.
after(async () => { if (!postgresUnavailable()) await (await testPostgres()).stop(); });

type Pools = { a: Db; b: Db };
const stores: Array<[string, (dir: string) => Promise<Pools>]> = [
  ['sqlite', async (dir) => {
    const a = await openDb(join(dir, 'fires.db'));
    await migrate(a);
    return { a, b: await openDb(join(dir, 'fires.db')) };
  }],
  ['postgres', async () => {
    const url = await (await testPostgres()).createDatabase();
    const a = await openPostgres(url);
    await migrate(a);
    return { a, b: await openPostgres(url) };
  }],
];

for (const [kind, open] of stores) {
  describe(`claimFire on ${kind}`, { skip: kind === 'postgres' ? postgresUnavailable() ?? false : false }, () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    let pools: Pools;
    before(async () => { tmp = await tempDir('gf-fires-'); pools = await open(tmp.path); });
    after(async () => { await pools.a.close(); await pools.b.close(); await tmp.cleanup(); });

    test('the same (job, fire) twice: true, then false; another fire or job: true again', async () => {
      const at = '2026-12-06T22:00:00.000Z';
      assert.equal(await claimFire(pools.a, 'hostsync:x', at, 'n1', at), true);
      assert.equal(await claimFire(pools.a, 'hostsync:x', at, 'n2', at), false);
      assert.equal(await claimFire(pools.b, 'hostsync:x', at, 'n2', at), false, 'from another pool too');
      assert.equal(await claimFire(pools.a, 'hostsync:x', '2026-12-06T22:00:01.000Z', 'n2', at), true);
      assert.equal(await claimFire(pools.a, 'essync:1', at, 'n2', at), true);
      const rows = await pools.a.all<{ job: string; node: string }>('SELECT job, node FROM schedule_fires WHERE fire_at = ? ORDER BY job', [at]);
      assert.deepEqual(rows, [{ job: 'essync:1', node: 'n2' }, { job: 'hostsync:x', node: 'n1' }], 'the first claimer is recorded');
    });

    test('concurrent claims from two pools: exactly one wins each fire', async () => {
      const fires = Array.from({ length: 25 }, (_, i) => new Date(Date.UTC(2026, 11, 7, 0, 0, i)).toISOString());
      const results = await Promise.all(fires.flatMap((f) => [
        claimFire(pools.a, 'agents-collect', f, 'a', f).then((ok) => ({ f, who: 'a', ok })),
        claimFire(pools.b, 'agents-collect', f, 'b', f).then((ok) => ({ f, who: 'b', ok })),
      ]));
      for (const f of fires) assert.equal(results.filter((r) => r.f === f && r.ok).length, 1, f);
      const winners = new Set(results.filter((r) => r.ok).map((r) => r.who));
      const recorded = await pools.a.all<{ fire_at: string; node: string }>("SELECT fire_at, node FROM schedule_fires WHERE job = 'agents-collect' ORDER BY fire_at");
      assert.deepEqual(recorded.map((r) => r.fire_at), fires);
      for (const r of recorded) assert.equal(results.find((x) => x.f === r.fire_at && x.ok)!.who, r.node);
      assert.ok(winners.size >= 1);
    });

    test('pruneFires deletes records written before the cutoff only', async () => {
      await claimFire(pools.a, 'old', '2026-01-01T00:00:00.000Z', 'n', '2026-01-01T00:00:00.000Z');
      const before = (await pools.a.get<{ n: number }>('SELECT COUNT(*) AS n FROM schedule_fires'))!.n;
      assert.equal(await pruneFires(pools.a, '2026-06-01T00:00:00.000Z'), 1);
      assert.equal((await pools.a.get<{ n: number }>('SELECT COUNT(*) AS n FROM schedule_fires'))!.n, before - 1);
    });
  });
}

test('the retention run deletes fire records older than 3 days, keeps newer ones', async () => {
  const tmp = await tempDir('gf-fires-ret-');
  const s = await startTestServer(join(tmp.path, 'data'));
  try {
    const now = Date.now();
    const old = new Date(now - 4 * 86_400_000).toISOString();
    const recent = new Date(now - 2 * 86_400_000).toISOString();
    assert.equal(await claimFire(s.ctx.db, 'hostsync:old', old, 'n', old), true);
    assert.equal(await claimFire(s.ctx.db, 'hostsync:recent', recent, 'n', recent), true);
    const r = await s.api('/api/v1/retention/run', { method: 'POST' });
    assert.equal(r.status, 200);
    const left = await s.ctx.db.all<{ job: string }>('SELECT job FROM schedule_fires ORDER BY job');
    assert.deepEqual(left.map((x) => x.job), ['hostsync:recent']);
  } finally {
    await s.stop();
    await tmp.cleanup();
  }
});

test('nominalRun: the scheduled instant of the cron run in progress, not the clock when it started', async () => {
  const seen = await new Promise<Array<[Date | null, Date | null]>>((resolve) => {
    const out: Array<[Date | null, Date | null]> = [];
    const job = new Cron('* * * * * *', (self: Cron) => {
      out.push([nominalRun(self), self.currentRun()]);
      if (out.length === 2) { job.stop(); resolve(out); }
    });
  });
  for (const [nominal, started] of seen) {
    assert.equal(nominal!.getMilliseconds(), 0, nominal!.toISOString());
    assert.ok(started!.getTime() >= nominal!.getTime() && started!.getTime() - nominal!.getTime() < 1000);
  }
  assert.equal(seen[1]![0]!.getTime() - seen[0]![0]!.getTime(), 1000);
});

describe('fireGate', { skip: postgresUnavailable() ?? false }, () => {
  const log = createLogger('silent');
  test('a follower never fires; two nodes that both believe they lead fire each nominal time once', async () => {
    const url = await (await testPostgres()).createDatabase();
    const db1 = await openPostgres(url);
    await migrate(db1);
    const db2 = await openPostgres(url);
    const node1 = clusterNode({ role: 'all' });
    const node2 = clusterNode({ role: 'all' });
    const real = new PgLeader({ url, tryMs: 1000, node: node1, log });
    await real.start();
    const follower = new PgLeader({ url, tryMs: 1000, node: node2, log });
    await follower.start();
    try {
      assert.equal(follower.isLeader, false);
      const at = new Date('2026-12-07T03:00:00.000Z');
      assert.equal(await fireGate({ leader: follower, db: db2, node: node2, clock: () => new Date(), log }, 'hostsync:x')(at), false);
      assert.equal(await fireGate({ leader: follower, db: db2, node: node2, clock: () => new Date(), log }, 'hostsync:x')(null), false, 'interval schedules too');
      // Split brain: both act as leaders (the always-leading kind, as on SQLite), on one PostgreSQL database.
      const g1 = fireGate({ leader: await startLeader({ dialect: 'sqlite', node: node1, log, tryMs: 1000 }), db: db1, node: node1, clock: () => new Date(), log }, 'essync:7');
      const g2 = fireGate({ leader: await startLeader({ dialect: 'sqlite', node: node2, log, tryMs: 1000 }), db: db2, node: node2, clock: () => new Date(), log }, 'essync:7');
      for (let i = 0; i < 10; i++) {
        const fire = new Date(at.getTime() + i * 1000);
        const [x, y] = await Promise.all([g1(fire), g2(fire)]);
        assert.equal(Number(x) + Number(y), 1, `fire ${i}: ${x} ${y}`);
      }
      assert.equal(await g1(null), true, 'no nominal time (interval): leadership alone decides');
    } finally {
      await real.stop();
      await follower.stop();
      await db1.close();
      await db2.close();
    }
  });
});

if (requirePostgres()) {
  describe('two gitfleet processes on one PostgreSQL database', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    let fake: FakeUpstream;
    const calls: number[] = [];
    const children: ChildProcess[] = [];
    before(async () => {
      tmp = await tempDir('gf-fire-gate-');
      fake = await startFake();
      fake.route('GET /hosts', () => { calls.push(Date.now()); return { body: [{ uid: 'h1', ip: '192.0.2.10', env: 'prod', apps: ['shop'] }] }; });
    });
    after(async () => {
      for (const c of children) c.kill('SIGKILL');
      await Promise.all(children.map((c) => exited(c)));
      await fake.close();
      await tmp.cleanup();
    });

    const start = async (name: string, url: string) => {
      const port = await freePort();
      const file = join(tmp.path, `${name}.yaml`);
      await writeFile(file, [
        `dataDir: ${join(tmp.path, name)}`, `server: { port: ${port} }`, 'repo: { pollInterval: 0 }', 'log: { level: warn }',
        `db: { url: '${url}' }`, 'cluster: { leaseSeconds: 3 }',
        `hostSync: { converge: { enabled: false }, sources: { cmdb: { type: http, url: '${fake.url}/hosts', cron: '* * * * * *', runAtStart: false } } }`,
      ].join('\n'));
      const base = `http://127.0.0.1:${port}`;
      const child = await startServerProcess(file, base);
      children.push(child);
      return { child, base };
    };
    const leads = async (base: string) => /gitfleet_leader\{node="[^"]+"\} 1/.test(await (await fetch(`${base}/metrics`)).text());
    /** Calls per wall-clock second since `from`: every fire reaches the upstream once, so no second has two. */
    const perSecond = (from: number) => {
      const buckets = new Map<number, number>();
      for (const t of calls.filter((c) => c >= from)) buckets.set(Math.floor(t / 1000), (buckets.get(Math.floor(t / 1000)) ?? 0) + 1);
      return [...buckets.values()];
    };

    test('each cron fire runs once (on the leader); after SIGKILL of the leader the other node fires', async () => {
      const url = await (await testPostgres()).createDatabase();
      const a = await start('a', url);
      const b = await start('b', url);
      assert.equal(await leads(a.base), true, 'the first process leads');
      assert.equal(await leads(b.base), false);

      const from = Date.now();
      await sleep(4200);
      const both = perSecond(from);
      assert.ok(both.length >= 3, `fires over ~4 s: ${both.length}`);
      assert.deepEqual(both.filter((n) => n > 1), [], `a fire reached the upstream twice: ${JSON.stringify(both)}`);
      const fires = await fetchJson(`${a.base}/api/v1/host-sync/runs?source=cmdb&limit=100`);
      assert.ok(fires.items.every((r: { trigger: string }) => r.trigger === 'schedule'));
      assert.equal(fires.total, calls.length, 'one run per upstream call, none from the follower');

      a.child.kill('SIGKILL');
      await exited(a.child);
      const killedAt = Date.now();
      const tookOver = await until('node b to lead', async () => ((await leads(b.base)) ? Date.now() - killedAt : undefined), 10_000);
      const mark = calls.length;
      const afterFrom = Date.now();
      await sleep(3200);
      assert.ok(calls.length - mark >= 2, `fires after the handover: ${calls.length - mark}`);
      assert.deepEqual(perSecond(afterFrom).filter((n) => n > 1), []);
      console.log(`gating: ${both.length} fires in ~4.2 s with two nodes, none twice; node b led ${tookOver} ms after the SIGKILL (try interval 1000 ms), then fired ${calls.length - mark} times in 3.2 s`);
    });
  });
}

async function fetchJson(url: string): Promise<any> {
  const r = await fetch(url);
  assert.equal(r.status, 200, url);
  return r.json();
}

// The cluster work queue (db/work-queue.ts, README "Scale-out") at the store level, the same tests on SQLite and on
// PostgreSQL: claim order and the push-per-branch rule, host claims by data centre with exact per-DC caps under
// racing claimers, lease expiry and heartbeats, attempt fencing, one run per unit, and coalescing that skips a
// deployment the reaper re-queued. A second handle (SQLite) or pool (PostgreSQL) on the same database stands for a
// second process.
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import type { Db } from '../../server/src/db/connection.js';
import { insertDeployment, setHostCommit, waitingPush, waitingSame, type HostPushResult } from '../../server/src/db/deployments.js';
import {
  acquireUnitRun, claimDeployment, claimHostPushes, dbTime, ensureHostPushes, finishDeploymentFenced, finishHostPushFenced, heartbeat,
  holdsDeployment, liveNodes, openDeployments, queueDepth, queueHostPushes, reapExpired, releaseUnitRun, requeueHostPush, skipHostPush,
  type ClaimedHostPush,
} from '../../server/src/db/work-queue.js';
import type { DeployRequest } from '../../server/src/deploy/types.js';
import { queueStores } from '../helpers/queue-stores.js';

const iso = () => new Date().toISOString();
const push = (after = 'a'.repeat(40)): DeployRequest => ({ kind: 'push', trigger: 'gitlab', after });
const sync = (unit: string): DeployRequest => ({ kind: 'sync', trigger: 'manual', units: [unit] });

async function addDeployment(db: Db, branch: string, request: DeployRequest): Promise<number> {
  return db.tx((q) => insertDeployment(q, { trigger: request.trigger, branch, request }, iso()));
}

/** Host rows of a unit in a deployment, queued for workers unless `queue` is false; ids in the order given. */
async function addHosts(db: Db, deploymentId: number, unit: string, hosts: Array<{ ip: string; dc: string | null }>, queue = true): Promise<number[]> {
  const ids = await ensureHostPushes(db, deploymentId, unit, hosts);
  const out = hosts.map((h) => ids.get(h.ip)!);
  if (queue) await queueHostPushes(db, out);
  return out;
}

type Row = Record<string, unknown> & { id: number; status: string; attempt: number; lease_owner: string | null; lease_until: string | null };
const hostRow = async (db: Db, id: number) => (await db.get<Row>('SELECT * FROM host_pushes WHERE id = ?', [id]))!;
const depRow = async (db: Db, id: number) =>
  (await db.get<{ status: string; lease_owner: string | null; lease_until: string | null; lease_attempt: number; started_at: string | null }>('SELECT * FROM deployments WHERE id = ?', [id]))!;
/** The database clock, `plus` seconds ahead, in the lease columns' format. */
const dbNow = async (db: Db, plus = 0) => (await db.get<{ t: string }>(`SELECT ${dbTime(db, plus)} AS t`))!.t;
const result = (tag: string, status: HostPushResult['status'] = 'succeeded'): HostPushResult =>
  ({ status, exitCode: status === 'succeeded' ? 0 : 23, reason: tag, changes: [`/etc/${tag}.conf`], stderrTail: null, attempts: 1, durationMs: 7 });
const runningPerDc = async (db: Db) => new Map((await db.all<{ dc: string; n: number }>(
  "SELECT COALESCE(dc, '') AS dc, COUNT(*) AS n FROM host_pushes WHERE status = 'running' GROUP BY COALESCE(dc, '')")).map((r) => [r.dc, Number(r.n)]));
const PAST = '2000-01-01T00:00:00.000Z';
const expireHost = (db: Db, id: number) => db.run('UPDATE host_pushes SET lease_until = ? WHERE id = ?', [PAST, id]);
const expireDeployment = (db: Db, id: number) => db.run('UPDATE deployments SET lease_until = ? WHERE id = ?', [PAST, id]);
const node = (id: string, dc: string | null = null) => ({ id, role: 'worker', dc });
const shuffle = <T>(xs: T[]): T[] => xs.map((x) => [Math.random(), x] as const).sort((a, b) => a[0] - b[0]).map((p) => p[1]);

for (const store of queueStores()) {
  describe(`work queue on ${store.name}`, () => {
    after(() => store.close());

    describe('claimDeployment', () => {
      test('claims the oldest claimable deployment and records status, lease owner, lease expiry and attempt', async () => {
        const db = await store.fresh();
        const s = await addDeployment(db, 'main', sync('m/prod/web'));
        const p = await addDeployment(db, 'main', push());
        assert.deepEqual(await openDeployments(db), { queued: 2, running: 0, pushes: 1 });
        const before = await dbNow(db);
        const first = await claimDeployment(db, 'w1', 30);
        assert.deepEqual(first, { id: s, attempt: 1 });
        const r = await depRow(db, s);
        assert.equal(r.status, 'running');
        assert.equal(r.lease_owner, 'w1');
        assert.equal(r.lease_attempt, 1);
        assert.ok(r.started_at && r.started_at >= before, `started_at ${r.started_at} from the database clock (>= ${before})`);
        assert.ok(r.lease_until! > (await dbNow(db, 25)) && r.lease_until! <= (await dbNow(db, 31)), `lease_until ${r.lease_until} is about 30 s ahead`);
        assert.deepEqual(await claimDeployment(db, 'w2', 30), { id: p, attempt: 1 });
        assert.equal((await depRow(db, p)).lease_owner, 'w2');
        assert.equal(await claimDeployment(db, 'w1', 30), undefined, 'nothing left to claim');
        assert.deepEqual(await openDeployments(db), { queued: 0, running: 2, pushes: 1 });
      });

      test('a push waits while a push of its branch runs or an older one is queued; syncs and other branches are not held back', async () => {
        const db = await store.fresh();
        const p1 = await addDeployment(db, 'main', push('1'.repeat(40)));
        const p2 = await addDeployment(db, 'main', push('2'.repeat(40)));
        const d1 = await addDeployment(db, 'dev', push('3'.repeat(40)));
        const p3 = await addDeployment(db, 'main', push('4'.repeat(40)));
        const s1 = await addDeployment(db, 'main', sync('m/prod/web'));
        assert.equal((await claimDeployment(db, 'w1', 30))?.id, p1);
        // p2 and p3 wait for p1; dev's push and the sync (same branch name) go ahead.
        assert.equal((await claimDeployment(db, 'w1', 30))?.id, d1);
        assert.equal((await claimDeployment(db, 'w1', 30))?.id, s1);
        assert.equal(await claimDeployment(db, 'w1', 30), undefined, 'main pushes wait while p1 runs');
        assert.equal(await finishDeploymentFenced(db, p1, 'w1', 'succeeded', null, iso()), true);
        // p3 is not claimable while the older p2 is queued: the next is p2, then none until p2 ends.
        assert.equal((await claimDeployment(db, 'w2', 30))?.id, p2);
        assert.equal(await claimDeployment(db, 'w2', 30), undefined, 'p3 waits while p2 runs');
        // The reaper re-queues p2 (its coordinator died): p3 still waits, for the older p2, which is claimed again.
        await expireDeployment(db, p2);
        assert.deepEqual((await reapExpired(db)).deployments, [p2]);
        assert.deepEqual(await claimDeployment(db, 'w3', 30), { id: p2, attempt: 2 });
        assert.equal(await claimDeployment(db, 'w3', 30), undefined);
        assert.equal(await finishDeploymentFenced(db, p2, 'w3', 'succeeded', null, iso()), true);
        assert.equal((await claimDeployment(db, 'w3', 30))?.id, p3);
      });

      test('claimers in two processes never get the same deployment, and pushes of a branch run one at a time in order', async () => {
        const db = await store.fresh();
        const other = await store.another(db);
        const ids: number[] = [];
        const branchOf = new Map<number, string>();
        for (let i = 0; i < 30; i++) {
          const branch = i % 3 === 0 ? 'main' : `p${i % 5}`;
          const id = await addDeployment(db, branch, i % 3 === 0 ? sync(`m/prod/u${i}`) : push(String(i % 10).repeat(40)));
          ids.push(id);
          if (i % 3) branchOf.set(id, branch);
        }
        const got: Array<{ id: number; by: string }> = [];
        const claimer = async (h: Db, me: string) => {
          const held: number[] = [];
          for (let spins = 0; spins < 10_000; spins++) {
            const c = await claimDeployment(h, me, 30);
            if (c) {
              got.push({ id: c.id, by: me });
              held.push(c.id);
              const perBranch = await h.all<{ branch: string; n: number }>(
                "SELECT branch, COUNT(*) AS n FROM deployments WHERE status = 'running' AND branch LIKE 'p%' GROUP BY branch");
              for (const b of perBranch) assert.equal(Number(b.n), 1, `one running push of ${b.branch}`);
            }
            // Finish some now, all when nothing is claimable, so that waiting pushes become claimable.
            if (!c || Math.random() < 0.5) {
              for (const id of held.splice(0)) assert.equal(await finishDeploymentFenced(h, id, me, 'succeeded', null, iso()), true);
            }
            if (!c && (await openDeployments(h)).queued === 0) return;
            if (!c) await sleep(1);
          }
          throw new Error(`${me} did not finish`);
        };
        await Promise.all([claimer(db, 'a1'), claimer(db, 'a2'), claimer(other, 'b1'), claimer(other, 'b2')]);
        const claimed = got.map((g) => g.id).sort((a, b) => a - b);
        assert.deepEqual(claimed, ids, 'each deployment claimed exactly once');
        for (const g of got) {
          const r = await depRow(db, g.id);
          assert.equal(r.lease_owner, g.by, `deployment ${g.id} leased to the claimer that got it`);
          assert.equal(r.lease_attempt, 1);
          assert.equal(r.status, 'succeeded');
        }
        // Per branch, pushes were claimed in id order.
        for (const b of new Set(branchOf.values())) {
          const order = got.map((g) => g.id).filter((id) => branchOf.get(id) === b);
          assert.deepEqual(order, [...order].sort((x, y) => x - y), `pushes of ${b} in order`);
        }
      });

      test('only the lease holder sees and ends its deployment: a reaped coordinator is fenced out', async () => {
        const db = await store.fresh();
        const d = await addDeployment(db, 'main', sync('m/prod/web'));
        assert.deepEqual(await claimDeployment(db, 'w1', 30), { id: d, attempt: 1 });
        assert.equal(await holdsDeployment(db, d, 'w1'), true);
        assert.equal(await holdsDeployment(db, d, 'w2'), false);
        await expireDeployment(db, d);
        await reapExpired(db);
        assert.equal(await holdsDeployment(db, d, 'w1'), false, 'reaped: w1 holds it no more');
        assert.deepEqual(await claimDeployment(db, 'w2', 30), { id: d, attempt: 2 });
        assert.equal(await finishDeploymentFenced(db, d, 'w1', 'failed', 'late', iso()), false, 'the old coordinator cannot end it');
        assert.equal((await depRow(db, d)).status, 'running');
        assert.equal(await finishDeploymentFenced(db, d, 'w2', 'succeeded', null, iso()), true);
        assert.equal(await finishDeploymentFenced(db, d, 'w2', 'failed', 'twice', iso()), false, 'ended once');
        const r = await db.get<{ status: string; error: string | null; lease_until: string | null }>('SELECT status, error, lease_until FROM deployments WHERE id = ?', [d]);
        assert.deepEqual(r, { status: 'succeeded', error: null, lease_until: null });
      });
    });

    describe('claimHostPushes', () => {
      test('claims only queued pending rows, oldest first, up to free, and records the lease and attempt 1', async () => {
        const db = await store.fresh();
        const d = await addDeployment(db, 'main', sync('m/prod/web'));
        const queued = await addHosts(db, d, 'm/prod/web', [1, 2, 3].map((i) => ({ ip: `10.0.0.${i}`, dc: null })));
        const notYet = await addHosts(db, d, 'm/prod/web', [{ ip: '10.0.0.9', dc: null }], false);
        const closed = await addHosts(db, d, 'm/prod/web', [{ ip: '10.0.0.8', dc: null }]);
        await skipHostPush(db, closed[0]!, 'rollout stopped', iso());
        assert.deepEqual(Object.fromEntries(await queueDepth(db)), { '': 3 });
        assert.deepEqual(await claimHostPushes(db, 'w1', 30, { dc: null, free: 0, dcCap: 10 }), [], 'free 0 claims nothing');
        const before = await dbNow(db);
        const got = await claimHostPushes(db, 'w1', 30, { dc: null, free: 2, dcCap: 10 });
        assert.deepEqual(got.map((g) => g.id), queued.slice(0, 2));
        assert.deepEqual(got[0], { id: queued[0], deploymentId: d, unit: 'm/prod/web', ip: '10.0.0.1', hostname: null, port: null, user: null, attempt: 1, dc: null });
        for (const g of got) {
          const r = await hostRow(db, g.id);
          assert.equal(r.status, 'running');
          assert.equal(r.lease_owner, 'w1');
          assert.equal(r.attempt, 1);
          assert.ok((r.started_at as string) >= before);
          assert.ok(r.lease_until! > (await dbNow(db, 25)), 'lease about 30 s ahead');
        }
        assert.deepEqual((await claimHostPushes(db, 'w2', 30, { dc: null, free: 10, dcCap: 10 })).map((g) => g.id), [queued[2]]);
        assert.deepEqual(await claimHostPushes(db, 'w2', 30, { dc: null, free: 10, dcCap: 10 }), [], 'an unqueued row is never claimed');
        assert.equal((await hostRow(db, notYet[0]!)).status, 'pending');
        assert.equal((await hostRow(db, closed[0]!)).status, 'skipped');
        await queueHostPushes(db, notYet);
        assert.deepEqual((await claimHostPushes(db, 'w2', 30, { dc: null, free: 10, dcCap: 10 })).map((g) => g.id), notYet, 'claimable once queued');
      });

      test('a worker takes hosts of its data centre and hosts without one; a worker without a data centre takes any', async () => {
        const db = await store.fresh();
        const d = await addDeployment(db, 'main', sync('m/prod/web'));
        const [bx1, wgq1, none1, bx2, wgq2] = await addHosts(db, d, 'm/prod/web', [
          { ip: '10.0.0.1', dc: 'bx' }, { ip: '10.0.0.2', dc: 'wgq' }, { ip: '10.0.0.3', dc: null }, { ip: '10.0.0.4', dc: 'bx' }, { ip: '10.0.0.5', dc: 'wgq' }]);
        assert.deepEqual(Object.fromEntries(await queueDepth(db)), { '': 1, bx: 2, wgq: 2 });
        const bx = await claimHostPushes(db, 'wbx', 30, { dc: 'bx', free: 10, dcCap: 10 });
        assert.deepEqual(bx.map((g) => [g.id, g.dc]), [[bx1, 'bx'], [none1, null], [bx2, 'bx']]);
        assert.deepEqual(await claimHostPushes(db, 'wbx', 30, { dc: 'bx', free: 10, dcCap: 10 }), [], 'no wgq host for a bx worker');
        assert.deepEqual((await claimHostPushes(db, 'wany', 30, { dc: null, free: 1, dcCap: 10 })).map((g) => g.id), [wgq1]);
        assert.deepEqual((await claimHostPushes(db, 'wgq', 30, { dc: 'wgq', free: 10, dcCap: 10 })).map((g) => g.id), [wgq2]);
      });

      test('the per-DC cap counts running rows of every worker; hosts without a DC count as one DC of their own', async () => {
        const db = await store.fresh();
        const d = await addDeployment(db, 'main', sync('m/prod/web'));
        const bx = await addHosts(db, d, 'm/prod/web', [1, 2, 3, 4].map((i) => ({ ip: `10.1.0.${i}`, dc: 'bx' })));
        const none = await addHosts(db, d, 'm/prod/web', [1, 2, 3].map((i) => ({ ip: `10.9.0.${i}`, dc: null })));
        assert.deepEqual((await claimHostPushes(db, 'w1', 30, { dc: 'bx', free: 1, dcCap: 2 })).map((g) => g.id), [bx[0]]);
        // w2 may take 4, the DC only one more bx; the DC '' has room for 2.
        assert.deepEqual((await claimHostPushes(db, 'w2', 30, { dc: 'bx', free: 4, dcCap: 2 })).map((g) => g.id), [bx[1], none[0], none[1]]);
        assert.deepEqual(await claimHostPushes(db, 'w3', 30, { dc: null, free: 4, dcCap: 2 }), [], 'both DCs full');
        assert.deepEqual(Object.fromEntries(await runningPerDc(db)), { bx: 2, '': 2 });
        assert.equal(await finishHostPushFenced(db, { id: bx[0]!, owner: 'w1', attempt: 1 }, result('x'), null, iso()), true);
        assert.deepEqual((await claimHostPushes(db, 'w3', 30, { dc: null, free: 4, dcCap: 2 })).map((g) => g.id), [bx[2]], 'a finished row frees one slot');
      });

      test('a full DC does not starve the others: a worker claims hosts of a DC with room queued behind many of a full DC', async () => {
        const db = await store.fresh();
        const d = await addDeployment(db, 'main', sync('m/prod/web'));
        const bx = await addHosts(db, d, 'm/prod/web', [...Array(80).keys()].map((i) => ({ ip: `10.1.${i >> 8}.${i & 255}`, dc: 'bx' })));
        const wgq = await addHosts(db, d, 'm/prod/web', [1, 2].map((i) => ({ ip: `10.2.0.${i}`, dc: 'wgq' })));
        const none = await addHosts(db, d, 'm/prod/web', [1, 2].map((i) => ({ ip: `10.9.0.${i}`, dc: null })));
        assert.deepEqual((await claimHostPushes(db, 'w-any', 30, { dc: null, free: 2, dcCap: 2 })).map((g) => g.id), bx.slice(0, 2));
        // bx is full; 78 bx rows are queued ahead of the others: a worker of any DC takes wgq's and the DC-less ones.
        assert.deepEqual((await claimHostPushes(db, 'w-any', 30, { dc: null, free: 3, dcCap: 2 })).map((g) => g.id), [...wgq, none[0]]);
        // A bx worker takes the DC-less host left (its own DC is full).
        assert.deepEqual((await claimHostPushes(db, 'w-bx', 30, { dc: 'bx', free: 5, dcCap: 2 })).map((g) => g.id), [none[1]]);
      });

      test('4 racing claimers in two processes never exceed the per-DC cap, and every row runs once', async () => {
        const db = await store.fresh();
        const handles = [db, db, await store.another(db), await store.another(db)];
        const dcs = ['bx', 'bx', 'wgq', null] as const;
        const DC_CAP = 3;
        const FREE = 5;
        const d = await addDeployment(db, 'main', sync('m/prod/web'));
        const hosts = [...Array(36).keys()].map((i) => ({ ip: `10.2.${i % 3}.${i}`, dc: (['bx', 'wgq', null] as const)[i % 3] ?? null }));
        const all = await addHosts(db, d, 'm/prod/web', hosts);
        const peak = new Map<string, number>();
        const ranBy = new Map<number, string>();
        const claimer = async (i: number) => {
          const h = handles[i]!;
          const me = `w${i}`;
          const held: ClaimedHostPush[] = [];
          for (let spins = 0; spins < 20_000; spins++) {
            const got = await claimHostPushes(h, me, 30, { dc: dcs[i]!, free: FREE - held.length, dcCap: DC_CAP });
            for (const g of got) {
              assert.ok(dcs[i] === null || g.dc === null || g.dc === dcs[i], `${me} (${dcs[i]}) got a host of ${g.dc}`);
              assert.ok(!ranBy.has(g.id), `row ${g.id} claimed by ${ranBy.get(g.id)} and ${me}`);
              ranBy.set(g.id, me);
            }
            held.push(...got);
            assert.ok(held.length <= FREE, `${me} holds ${held.length} > ${FREE}`);
            for (const [dc, n] of await runningPerDc(h)) {
              assert.ok(n <= DC_CAP, `${n} running in DC '${dc}' (cap ${DC_CAP})`);
              peak.set(dc, Math.max(peak.get(dc) ?? 0, n));
            }
            for (const c of shuffle(held).slice(0, got.length ? Math.floor(Math.random() * (held.length + 1)) : held.length)) {
              assert.equal(await finishHostPushFenced(h, { id: c.id, owner: me, attempt: c.attempt }, result(me), null, iso()), true);
              held.splice(held.indexOf(c), 1);
            }
            if (!got.length) {
              if (!held.length && !(await h.get("SELECT 1 AS x FROM host_pushes WHERE status = 'pending'"))) return;
              await sleep(1);
            }
          }
          throw new Error(`${me} did not finish`);
        };
        await Promise.all([0, 1, 2, 3].map(claimer));
        assert.equal(ranBy.size, all.length, 'every row claimed once');
        for (const id of all) {
          const r = await hostRow(db, id);
          assert.equal(r.status, 'succeeded');
          assert.equal(r.attempt, 1, `row ${id} ran once`);
          assert.equal(r.reason, ranBy.get(id), 'recorded by the worker that claimed it');
        }
        assert.deepEqual(Object.fromEntries(peak), { bx: DC_CAP, wgq: DC_CAP, '': DC_CAP }, 'the cap was reached in every DC (and never passed)');
      });

      test('never two running rows of the same unit and host; the next one is claimable when the first ends', async () => {
        const db = await store.fresh();
        const d1 = await addDeployment(db, 'main', sync('m/prod/web'));
        const d2 = await addDeployment(db, 'main', sync('m/prod/web'));
        const [a1, a2] = await addHosts(db, d1, 'm/prod/web', [{ ip: '10.0.0.1', dc: null }, { ip: '10.0.0.2', dc: null }]);
        const [b1] = await addHosts(db, d2, 'm/prod/web', [{ ip: '10.0.0.1', dc: null }, { ip: '10.0.0.2', dc: null }]);
        const [c1] = await addHosts(db, d2, 'm/prod/api', [{ ip: '10.0.0.1', dc: null }]);
        // One claim sees both rows of a unit+host: it takes the older only.
        assert.deepEqual((await claimHostPushes(db, 'w1', 30, { dc: null, free: 10, dcCap: 10 })).map((g) => g.id), [a1, a2, c1]);
        assert.deepEqual(await claimHostPushes(db, 'w2', 30, { dc: null, free: 10, dcCap: 10 }), [], 'b1/b2 wait for a1/a2');
        assert.equal(await finishHostPushFenced(db, { id: a1!, owner: 'w1', attempt: 1 }, result('a1'), null, iso()), true);
        assert.deepEqual((await claimHostPushes(db, 'w2', 30, { dc: null, free: 10, dcCap: 10 })).map((g) => g.id), [b1]);
        await expireHost(db, a2!);
        await reapExpired(db);
        assert.deepEqual((await claimHostPushes(db, 'w2', 30, { dc: null, free: 10, dcCap: 10 })).map((g) => g.id), [a2], 'the reaped a2 goes before b2');
        const dup = await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM (SELECT unit, ip FROM host_pushes WHERE status = 'running' GROUP BY unit, ip HAVING COUNT(*) > 1) x");
        assert.equal(Number(dup?.n), 0);
      });

      test('preferred hosts (warm connections) are claimed first, the rest in id order', async () => {
        const db = await store.fresh();
        const d = await addDeployment(db, 'main', sync('m/prod/web'));
        const ids = await addHosts(db, d, 'm/prod/web', [1, 2, 3, 4, 5, 6].map((i) => ({ ip: `10.0.0.${i}`, dc: null })));
        const got = await claimHostPushes(db, 'w1', 30, { dc: null, free: 2, dcCap: 10, prefer: new Set(['10.0.0.5', '10.0.0.3', '10.9.9.9']) });
        assert.deepEqual(got.map((g) => g.ip), ['10.0.0.3', '10.0.0.5'], 'returned in id order');
        const next = await claimHostPushes(db, 'w1', 30, { dc: null, free: 3, dcCap: 10, prefer: new Set(['10.0.0.6']) });
        assert.deepEqual(next.map((g) => g.id), [ids[0], ids[1], ids[5]]);
      });

      test('a host\'s next push waits briefly for the live worker that pushed it last (warm connection); a dead one is not waited for', async () => {
        const db = await store.fresh();
        const node = (id: string) => ({ id, role: 'worker', dc: null });
        const d1 = await addDeployment(db, 'main', sync('m/prod/web'));
        const [a1, b1] = await addHosts(db, d1, 'm/prod/web', [{ ip: '10.0.0.1', dc: null }, { ip: '10.0.0.2', dc: null }]);
        // w1 pushes .1, w2 pushes .2; both are alive (heartbeats).
        const c1 = await claimHostPushes(db, 'w1', 30, { dc: null, free: 1, dcCap: 10 });
        const c2 = await claimHostPushes(db, 'w2', 30, { dc: null, free: 1, dcCap: 10 });
        assert.deepEqual([c1[0]!.id, c2[0]!.id], [a1, b1]);
        for (const [id, w] of [[a1!, 'w1'], [b1!, 'w2']] as const) assert.equal(await finishHostPushFenced(db, { id, owner: w, attempt: 1 }, result(w), null, iso()), true);
        await heartbeat(db, node('w1'), 30);
        await heartbeat(db, node('w2'), 30);
        const d2 = await addDeployment(db, 'main', sync('m/prod/web'));
        const [a2, b2] = await addHosts(db, d2, 'm/prod/web', [{ ip: '10.0.0.1', dc: null }, { ip: '10.0.0.2', dc: null }]);
        // w2 asks for everything: it gets its own host only; .1 is left to w1 for the grace.
        const w2 = await claimHostPushes(db, 'w2', 30, { dc: null, free: 5, dcCap: 10, affinitySeconds: 30 });
        assert.deepEqual(w2.map((g) => g.id), [b2]);
        const w1 = await claimHostPushes(db, 'w1', 30, { dc: null, free: 5, dcCap: 10, affinitySeconds: 30 });
        assert.deepEqual(w1.map((g) => g.id), [a2]);
        // Next round: w1 is dead (no heartbeat for longer than the lease): w2 takes .1 at once.
        const d3 = await addDeployment(db, 'main', sync('m/prod/web'));
        for (const [id, w] of [[a2!, 'w1'], [b2!, 'w2']] as const) assert.equal(await finishHostPushFenced(db, { id, owner: w, attempt: 1 }, result(w), null, iso()), true);
        const [a3] = await addHosts(db, d3, 'm/prod/web', [{ ip: '10.0.0.1', dc: null }]);
        assert.deepEqual((await claimHostPushes(db, 'w2', 30, { dc: null, free: 5, dcCap: 10, affinitySeconds: 30 })).map((g) => g.id), [], 'w1 alive: left to it');
        await db.run("UPDATE cluster_nodes SET seen_at = ? WHERE id = 'w1'", [PAST]);
        assert.deepEqual((await claimHostPushes(db, 'w2', 30, { dc: null, free: 5, dcCap: 10, affinitySeconds: 30 })).map((g) => g.id), [a3]);
      });

      test('skip closes only a pending row; requeue runs only a failed row again, as the next attempt', async () => {
        const db = await store.fresh();
        const d = await addDeployment(db, 'main', sync('m/prod/web'));
        const [r1, r2] = await addHosts(db, d, 'm/prod/web', [{ ip: '10.0.0.1', dc: null }, { ip: '10.0.0.2', dc: null }]);
        await claimHostPushes(db, 'w1', 30, { dc: null, free: 1, dcCap: 10 });
        await skipHostPush(db, r1!, 'stopped', iso());
        assert.equal((await hostRow(db, r1!)).status, 'running', 'a claimed row is not skipped');
        await skipHostPush(db, r2!, 'stopped', iso());
        assert.equal((await hostRow(db, r2!)).status, 'skipped');
        await requeueHostPush(db, r2!);
        assert.equal((await hostRow(db, r2!)).status, 'skipped', 'a skipped row is not re-queued');
        assert.equal(await finishHostPushFenced(db, { id: r1!, owner: 'w1', attempt: 1 }, result('down', 'failed'), null, iso()), true);
        await requeueHostPush(db, r1!);
        const again = await hostRow(db, r1!);
        assert.deepEqual([again.status, again.finished_at, again.attempt], ['pending', null, 1]);
        const c = await claimHostPushes(db, 'w2', 30, { dc: null, free: 5, dcCap: 10 });
        assert.deepEqual(c.map((g) => [g.id, g.attempt]), [[r1, 2]]);
      });
    });

    describe('lease expiry and heartbeats', () => {
      test('an expired lease (1 s) is reaped: host rows back to pending with their attempt, deployments back to queued, unit runs dropped', async () => {
        const db = await store.fresh();
        const d = await addDeployment(db, 'main', sync('m/prod/web'));
        const [h1, h2] = await addHosts(db, d, 'm/prod/web', [{ ip: '10.0.0.1', dc: 'bx' }, { ip: '10.0.0.2', dc: null }]);
        assert.deepEqual(await claimDeployment(db, 'w1', 1), { id: d, attempt: 1 });
        assert.equal(await acquireUnitRun(db, 'm/prod/web', d, 'w1', 1), true);
        assert.equal((await claimHostPushes(db, 'w1', 1, { dc: null, free: 5, dcCap: 5 })).length, 2);
        const early = await reapExpired(db);
        assert.deepEqual(early, { hosts: [], deployments: [], unitRuns: 0 }, 'nothing expired yet');
        await sleep(1200);
        const r = await reapExpired(db);
        assert.deepEqual(r.hosts.sort((a, b) => a.id - b.id), [{ id: h1, dc: 'bx' }, { id: h2, dc: null }]);
        assert.deepEqual(r.deployments, [d]);
        assert.equal(r.unitRuns, 1);
        for (const id of [h1!, h2!]) {
          const row = await hostRow(db, id);
          assert.deepEqual([row.status, row.lease_owner, row.lease_until, row.attempt], ['pending', null, null, 1]);
        }
        const dep = await depRow(db, d);
        assert.deepEqual([dep.status, dep.lease_owner, dep.lease_until, dep.lease_attempt], ['queued', null, null, 1]);
        assert.equal(await db.get('SELECT unit FROM unit_runs'), undefined);
        assert.deepEqual(await reapExpired(db), { hosts: [], deployments: [], unitRuns: 0 }, 'reaped once');
        // Re-queued rows are claimable again, as the next attempt.
        assert.deepEqual((await claimHostPushes(db, 'w2', 30, { dc: null, free: 5, dcCap: 5 })).map((g) => g.attempt), [2, 2]);
        assert.deepEqual(await claimDeployment(db, 'w2', 30), { id: d, attempt: 2 });
      });

      test('a heartbeat before expiry keeps every lease of its owner (deployments, host rows, unit runs); others expire', async () => {
        const db = await store.fresh();
        const d = await addDeployment(db, 'main', sync('m/prod/web'));
        const [a1, a2, b1] = await addHosts(db, d, 'm/prod/web', [1, 2, 3].map((i) => ({ ip: `10.0.0.${i}`, dc: null })));
        await claimDeployment(db, 'A', 1);
        assert.equal(await acquireUnitRun(db, 'm/prod/web', d, 'A', 1), true);
        assert.equal((await claimHostPushes(db, 'A', 1, { dc: null, free: 2, dcCap: 5 })).length, 2);
        assert.equal((await claimHostPushes(db, 'B', 1, { dc: null, free: 2, dcCap: 5 })).length, 1);
        const hb = await heartbeat(db, node('A', 'bx'), 30);
        assert.deepEqual([...hb.deployments], [d]);
        assert.deepEqual([...hb.hosts].sort((x, y) => x - y), [a1, a2]);
        const held = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM unit_runs WHERE owner = 'A' AND lease_until > ${dbTime(db, 20)}`);
        assert.equal(Number(held?.n), 1, 'the unit run extended too');
        await sleep(1200);
        const r = await reapExpired(db);
        assert.deepEqual(r, { hosts: [{ id: b1, dc: null }], deployments: [], unitRuns: 0 }, 'only B (no heartbeat) expired');
        assert.equal((await hostRow(db, a1!)).status, 'running');
        assert.equal((await depRow(db, d)).status, 'running');
        assert.equal(await acquireUnitRun(db, 'm/prod/web', d + 1, 'B', 30), false, 'A still holds the unit');
        assert.deepEqual((await liveNodes(db, 60)).map((n) => [n.id, n.role, n.dc]), [['A', 'worker', 'bx']]);
      });

      test('a heartbeat answers only the ids its owner still holds (finished, reaped and re-claimed ones are gone)', async () => {
        const db = await store.fresh();
        const d1 = await addDeployment(db, 'main', sync('m/prod/web'));
        const d2 = await addDeployment(db, 'main', sync('m/prod/api'));
        const [a, b, c] = await addHosts(db, d1, 'm/prod/web', [1, 2, 3].map((i) => ({ ip: `10.0.0.${i}`, dc: null })));
        await claimDeployment(db, 'A', 30);
        await claimDeployment(db, 'A', 30);
        await claimHostPushes(db, 'A', 30, { dc: null, free: 3, dcCap: 5 });
        assert.deepEqual((await heartbeat(db, node('A'), 30)).hosts, new Set([a, b, c]));
        assert.equal(await finishHostPushFenced(db, { id: a!, owner: 'A', attempt: 1 }, result('a'), null, iso()), true);
        await expireHost(db, b!);
        await expireDeployment(db, d2);
        await reapExpired(db);
        assert.deepEqual((await claimHostPushes(db, 'B', 30, { dc: null, free: 3, dcCap: 5 })).map((g) => g.id), [b]);
        const hb = await heartbeat(db, node('A'), 30);
        assert.deepEqual(hb, { deployments: new Set([d1]), hosts: new Set([c]) });
        assert.deepEqual(await heartbeat(db, node('B'), 30), { deployments: new Set(), hosts: new Set([b]) });
        assert.deepEqual(await heartbeat(db, node('C'), 30), { deployments: new Set(), hosts: new Set() }, 'an owner of nothing');
      });
    });

    describe('fencing', () => {
      test('after a reap and a re-claim, the stale attempt records nothing; the new attempt records once', async () => {
        const db = await store.fresh();
        const other = await store.another(db);
        const d = await addDeployment(db, 'main', sync('m/prod/web'));
        const [id] = await addHosts(db, d, 'm/prod/web', [{ ip: '10.0.0.1', dc: null }]);
        await db.tx((q) => setHostCommit(q, 'm/prod/web', '10.0.0.1', 'old', d, '2026-01-01T00:00:00.000Z'));
        const commitRow = () => db.get<{ commit_sha: string; deployed_at: string; deployment_id: number }>(
          "SELECT commit_sha, deployed_at, deployment_id FROM unit_hosts WHERE unit = 'm/prod/web' AND ip = '10.0.0.1'");
        const oldCommit = await commitRow();
        const [first] = await claimHostPushes(db, 'A', 30, { dc: null, free: 1, dcCap: 5 });
        assert.equal(first?.attempt, 1);
        await expireHost(db, id!);
        await reapExpired(db);
        // Reaped and not claimed again yet: the late worker records nothing either.
        const pending = await hostRow(db, id!);
        assert.equal(await finishHostPushFenced(db, { id: id!, owner: 'A', attempt: 1 }, result('late'), { unit: 'm/prod/web', ip: '10.0.0.1', commit: 'aaa', deploymentId: d }, iso()), false);
        assert.deepEqual(await hostRow(db, id!), pending);
        const [second] = await claimHostPushes(other, 'B', 30, { dc: null, free: 1, dcCap: 5 });
        assert.deepEqual([second?.id, second?.attempt], [id, 2]);
        const claimed = await hostRow(db, id!);
        assert.equal(await finishHostPushFenced(db, { id: id!, owner: 'A', attempt: 1 }, result('late'), { unit: 'm/prod/web', ip: '10.0.0.1', commit: 'aaa', deploymentId: d }, iso()), false);
        assert.deepEqual(await hostRow(db, id!), claimed, 'status, changes, everything untouched');
        assert.deepEqual(await commitRow(), oldCommit, "the host's commit untouched");
        // The new holder's owner with the old attempt is fenced too (the attempt, not only the owner, decides).
        assert.equal(await finishHostPushFenced(db, { id: id!, owner: 'B', attempt: 1 }, result('late'), null, iso()), false);
        const fin = { unit: 'm/prod/web', ip: '10.0.0.1', commit: 'bbb', deploymentId: d };
        assert.equal(await finishHostPushFenced(other, { id: id!, owner: 'B', attempt: 2 }, result('b2'), fin, iso()), true);
        const done = await hostRow(db, id!);
        assert.deepEqual([done.status, done.reason, JSON.parse(done.changes as string), done.attempt], ['succeeded', 'b2', ['/etc/b2.conf'], 2]);
        const committed = await commitRow();
        assert.equal(committed?.commit_sha, 'bbb');
        await sleep(5);
        assert.equal(await finishHostPushFenced(other, { id: id!, owner: 'B', attempt: 2 }, result('b2'), fin, iso()), false, 'the same finish again is refused');
        assert.deepEqual(await hostRow(db, id!), done, 'not recorded twice');
        assert.deepEqual(await commitRow(), committed);
      });

      test('a worker that re-claims its own reaped row is fenced by the attempt for its old run', async () => {
        const db = await store.fresh();
        const d = await addDeployment(db, 'main', sync('m/prod/web'));
        const [id] = await addHosts(db, d, 'm/prod/web', [{ ip: '10.0.0.1', dc: null }]);
        await claimHostPushes(db, 'A', 30, { dc: null, free: 1, dcCap: 5 });
        await expireHost(db, id!);
        await reapExpired(db);
        assert.deepEqual((await claimHostPushes(db, 'A', 30, { dc: null, free: 1, dcCap: 5 })).map((g) => g.attempt), [2]);
        assert.equal(await finishHostPushFenced(db, { id: id!, owner: 'A', attempt: 1 }, result('old', 'failed'), null, iso()), false);
        assert.equal((await hostRow(db, id!)).status, 'running');
        assert.equal(await finishHostPushFenced(db, { id: id!, owner: 'A', attempt: 2 }, result('new'), null, iso()), true);
        assert.equal((await hostRow(db, id!)).reason, 'new');
      });
    });

    describe('one run per unit', () => {
      test('two owners in two processes: exactly one gets the unit; the other gets it after release', async () => {
        const db = await store.fresh();
        const other = await store.another(db);
        for (let round = 0; round < 5; round++) {
          const unit = `m/prod/u${round}`;
          const [a, b] = await Promise.all([acquireUnitRun(db, unit, 10, 'A', 30), acquireUnitRun(other, unit, 20, 'B', 30)]);
          assert.equal(Number(a) + Number(b), 1, `round ${round}: exactly one of A (${a}) and B (${b})`);
          const [win, winDep, winDb, lose, loseDep, loseDb] = a ? ['A', 10, db, 'B', 20, other] as const : ['B', 20, other, 'A', 10, db] as const;
          assert.equal(await acquireUnitRun(loseDb, unit, loseDep, lose, 30), false, 'still held');
          assert.equal(await acquireUnitRun(winDb, unit, winDep, win, 30), true, 'the same deployment may take it again');
          await releaseUnitRun(loseDb, unit, loseDep, lose);
          assert.equal(await acquireUnitRun(loseDb, unit, loseDep, lose, 30), false, "the loser's release frees nothing");
          await releaseUnitRun(winDb, unit, loseDep, win);
          assert.equal(await acquireUnitRun(loseDb, unit, loseDep, lose, 30), false, 'a release names the deployment it holds');
          await releaseUnitRun(winDb, unit, winDep, win);
          assert.equal(await acquireUnitRun(loseDb, unit, loseDep, lose, 30), true, 'free after the release');
          const r = await db.get<{ deployment_id: number; owner: string }>('SELECT deployment_id, owner FROM unit_runs WHERE unit = ?', [unit]);
          assert.deepEqual(r, { deployment_id: loseDep, owner: lose });
        }
      });

      test('an expired unit run goes to the next owner (before and after the reaper); a resumed deployment takes it over once it expired', async () => {
        const db = await store.fresh();
        assert.equal(await acquireUnitRun(db, 'm/prod/web', 1, 'A', 30), true);
        assert.equal(await acquireUnitRun(db, 'm/prod/web', 2, 'B', 30), false);
        await db.run('UPDATE unit_runs SET lease_until = ?', [PAST]);
        assert.equal(await acquireUnitRun(db, 'm/prod/web', 2, 'B', 30), true, 'an expired holder does not block (no reap needed)');
        await db.run('UPDATE unit_runs SET lease_until = ?', [PAST]);
        assert.equal((await reapExpired(db)).unitRuns, 1);
        assert.equal(await acquireUnitRun(db, 'm/prod/web', 3, 'C', 1), true);
        // Deployment 3's coordinator died: its unit run expires with the deployment's lease (one heartbeat renews
        // both); the process that resumes deployment 3 takes the unit then, not before (two owners never share a run).
        assert.equal(await acquireUnitRun(db, 'm/prod/web', 3, 'D', 30), false, "not while C's lease lives");
        await db.run('UPDATE unit_runs SET lease_until = ?', [PAST]);
        assert.equal(await acquireUnitRun(db, 'm/prod/web', 3, 'D', 30), true);
        assert.deepEqual(await db.get('SELECT deployment_id, owner FROM unit_runs'), { deployment_id: 3, owner: 'D' });
        await releaseUnitRun(db, 'm/prod/web', 3, 'C');
        assert.equal(await acquireUnitRun(db, 'm/prod/web', 4, 'E', 30), false, "the dead owner's late release frees nothing");
      });
    });

    describe('coalescing', () => {
      test('waitingPush and waitingSame ignore a deployment the reaper re-queued', async () => {
        const db = await store.fresh();
        const req = sync('m/prod/web');
        const p = await addDeployment(db, 'main', push());
        const s = await addDeployment(db, 'main', req);
        assert.equal(await waitingPush(db, 'main'), p);
        assert.equal(await waitingSame(db, req), s);
        assert.equal(await waitingPush(db, 'dev'), undefined);
        await claimDeployment(db, 'A', 30);
        await claimDeployment(db, 'A', 30);
        assert.equal(await waitingPush(db, 'main'), undefined, 'running: nothing waits');
        assert.equal(await waitingSame(db, req), undefined);
        await expireDeployment(db, p);
        await expireDeployment(db, s);
        assert.deepEqual((await reapExpired(db)).deployments.sort((a, b) => a - b), [p, s]);
        assert.equal((await depRow(db, p)).status, 'queued');
        // Queued again, but part-done (its rows record progress): a new request must not join it.
        assert.equal(await waitingPush(db, 'main'), undefined);
        assert.equal(await waitingSame(db, req), undefined);
        const p2 = await addDeployment(db, 'main', push('b'.repeat(40)));
        const s2 = await addDeployment(db, 'main', req);
        assert.equal(await waitingPush(db, 'main'), p2);
        assert.equal(await waitingSame(db, req), s2);
      });
    });
  });
}

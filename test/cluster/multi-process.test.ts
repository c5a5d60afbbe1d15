// Issue 19: several gitfleet processes on one PostgreSQL database, on a real fleet (rsync over sshd). Two API
// processes and three workers in two data centres (bx ×2, wgq ×1): every host is pushed exactly once, by a worker
// of its own data centre; kill -9 of the process coordinating a running deployment at about half way → another
// worker finishes it, each host right, no host push recorded twice, the host rows complete.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openPostgres } from '../../server/src/db/postgres.js';
import type { Db } from '../../server/src/db/connection.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { freePort } from '../helpers/net.js';
import { requirePostgres, testPostgres } from '../helpers/postgres.js';
import { exited } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { deliver, gitlabPush } from '../helpers/webhooks.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

interface Proc { name: string; role: string; dc?: string; url: string; child: ChildProcess; err: string[]; out: string[] }

if (requirePostgres()) {
  describe('scale-out: 2 API processes + 3 workers in two data centres on one PostgreSQL', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    let fleet: Fleet;
    let fx: GitFixture;
    let dbUrl: string;
    let db: Db;
    let configFile: string;
    const procs: Proc[] = [];
    // By name: procs is in the order the processes came up, and four of them start at once.
    const named = (name: string) => procs.find((p) => p.name === name)!;
    const dcOf = new Map<string, string>();
    let firstId = 0;

    const spawnNode = async (name: string, role: string, dc?: string, config = configFile): Promise<Proc> => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const args = ['--import', 'tsx', 'server/src/main.ts', '--config', config, '--role', role, ...(dc ? ['--dc', dc] : [])];
      const child = spawn(process.execPath, args, {
        cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, GITFLEET_PORT: String(port), GITFLEET_DATA_DIR: join(tmp.path, `data-${name}`) },
      });
      const p: Proc = { name, role, dc, url, child, err: [], out: [] };
      child.stderr!.on('data', (c: Buffer) => { p.err.push(c.toString()); });
      child.stdout!.on('data', (c: Buffer) => { p.out.push(c.toString()); });
      await until(`${name} to listen`, async () => ((await fetch(`${url}/healthz`).catch(() => undefined))?.ok ? true : undefined), 60_000)
        .catch((e: Error) => { throw new Error(`${e.message}: ${p.err.join('')}`); });
      procs.push(p);
      return p;
    };
    const api = async (p: Proc, path: string, init?: { method?: string; body?: unknown }) => {
      const r = await fetch(p.url + path, { method: init?.method ?? 'GET', headers: { 'content-type': 'application/json' }, body: init?.body === undefined ? undefined : JSON.stringify(init.body) });
      return { status: r.status, body: await r.json() as any };
    };
    /** Host push rows of a deployment with the node that holds/held each (lease_owner) and that node's data centre. */
    const rows = (id: number) => db.all<{ ip: string; status: string; attempt: number; lease_owner: string | null; dc: string | null; node_dc: string | null; node_role: string | null }>(
      `SELECT hp.ip, hp.status, hp.attempt, hp.lease_owner, hp.dc, n.dc AS node_dc, n.role AS node_role
         FROM host_pushes hp LEFT JOIN cluster_nodes n ON n.id = hp.lease_owner WHERE hp.deployment_id = ? ORDER BY hp.ip`, [id]);
    const pidOf = (owner: string) => Number(owner.split(':')[1]);
    /** The most hook runs of one data centre's hosts that overlapped in time (from the hosts' own records). */
    const maxOverlap = async (dc: string, since: Map<string, number>) => {
      const spans: Array<[number, number]> = [];
      for (const ip of fleet.ips.filter((x) => dcOf.get(x) === dc)) {
        for (const line of (await reloads(ip)).slice(since.get(ip))) {
          const [a, b] = line.split(' ').map(Number);
          spans.push([a!, b!]);
        }
      }
      return Math.max(0, ...spans.map(([a]) => spans.filter(([x, y]) => x <= a && a < y).length));
    };
    const reloads = async (ip: string) => (await readFile(fleet.path(ip, '/var/tmp/reloads'), 'utf8').catch(() => '')).split('\n').filter(Boolean);

    const leads = async (p: Proc) => /^gitfleet_leader\{[^}]*\} 1$/m.test(await (await fetch(`${p.url}/metrics`)).text());
    const alive = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;
    /** The API processes still running (requests go to them, never to a worker a test stops). */
    const apiNodes = () => procs.filter((p) => p.role === 'api' && alive(p));

    before(async () => {
      tmp = await tempDir('gf-cluster-');
      fleet = await startFleet(join(tmp.path, 'fleet'), 6);
      fleet.ips.forEach((ip, i) => dcOf.set(ip, i < 3 ? 'bx' : 'wgq'));
      fx = await createGitFixture(join(tmp.path, 'git'));
      // Each completed push runs the reload hook once: the host's own count of pushes that reached it.
      await fx.commit({
        'nginx/prod/shop/etc/shop.conf': 'v0\n',
        // The hook also records when it ran (hosts share this machine's clock): how many pushes of a data centre overlap.
        'nginx/prod/shop/.gitfleet.yaml': 'hooks:\n  reload: "s=$(date +%s%N); sleep 1; echo $s $(date +%s%N) >> /var/tmp/reloads"\n',
      });
      dbUrl = await (await testPostgres()).createDatabase('cluster');
      db = await openPostgres(dbUrl);
      configFile = join(tmp.path, 'gitfleet.yaml');
      await writeFile(configFile, [
        `db: { url: '${dbUrl}' }`,
        `repo: { url: ${fx.origin}, pollInterval: 0 }`,
        'server: { shutdownGrace: 2 }',
        'log: { level: info }',
        // Each worker could run 3 at once; the data centre's cap (deploy.concurrency) is 2.
        'cluster: { leaseSeconds: 3, pollMs: 200, workerConcurrency: 3 }',
        'deploy:',
        '  concurrency: 2',
        '  retries: 0',
        '  hostTimeout: 120',
        `  ssh: { identityFile: ${fleet.identityFile}, knownHostsFile: ${fleet.knownHostsFile}, connectTimeout: 30 }`,
      ].join('\n'));
      // The first process migrates the database; the others start side by side.
      await spawnNode('api1', 'api');
      await Promise.all([spawnNode('api2', 'api'), spawnNode('bx1', 'worker', 'bx'), spawnNode('bx2', 'worker', 'bx'), spawnNode('wgq1', 'worker', 'wgq')]);
      for (const ip of fleet.ips) {
        const r = await api(apiNodes()[0]!, '/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['shop'], labels: { idc: dcOf.get(ip) } } });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    });

    after(async () => {
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await Promise.all(procs.map((p) => exited(p.child)));
      for (const ip of fleet?.ips ?? []) await fleet.resumeHost(ip).catch(() => undefined);
      await db?.close();
      await fleet?.down();
      await tmp?.cleanup();
    });

    const finished = (p: Proc, id: number) => until(`deployment ${id} to finish`, async () => {
      const d = (await api(p, `/api/v1/deployments/${id}`)).body;
      return ['succeeded', 'partial', 'failed', 'interrupted'].includes(d.status) ? d : undefined;
    }, 120_000).catch(async (err: Error) => {
      // What each process said (warnings and errors) and the rows: the failure's own account.
      const said = procs.map((x) => `${x.name}: ${x.out.join('').split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-15).join('\n')}`).join('\n');
      const state = JSON.stringify({ deployment: await db.get('SELECT * FROM deployments WHERE id = ?', [id]), rows: await rows(id), units: await db.all('SELECT * FROM unit_runs') });
      throw new Error(`${err.message}\n${state}\n${said}`);
    });

    const idle = () => until('no deployment queued or running', async () => {
      const r = await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM deployments WHERE status IN ('queued', 'running')");
      return r!.n === 0 ? true : undefined;
    }, 120_000);

    it('a push to a unit spanning both data centres: every host once, each by a worker of its data centre', async () => {
      // New hosts converge first (debounced): each gets the unit once.
      await until('every new host converged', async () => ((await Promise.all(fleet.ips.map(reloads))).every((r) => r.length >= 1) ? true : undefined), 60_000);
      await idle();
      const before = new Map(await Promise.all(fleet.ips.map(async (ip) => [ip, (await reloads(ip)).length] as const)));
      const prev = await fx.head();
      const head = await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'v1\n' });
      // The webhook goes to the second API process; the first one answers the reads.
      const r = await deliver(`${named('api2').url}/webhooks/gitlab`, gitlabPush({ before: prev, after: head }));
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const id = r.body.queued[0] as number;
      firstId = id;
      const d = await finished(apiNodes()[0]!, id);
      assert.equal(d.status, 'succeeded', JSON.stringify(d));
      const got = await rows(id);
      assert.equal(got.length, 6, 'one host push row per host');
      for (const row of got) {
        assert.equal(row.status, 'succeeded', row.ip);
        assert.equal(row.attempt, 1, `${row.ip} pushed in one attempt`);
        assert.equal(row.dc, dcOf.get(row.ip), `${row.ip} labelled with its data centre`);
        assert.equal(row.node_role, 'worker', `${row.ip} pushed by a worker, not an API process`);
        assert.equal(row.node_dc, dcOf.get(row.ip), `${row.ip} pushed by a worker of its own data centre`);
        assert.equal(await readFile(fleet.path(row.ip, '/etc/shop.conf'), 'utf8'), 'v1\n');
        assert.equal((await reloads(row.ip)).length - before.get(row.ip)!, 1, `${row.ip}: reloaded once by this push, no second push`);
      }
      // The cap is per data centre across workers: bx has two workers that could each run 3, yet never more than 2 ran.
      assert.equal(await maxOverlap('bx', before), 2, 'bx: 2 host pushes at once, not more');
      assert.equal(await maxOverlap('wgq', before), 2, 'wgq: 2 host pushes at once, not more');
      const state = await db.get<{ last_commit: string }>("SELECT last_commit FROM unit_state WHERE unit = 'nginx/prod/shop'");
      assert.equal(state?.last_commit, head, 'the unit state advanced to the pushed commit');
    });

    it('the next push of each host goes to the worker that pushed it last (its SSH connection is warm)', async () => {
      await idle();
      const prev = await fx.head();
      const head = await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'v1b\n' });
      const id = (await deliver(`${apiNodes()[0]!.url}/webhooks/gitlab`, gitlabPush({ before: prev, after: head }))).body.queued[0] as number;
      assert.equal((await finished(apiNodes()[0]!, id)).status, 'succeeded');
      const last = new Map((await rows(firstId)).map((x) => [x.ip, x.lease_owner]));
      for (const row of await rows(id)) assert.equal(row.lease_owner, last.get(row.ip), `${row.ip}: pushed by the same worker as before`);
    });

    it('kill -9 of the process coordinating a running deployment at about half way: another worker finishes it', async () => {
      // A hung host holds the deployment open: bx's first host freezes; the others finish meanwhile.
      await idle();
      const stuck = fleet.ips[0]!;
      await fleet.pauseHost(stuck);
      const before = new Map(await Promise.all(fleet.ips.map(async (ip) => [ip, (await reloads(ip)).length] as const)));
      const prev = await fx.head();
      const head = await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'v2\n' });
      const r = await deliver(`${apiNodes()[0]!.url}/webhooks/gitlab`, gitlabPush({ before: prev, after: head }));
      const id = r.body.queued[0] as number;
      await until('the other hosts done, the hung host in flight', async () => {
        const got = await rows(id);
        const done = got.filter((x) => x.status === 'succeeded').length;
        return got.length === 6 && done === 5 && got.find((x) => x.ip === stuck)?.status === 'running' ? true : undefined;
      }, 60_000);
      const coord = await db.get<{ lease_owner: string }>('SELECT lease_owner FROM deployments WHERE id = ?', [id]);
      const victim = procs.find((p) => p.child.pid === pidOf(coord!.lease_owner))!;
      assert.ok(victim && victim.role === 'worker', 'a worker coordinates the deployment');
      // Kill the coordinator, and also whoever holds the hung host's push if that is another process.
      const holder = (await rows(id)).find((x) => x.ip === stuck)!.lease_owner!;
      victim.child.kill('SIGKILL');
      await exited(victim.child);
      const holderProc = procs.find((p) => p.child.pid === pidOf(holder));
      await fleet.resumeHost(stuck);
      const d = await finished(named('api2'), id);
      assert.equal(d.status, 'succeeded', JSON.stringify(d));
      const after = await db.get<{ lease_owner: string; lease_attempt: number }>('SELECT lease_owner, lease_attempt FROM deployments WHERE id = ?', [id]);
      assert.notEqual(after!.lease_owner, coord!.lease_owner, 'another process finished coordinating it');
      assert.equal(after!.lease_attempt, 2, 'claimed twice: once by the dead coordinator, once by its successor');
      const got = await rows(id);
      assert.equal(got.length, 6, 'the successor reused the host rows: no second row for any host');
      for (const row of got) {
        assert.equal(row.status, 'succeeded', row.ip);
        assert.equal(row.node_dc, dcOf.get(row.ip), `${row.ip} pushed by a worker of its data centre`);
        assert.equal(await readFile(fleet.path(row.ip, '/etc/shop.conf'), 'utf8'), 'v2\n', row.ip);
        const n = (await reloads(row.ip)).length - before.get(row.ip)!;
        if (row.ip !== stuck || holderProc !== victim) {
          // Hosts finished before the kill were not pushed again by the successor (no second attempt, one reload).
          assert.equal(row.attempt, 1, `${row.ip}: one attempt`);
          assert.equal(n, 1, `${row.ip}: reloaded once`);
        } else {
          // The hung host's worker died with it: its lease expired and another bx worker ran attempt 2.
          assert.equal(row.attempt, 2, `${row.ip}: a second attempt after the lease expired`);
          assert.ok(n >= 1 && n <= 2, `${row.ip}: reloaded by the attempt that completed (${n})`);
        }
      }
      // The cluster gets its process back (as pm2 would restart it) for what follows.
      await spawnNode(`${victim.name}-restarted`, victim.role, victim.dc);
    });

    it('a worker that stalls (SIGSTOP) past its lease: another worker runs attempt 2; the stalled one records nothing when it wakes', async () => {
      await idle();
      // Freeze a bx host so its push is in flight, then stall the worker holding it.
      const stuck = fleet.ips[1]!;
      await fleet.pauseHost(stuck);
      const prev = await fx.head();
      const head = await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'v3\n' });
      const id = (await deliver(`${apiNodes()[0]!.url}/webhooks/gitlab`, gitlabPush({ before: prev, after: head }))).body.queued[0] as number;
      const first = await until('the frozen host\'s push claimed', async () => (await rows(id)).find((x) => x.ip === stuck && x.status === 'running' && x.lease_owner) ?? undefined, 60_000);
      const stalled = procs.find((p) => p.child.pid === pidOf(first.lease_owner!) && p.child.exitCode === null)!;
      assert.equal(stalled.dc, 'bx');
      stalled.child.kill('SIGSTOP');
      try {
        const second = await until('attempt 2 claimed by another worker', async () => {
          const r = (await rows(id)).find((x) => x.ip === stuck)!;
          return r.attempt === 2 && r.status === 'running' && r.lease_owner !== first.lease_owner ? r : undefined;
        }, 30_000);
        assert.equal(second.node_dc, 'bx', 'taken over inside its data centre');
        await fleet.resumeHost(stuck);
        const d = await finished(apiNodes()[0]!, id);
        assert.equal(d.status, 'succeeded', JSON.stringify(d));
      } finally {
        await fleet.resumeHost(stuck);
        stalled.child.kill('SIGCONT');
      }
      const recorded = await db.get<{ attempt: number; lease_owner: string; finished_at: string; status: string }>(
        'SELECT attempt, lease_owner, finished_at, status FROM host_pushes WHERE deployment_id = ? AND ip = ?', [id, stuck]);
      assert.equal(recorded!.attempt, 2);
      assert.notEqual(recorded!.lease_owner, first.lease_owner, 'recorded by the worker that held attempt 2');
      // The stalled worker wakes: its heartbeat finds the lease gone (or its fenced write changes nothing).
      await until('the stalled worker notices', async () => (stalled.out.join('').includes('lease lost') ? true : undefined), 30_000)
        .catch((err: Error) => { throw new Error(`${err.message}; its stderr: ${stalled.err.join('').slice(-2000)}; its last log lines: ${stalled.out.join('').split('\n').slice(-12).join('\n')}`); });
      const again = await db.get<{ attempt: number; lease_owner: string; finished_at: string; status: string }>(
        'SELECT attempt, lease_owner, finished_at, status FROM host_pushes WHERE deployment_id = ? AND ip = ?', [id, stuck]);
      assert.deepEqual(again, recorded, 'the late worker changed nothing: the push is recorded once, by attempt 2');
      assert.equal((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM host_pushes WHERE deployment_id = ? AND ip = ?', [id, stuck]))!.n, 1);
      assert.equal(await readFile(fleet.path(stuck, '/etc/shop.conf'), 'utf8'), 'v3\n');
    });

    it('kill -9 of the leader: the other API node takes over polling within the lease time; a push made meanwhile deploys once', async () => {
      await idle();
      // The API nodes poll the repo every second (only the leader does): replace them by two that do.
      const polling = join(tmp.path, 'gitfleet-polling.yaml');
      await writeFile(polling, (await readFile(configFile, 'utf8')).replace('pollInterval: 0', 'pollInterval: 1'));
      for (const p of procs.filter((x) => x.role === 'api' && alive(x))) {
        p.child.kill('SIGTERM');
        await exited(p.child);
      }
      const [a, b] = [await spawnNode('api3', 'api', undefined, polling), await spawnNode('api4', 'api', undefined, polling)];
      const leader = await until('one API node leads', async () => {
        const l = [await leads(a), await leads(b)];
        return l.filter(Boolean).length === 1 ? (l[0] ? a : b) : undefined;
      }, 30_000);
      const other = leader === a ? b : a;
      const before = new Map(await Promise.all(fleet.ips.map(async (ip) => [ip, (await reloads(ip)).length] as const)));
      leader.child.kill('SIGKILL');
      await exited(leader.child);
      const killedAt = Date.now();
      // Pushed while nobody leads: no webhook, only the poller can find it.
      const head = await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'v4\n' });
      await until('the other node leads', async () => ((await leads(other)) ? true : undefined), 30_000);
      const tookMs = Date.now() - killedAt;
      assert.ok(tookMs <= 3000 + 1500, `leadership moved within the lease time (3 s) and a try: ${tookMs} ms`);
      const dep = await until('the poller\'s deployment of the new head', async () =>
        db.get<{ id: number; status: string; trigger: string }>("SELECT id, status, trigger FROM deployments WHERE after_sha = ? AND status NOT IN ('queued', 'running')", [head]), 60_000);
      assert.equal(dep.trigger, 'poller');
      assert.equal(dep.status, 'succeeded');
      const all = await db.all<{ id: number }>('SELECT id FROM deployments WHERE after_sha = ?', [head]);
      assert.equal(all.length, 1, 'one deployment of the new head');
      for (const row of await rows(dep.id)) {
        assert.equal(row.status, 'succeeded');
        assert.equal(row.attempt, 1);
        assert.equal(await readFile(fleet.path(row.ip, '/etc/shop.conf'), 'utf8'), 'v4\n');
        assert.equal((await reloads(row.ip)).length - before.get(row.ip)!, 1, `${row.ip}: deployed once`);
      }
    });

    it('SIGTERM of the coordinating worker: it exits within the grace, hands the deployment back at once, another finishes it', async () => {
      await idle();
      const stuck = fleet.ips[2]!;
      await fleet.pauseHost(stuck);
      const apiNode = procs.find((p) => p.role === 'api' && alive(p))!;
      const prev = await fx.head();
      const head = await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'v5\n' });
      const id = (await deliver(`${apiNode.url}/webhooks/gitlab`, gitlabPush({ before: prev, after: head }))).body.queued[0] as number;
      let victim: Proc;
      try {
        await until('the other hosts done, the hung host in flight', async () => {
          const got = await rows(id);
          return got.length === 6 && got.filter((x) => x.status === 'succeeded').length === 5 && got.find((x) => x.ip === stuck)?.status === 'running' ? true : undefined;
        }, 60_000);
        const coord = await db.get<{ lease_owner: string }>('SELECT lease_owner FROM deployments WHERE id = ?', [id]);
        victim = procs.find((p) => p.child.pid === pidOf(coord!.lease_owner) && alive(p))!;
        const t0 = Date.now();
        victim.child.kill('SIGTERM');
        const { code } = await exited(victim.child);
        assert.equal(code, 0);
        assert.ok(Date.now() - t0 < 15_000, 'exited within the grace (2 s) and closing');
        assert.match(victim.out.join(''), /handed over the deployments this process coordinated/);
        // Handed back at once: queued again (or already claimed by another worker), no lease expiry waited for.
        const now = await db.get<{ status: string; lease_owner: string | null }>('SELECT status, lease_owner FROM deployments WHERE id = ?', [id]);
        assert.ok(now!.status === 'queued' || now!.lease_owner !== coord!.lease_owner, JSON.stringify(now));
      } finally {
        await fleet.resumeHost(stuck);
      }
      const d = await finished(apiNode, id);
      assert.equal(d.status, 'succeeded', JSON.stringify(d));
      for (const row of await rows(id)) {
        assert.equal(row.status, 'succeeded', `${row.ip}: not recorded as aborted by the worker that stopped`);
        assert.equal(await readFile(fleet.path(row.ip, '/etc/shop.conf'), 'utf8'), 'v5\n');
      }
      assert.equal((await db.get<{ lease_attempt: number }>('SELECT lease_attempt FROM deployments WHERE id = ?', [id]))!.lease_attempt, 2);
    });
  });
}

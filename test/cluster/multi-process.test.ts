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

interface Proc { name: string; role: string; dc?: string; url: string; child: ChildProcess; err: string[] }

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

    const spawnNode = async (name: string, role: string, dc?: string): Promise<Proc> => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const args = ['--import', 'tsx', 'server/src/main.ts', '--config', configFile, '--role', role, ...(dc ? ['--dc', dc] : [])];
      const child = spawn(process.execPath, args, {
        cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, GITFLEET_PORT: String(port), GITFLEET_DATA_DIR: join(tmp.path, `data-${name}`) },
      });
      const p: Proc = { name, role, dc, url, child, err: [] };
      child.stderr!.on('data', (c: Buffer) => { p.err.push(c.toString()); });
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
    const reloads = async (ip: string) => (await readFile(fleet.path(ip, '/var/tmp/reloads'), 'utf8').catch(() => '')).split('\n').filter(Boolean);

    before(async () => {
      tmp = await tempDir('gf-cluster-');
      fleet = await startFleet(join(tmp.path, 'fleet'), 6);
      fleet.ips.forEach((ip, i) => dcOf.set(ip, i < 3 ? 'bx' : 'wgq'));
      fx = await createGitFixture(join(tmp.path, 'git'));
      // Each completed push runs the reload hook once: the host's own count of pushes that reached it.
      await fx.commit({
        'nginx/prod/shop/etc/shop.conf': 'v0\n',
        'nginx/prod/shop/.gitfleet.yaml': 'hooks:\n  reload: "echo $(date +%s%N) >> /var/tmp/reloads"\n',
      });
      dbUrl = await (await testPostgres()).createDatabase('cluster');
      db = await openPostgres(dbUrl);
      configFile = join(tmp.path, 'gitfleet.yaml');
      await writeFile(configFile, [
        `db: { url: '${dbUrl}' }`,
        `repo: { url: ${fx.origin}, pollInterval: 0 }`,
        'server: { shutdownGrace: 2 }',
        'log: { level: info }',
        'cluster: { leaseSeconds: 3, pollMs: 200 }',
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
        const r = await api(procs[0]!, '/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['shop'], labels: { idc: dcOf.get(ip) } } });
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
    }, 120_000);

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
      const d = await finished(procs[0]!, id);
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
      // Both bx workers took part or one did all: either way no host of bx went to the wgq worker (checked above).
      const state = await db.get<{ last_commit: string }>("SELECT last_commit FROM unit_state WHERE unit = 'nginx/prod/shop'");
      assert.equal(state?.last_commit, head, 'the unit state advanced to the pushed commit');
    });

    it('kill -9 of the process coordinating a running deployment at about half way: another worker finishes it', async () => {
      // A hung host holds the deployment open: bx's first host freezes; the others finish meanwhile.
      await idle();
      const stuck = fleet.ips[0]!;
      await fleet.pauseHost(stuck);
      const before = new Map(await Promise.all(fleet.ips.map(async (ip) => [ip, (await reloads(ip)).length] as const)));
      const prev = await fx.head();
      const head = await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'v2\n' });
      const r = await deliver(`${procs[0]!.url}/webhooks/gitlab`, gitlabPush({ before: prev, after: head }));
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
    });
  });
}

// The shipped ecosystem.config.js in its cluster layout, under real pm2 (its own PM2_HOME) on PostgreSQL: two API
// nodes and a worker per data centre come up online, and a sync through an API node is pushed by the workers.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openPostgres } from '../../server/src/db/postgres.js';
import type { Db } from '../../server/src/db/connection.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { freePort } from '../helpers/net.js';
import { requirePostgres, testPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const PM2 = join(ROOT, 'node_modules', '.bin', 'pm2');
const run = promisify(execFile);

if (requirePostgres()) {
  describe('pm2 cluster layout (GITFLEET_LAYOUT=cluster, shipped ecosystem.config.js)', { skip: (!existsSync(PM2) && 'pm2 is not installed (npm ci)') || (!existsSync(join(ROOT, 'server', 'dist', 'main.js')) && 'not built (npm run build)') }, () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    let fleet: Fleet;
    let fx: GitFixture;
    let db: Db;
    let env: NodeJS.ProcessEnv;
    let port: number;
    const pm2 = (...args: string[]) => run(PM2, args, { cwd: ROOT, env, timeout: 120_000 });

    before(async () => {
      tmp = await tempDir('gf-pm2-cluster-');
      fleet = await startFleet(join(tmp.path, 'fleet'), 2);
      fx = await createGitFixture(join(tmp.path, 'git'));
      await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'v1\n' });
      const url = await (await testPostgres()).createDatabase('pm2');
      db = await openPostgres(url);
      // Twelve ports from here on are the layout's: API nodes on port, port+1; workers from port+10.
      port = await freePort();
      const configFile = join(tmp.path, 'gitfleet.yaml');
      await writeFile(configFile, [
        `db: { url: '${url}' }`,
        `repo: { url: ${fx.origin}, pollInterval: 0 }`,
        'log: { level: info }',
        'cluster: { leaseSeconds: 3, pollMs: 200 }',
        'deploy:',
        '  retries: 0',
        `  ssh: { identityFile: ${fleet.identityFile}, knownHostsFile: ${fleet.knownHostsFile} }`,
      ].join('\n'));
      env = {
        ...process.env, PM2_HOME: join(tmp.path, 'pm2'), GITFLEET_CONFIG: configFile, GITFLEET_LAYOUT: 'cluster', GITFLEET_DCS: 'bx:1,wgq:1',
        GITFLEET_PORT: String(port), GITFLEET_DATA_DIR: join(tmp.path, 'data'),
      };
      await pm2('start', 'ecosystem.config.js');
    });

    after(async () => {
      await pm2('kill').catch(() => undefined);
      await db?.close();
      await fleet?.down();
      await tmp?.cleanup();
    });

    it('four processes online with their roles; a sync through an API node is pushed by the worker of each host\'s DC', async () => {
      const ports = [port, port + 1, port + 10, port + 11];
      await until('every process answers /healthz', async () => ((await Promise.all(ports.map((p) => fetch(`http://127.0.0.1:${p}/healthz`).then((r) => r.ok, () => false)))).every(Boolean) ? true : undefined), 90_000);
      const list = JSON.parse((await pm2('jlist')).stdout) as Array<{ name: string; pm2_env: { status: string } }>;
      assert.deepEqual(list.map((p) => [p.name, p.pm2_env.status]).sort(), [
        ['gitfleet-api-1', 'online'], ['gitfleet-api-2', 'online'], ['gitfleet-worker-bx-1', 'online'], ['gitfleet-worker-wgq-1', 'online'],
      ]);
      const nodes = await until('the workers\' heartbeats', async () => {
        const n = await db.all<{ role: string; dc: string | null }>("SELECT role, dc FROM cluster_nodes WHERE role = 'worker' ORDER BY dc");
        return n.length === 2 ? n : undefined;
      }, 30_000);
      assert.deepEqual(nodes.map((n) => n.dc), ['bx', 'wgq']);
      const api = `http://127.0.0.1:${port}`;
      const [bx, wgq] = fleet.ips as [string, string];
      for (const [ip, dc] of [[bx, 'bx'], [wgq, 'wgq']]) {
        const r = await fetch(`${api}/api/v1/hosts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ip, env: 'prod', apps: ['shop'], labels: { idc: dc } }) });
        assert.equal(r.status, 201);
      }
      const r = await fetch(`${api}/sync?env=prod&app=shop`);
      const body = await r.json() as { id: number; status: string };
      assert.equal(r.status, 200, JSON.stringify(body));
      assert.equal(body.status, 'succeeded');
      const rows = await db.all<{ ip: string; node_dc: string | null }>(
        'SELECT hp.ip, n.dc AS node_dc FROM host_pushes hp JOIN cluster_nodes n ON n.id = hp.lease_owner WHERE hp.deployment_id = ? ORDER BY hp.ip', [body.id]);
      assert.deepEqual(rows.map((x) => [x.ip, x.node_dc]), [[bx, 'bx'], [wgq, 'wgq']]);
      for (const ip of fleet.ips) assert.equal(await readFile(fleet.path(ip, '/etc/shop.conf'), 'utf8'), 'v1\n');
    });
  });
}

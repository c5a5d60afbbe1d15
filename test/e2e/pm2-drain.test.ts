// Under real pm2 with the shipped ecosystem.config.js (its own PM2_HOME): `pm2 stop` during a push whose validate
// hook is slow lets the push finish and reload (the server drains; pm2 signals only the server), and pm2's log
// file holds JSON lines.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openDb } from '../../server/src/db/connection.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { freePort } from '../helpers/net.js';
import { tempDir } from '../helpers/tmp.js';
import { sleep, until } from '../helpers/wait.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const PM2 = join(ROOT, 'node_modules', '.bin', 'pm2');
const run = promisify(execFile);
describe('pm2 stop drains a running push (real pm2, shipped ecosystem.config.js)', { skip: !existsSync(PM2) && 'pm2 is not installed (npm ci)' }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let url: string;
  let env: NodeJS.ProcessEnv;
  let dataDir: string;
  let pm2Home: string;
  const pm2 = (...args: string[]) => run(PM2, args, { cwd: ROOT, env, timeout: 120_000 });

  before(async () => {
    tmp = await tempDir('gf-pm2-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 1);
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({
      'nginx/prod/shop/etc/shop.conf': 'v1\n',
      'nginx/prod/shop/.gitfleet.yaml': 'hooks:\n  validate: "sleep 6"\n  reload: "date > /tmp/reloaded"\n',
    });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    dataDir = join(tmp.path, 'data');
    const configFile = join(tmp.path, 'gitfleet.yaml');
    await writeFile(configFile, [
      `dataDir: ${dataDir}`,
      `server: { port: ${port}, shutdownGrace: 20 }`,
      `repo: { url: ${fx.origin}, pollInterval: 0 }`,
      'log: { level: info }',
      'deploy:',
      '  retries: 0',
      `  ssh: { identityFile: ${fleet.identityFile}, knownHostsFile: ${fleet.knownHostsFile} }`,
    ].join('\n'));
    pm2Home = join(tmp.path, 'pm2');
    env = { ...process.env, PM2_HOME: pm2Home, GITFLEET_CONFIG: configFile };
    await pm2('start', 'ecosystem.config.js');
    await until('the server under pm2', async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined), 60_000);
  });

  after(async () => {
    await pm2('kill').catch(() => undefined);
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('the push finishes, its reload runs, the deployment succeeds; the log file is JSON lines', async () => {
    const ip = fleet.ips[0]!;
    const add = await fetch(`${url}/api/v1/hosts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ip, env: 'prod', apps: ['shop'] }) });
    assert.equal(add.status, 201);
    const r = await fetch(`${url}/sync?env=prod&app=shop&wait=false`);
    assert.equal(r.status, 202);
    const { id } = (await r.json()) as { id: number };
    // The file is on the host: its validate (6 s) is running now.
    await until('the file on the host', async () => ((await readFile(fleet.path(ip, '/etc/shop.conf'), 'utf8')) === 'v1\n' ? true : undefined), 30_000);
    await sleep(500);
    const t0 = Date.now();
    await pm2('stop', 'gitfleet');
    await until('the server to stop', async () => (await fetch(`${url}/healthz`).then(() => undefined, () => true)), 30_000);
    const took = Date.now() - t0;

    const db = await openDb(join(dataDir, 'gitfleet.db'));
    try {
      const d = await db.get<{ status: string; error: string | null }>('SELECT status, error FROM deployments WHERE id = ?', [id]);
      const hosts = await db.all<{ status: string; reason: string | null }>('SELECT status, reason FROM host_pushes WHERE deployment_id = ?', [id]);
      assert.deepEqual(hosts.map((h) => h.status), ['succeeded'], JSON.stringify(hosts));
      assert.equal(d?.status, 'succeeded', JSON.stringify(d));
    } finally {
      await db.close();
    }
    assert.ok(existsSync(fleet.path(ip, '/tmp/reloaded')), 'the reload hook ran on the host');
    assert.ok(took >= 3000, `pm2 stop waited for the push (${took} ms)`);

    // gitfleet-out.log, or gitfleet-out-<instance>.log
    const outs = (await readdir(join(pm2Home, 'logs'))).filter((f) => /^gitfleet-out(-\d+)?\.log$/.test(f));
    assert.equal(outs.length, 1, `one stdout log file: ${outs.join(', ')}`);
    const lines = (await readFile(join(pm2Home, 'logs', outs[0]!), 'utf8')).split('\n').filter(Boolean);
    assert.ok(lines.length > 0);
    const records = lines.map((l) => { try { return JSON.parse(l) as { msg?: string }; } catch { assert.fail(`not a JSON line: ${l.slice(0, 200)}`); } });
    assert.ok(records.some((l) => l.msg === 'signal received'), 'the server logged the stop signal');
    assert.ok(records.some((l) => l.msg === 'stopped'), 'the server drained and stopped');
  });
});

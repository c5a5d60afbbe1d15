// Inventory edge cases (issue 22, item 7): host ids are never reused (and the migration that makes it so keeps every
// row), a source stays the truth for its hosts' fields against agent reports, a disabled source shows no schedule,
// and a stop during a run records it `interrupted`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildCollectorScript } from '../../server/src/agents/collector-script.js';
import { openDb } from '../../server/src/db/connection.js';
import { listMigrations, migrate } from '../../server/src/db/migrate.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { startFake, type FakeUpstream } from '../cmdb/fake-upstream.js';

const API_TOKEN = 'api-token-0123456789abcdef';
const AGENT_TOKEN = 'agent-token-0123456789abcdef';

function collect(script: string, args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-s', '--', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`collector exit ${code}`))));
    child.stdin.end(script);
  });
}

describe('host ids', () => {
  let tmp: { path: string; cleanup(): Promise<void> };
  before(async () => { tmp = await tempDir('gf-ids-'); });
  after(async () => { await tmp.cleanup(); });

  it('an id is never given to another host after a delete (GET of the old id stays 404)', async () => {
    const srv = await startTestServer(join(tmp.path, 'api'), { api: { tokens: [API_TOKEN] }, hostSync: { converge: { enabled: false } } });
    try {
      const add = async (ip: string) => (await srv.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['shop'] } })).body.id as number;
      await add('192.0.2.50');
      const last = await add('192.0.2.51');
      assert.equal((await srv.api(`/api/v1/hosts/${last}`, { method: 'DELETE' })).status, 204);
      const next = await add('192.0.2.52');
      assert.ok(next > last, `new host got id ${next}, the deleted one had ${last}`);
      const old = await srv.api(`/api/v1/hosts/${last}`);
      assert.equal(old.status, 404);
      assert.match(old.body.error.message, new RegExp(`host ${last} not found`));
    } finally {
      await srv.stop();
    }
  });

  it('the migration keeps every host, its id, apps and references, and foreign keys stay on', async () => {
    const db = await openDb(join(tmp.path, 'old.db'));
    try {
      await migrate(db, listMigrations().filter((m) => m.version < 42));
      const now = '2026-01-01T00:00:00.000Z';
      for (const [id, ip] of [[3, '10.0.0.3'], [7, '10.0.0.7'], [9, '10.0.0.9']] as const) {
        await db.run('INSERT INTO hosts (id, ip, env, source, source_uid, hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [id, ip, 'prod', 'cmdb', `u${id}`, `h${id}`, now, now]);
        await db.run('INSERT INTO host_apps (host_id, app) VALUES (?, ?), (?, ?)', [id, 'shop', id, 'pay']);
      }
      await db.run("INSERT INTO agent_runs (id, trigger, status, created_at) VALUES (1, 'api', 'succeeded', ?)", [now]);
      await db.run("INSERT INTO agent_run_hosts (run_id, ip, host_id, status) VALUES (1, '10.0.0.7', 7, 'succeeded')");
      const before = await db.all('SELECT * FROM hosts ORDER BY id');

      const applied = await migrate(db);
      assert.ok(applied.includes('042_hosts_ids_never_reused.sql'), applied.join(', '));
      assert.deepEqual(await db.all('SELECT * FROM hosts ORDER BY id'), before);
      assert.deepEqual(await db.all('SELECT host_id, app FROM host_apps ORDER BY host_id, app'),
        [[3, 'pay'], [3, 'shop'], [7, 'pay'], [7, 'shop'], [9, 'pay'], [9, 'shop']].map(([host_id, app]) => ({ host_id, app })));
      assert.deepEqual(await db.all('SELECT host_id FROM agent_run_hosts'), [{ host_id: 7 }]);
      assert.deepEqual(await db.get('PRAGMA foreign_keys'), { foreign_keys: 1 });
      assert.match((await db.get<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'hosts'"))!.sql, /AUTOINCREMENT/);

      // Deletes still cascade to the apps, and the last id is not handed out again.
      await db.run('DELETE FROM hosts WHERE id = 9');
      assert.deepEqual(await db.all('SELECT app FROM host_apps WHERE host_id = 9'), []);
      const r = await db.run("INSERT INTO hosts (ip, env, created_at, updated_at) VALUES ('10.0.0.10', 'prod', ?, ?)", [now, now]);
      assert.equal(r.lastID, 10);
    } finally {
      await db.close();
    }
  });
});

describe('a source is the truth for its hosts; agents report facts', () => {
  let tmp: { path: string; cleanup(): Promise<void> };
  let srv: TestServer;
  let doc: any;
  const run = async () => (await srv.api('/api/v1/host-sync/sources/cmdb/run', { method: 'POST' })).body;
  const report = (ip: string, hostname: string) =>
    srv.api('/api/v1/agents/report', { method: 'POST', body: { ...structuredClone(doc), ip, hostname }, headers: { authorization: `Bearer ${AGENT_TOKEN}` } });
  const byIp = async (ip: string) => (await srv.api(`/api/v1/hosts?ip=${ip}`)).body.items[0];

  before(async () => {
    tmp = await tempDir('gf-truth-');
    await writeFile(join(tmp.path, 'inv.yaml'), 'hosts:\n  - {uid: a, ip: 192.0.2.1, hostname: web-1, env: prod, apps: [shop]}\n  - {uid: b, ip: 192.0.2.2, hostname: web-2, env: prod, apps: [shop]}\n');
    srv = await startTestServer(join(tmp.path, 'data'), {
      api: { tokens: [API_TOKEN] }, agents: { token: AGENT_TOKEN },
      hostSync: { converge: { enabled: false }, sources: { cmdb: { type: 'file', path: join(tmp.path, 'inv.yaml'), runAtStart: false } } },
    });
    doc = await collect(await buildCollectorScript(), ['--via', 'agent', '--state-dir', join(tmp.path, 'state'), '--ip', '192.0.2.1']);
  });
  after(async () => {
    await srv.stop();
    await tmp.cleanup();
  });

  it('an agent report does not change the hostname of a source-owned host; the reported one is in facts', async () => {
    assert.equal((await run()).added, 2);
    const res = await report('192.0.2.1', 'renamed-by-hand');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.hostnameChanged, false);
    const host = (await srv.api(`/api/v1/hosts/${res.body.hostId}`)).body;
    assert.equal(host.hostname, 'web-1');
    assert.equal(host.facts.hostname, 'renamed-by-hand');
    const next = await run();
    assert.deepEqual([next.status, next.modified, next.unchanged], ['succeeded', 0, 2]);
  });

  it('a name an agent wrote before the fix is put back by the next source run (the migration forgets the hash)', async () => {
    // The state the old code left: hostname overwritten by an agent, the source's hash kept.
    const host = await byIp('192.0.2.2');
    await srv.ctx.db.run("UPDATE hosts SET hostname = 'agent-name', facts = '{}', facts_via = 'agent' WHERE id = ?", [host.id]);
    const sql = listMigrations().find((m) => m.name === '043_hosts_source_truth.sql')!.sql;
    await srv.ctx.db.exec(sql);
    const fixed = await run();
    // Both hosts agents reported for are re-written once (192.0.2.1 with the values it already has).
    assert.deepEqual([fixed.status, fixed.modified], ['succeeded', 2]);
    assert.equal((await byIp('192.0.2.2')).hostname, 'web-2');
    assert.equal((await run()).modified, 0, 'converged: the run after that changes nothing');
  });

  it('a manual host still takes the hostname its agent reports', async () => {
    await srv.api('/api/v1/hosts', { method: 'POST', body: { ip: '192.0.2.9', hostname: 'old-name', env: 'prod', apps: ['shop'] } });
    const other = await collect(await buildCollectorScript(), ['--via', 'agent', '--state-dir', join(tmp.path, 'state2'), '--ip', '192.0.2.9']);
    const res = await srv.api('/api/v1/agents/report', { method: 'POST', body: { ...other, hostname: 'new-name' }, headers: { authorization: `Bearer ${AGENT_TOKEN}` } });
    assert.equal(res.body.hostnameChanged, true);
    assert.equal((await byIp('192.0.2.9')).hostname, 'new-name');
  });
});

describe('host-sync runs and schedules', () => {
  let tmp: { path: string; cleanup(): Promise<void> };
  let fake: FakeUpstream;
  before(async () => {
    tmp = await tempDir('gf-hsstop-');
    fake = await startFake();
    fake.route('GET /hang', () => ({ delayMs: 30_000, body: [] }));
  });
  after(async () => {
    await fake.close();
    await tmp.cleanup();
  });

  it('a disabled source shows no schedule and no next run', async () => {
    const srv = await startTestServer(join(tmp.path, 'sched'), {
      api: { tokens: [API_TOKEN] },
      hostSync: { converge: { enabled: false }, sources: { off: { type: 'mock', enabled: false, interval: 60 }, offcron: { type: 'mock', enabled: false, cron: '0 * * * *' }, on: { type: 'mock', interval: 60, runAtStart: false } } },
    });
    try {
      const items = (await srv.api('/api/v1/host-sync/sources')).body.items;
      assert.deepEqual(items.map((s: any) => [s.name, s.enabled, s.schedule, s.nextRunAt === null]), [['off', false, null, true], ['offcron', false, null, true], ['on', true, 'every 60 s', false]]);
    } finally {
      await srv.stop();
    }
  });

  it('a stop during a run records it interrupted, not error', async () => {
    const srv = await startTestServer(join(tmp.path, 'stop'), {
      api: { tokens: [API_TOKEN] }, server: { shutdownGrace: 2 },
      hostSync: { converge: { enabled: false }, sources: { slow: { type: 'http', url: `${fake.url}/hang`, runAtStart: false } } },
    });
    const started = await srv.api('/api/v1/host-sync/sources/slow/run?wait=false', { method: 'POST' });
    assert.equal(started.status, 202);
    while (!fake.calls.some((c) => c.path === '/hang')) await new Promise((r) => setTimeout(r, 20));
    await srv.stop();
    const db = await openDb(join(tmp.path, 'stop', 'gitfleet.db'));
    try {
      const row = await db.get<{ status: string; error: string; finished_at: string | null }>('SELECT status, error, finished_at FROM host_sync_runs WHERE id = ?', [started.body.id]);
      assert.equal(row?.status, 'interrupted', JSON.stringify(row));
      assert.equal(row?.error, 'server stopped during the run');
      assert.ok(row?.finished_at);
    } finally {
      await db.close();
    }
  });
});

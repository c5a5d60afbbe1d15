// The benchmark's in-memory transport (scripts/bench/memory-transport.ts) under a real deployment: every host push
// succeeds with the unit's files in its changes and the unit's state advances, so the stand-in cannot rot silently
// while the deploy pipeline above it changes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { memoryTransport, type MemoryLauncher } from '../../scripts/bench/memory-transport.js';
import { insertBenchHosts } from '../../scripts/bench/scale-hosts.js';

const UNIT = 'app/prod/bench';
const FILES = ['opt/bench/a.conf', 'opt/bench/b.conf', 'opt/bench/conf.d/c.conf', 'opt/bench/conf.d/d.conf', 'etc/bench.env'];

let tmp: Awaited<ReturnType<typeof tempDir>>;
let fx: GitFixture;
let s: TestServer;
let mem: MemoryLauncher | undefined;
let ips: string[];

before(async () => {
  tmp = await tempDir('gf-memtransport-');
  fx = await createGitFixture(join(tmp.path, 'git'));
  await fx.commit(Object.fromEntries(FILES.map((f) => [`${UNIT}/${f}`, `${f} v1\n`])));
  s = await startTestServer(join(tmp.path, 'data'), {
    repo: { url: fx.origin }, log: { level: 'warn' }, deploy: { retries: 0 }, hostSync: { converge: { enabled: false } },
  }, { transport: memoryTransport((l) => { mem = l; }) });
  ips = await insertBenchHosts(s.ctx.db, 20, 'prod', 'bench');
});
after(async () => {
  await s?.stop();
  await tmp?.cleanup();
});

async function deploy(): Promise<{ id: number; hosts: Array<{ ip: string; status: string; changes: string[]; reason: string | null }>; status: string }> {
  const r = await s.api('/api/v1/deployments', { method: 'POST', body: { units: [UNIT], wait: true } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const d = await s.api(`/api/v1/deployments/${r.body.id}`);
  assert.equal(d.status, 200);
  return d.body;
}

it('a deployment to 20 hosts runs the whole pipeline: every host push succeeds with the unit\'s files, the unit state advances', async () => {
  assert.ok(mem, 'the transport factory was called');
  const head = await fx.head();
  const d = await deploy();
  assert.equal(d.status, 'succeeded');
  assert.equal(d.hosts.length, 20);
  for (const h of d.hosts) {
    assert.equal(h.status, 'succeeded', `${h.ip}: ${h.reason}`);
    assert.deepEqual([...h.changes].sort(), FILES.map((f) => `+${f}`).sort(), h.ip);
  }
  assert.deepEqual(d.hosts.map((h) => h.ip).sort(), [...ips].sort());
  // The stand-in saw one rsync per host with every file, and the host check created the unit's directories.
  assert.equal(mem!.stats.rsyncRuns, 20);
  assert.equal(mem!.stats.filesSent, 100);
  // (A simulated host starts empty: even etc is new to it.)
  assert.deepEqual([...mem!.host(ips[0]!).dirs].sort(), ['etc', 'opt', 'opt/bench', 'opt/bench/conf.d']);
  const hosts = await s.api(`/api/v1/units/${UNIT}/hosts`);
  assert.equal(hosts.status, 200);
  const rows = (hosts.body.hosts ?? hosts.body.items ?? hosts.body) as Array<{ ip: string; commit: string }>;
  assert.equal(rows.length, 20);
  for (const r of rows) assert.equal(r.commit, head, r.ip);
  const units = (await s.api('/api/v1/units')).body as Array<{ unit?: string; name?: string; lastCommit: string | null; upToDate?: boolean }> | { items: unknown[] };
  const list = (Array.isArray(units) ? units : units.items) as Array<Record<string, unknown>>;
  const u = list.find((x) => Object.values(x).includes(UNIT));
  assert.equal(u?.lastCommit, head);
});

it('a change of one file reaches every host as that one file; the records say so', async () => {
  await fx.commit({ [`${UNIT}/opt/bench/a.conf`]: 'a v2\n' });
  const sent = mem!.stats.filesSent;
  const d = await deploy();
  assert.equal(d.status, 'succeeded');
  for (const h of d.hosts) assert.deepEqual(h.changes, ['+opt/bench/a.conf'], h.ip);
  assert.equal(mem!.stats.filesSent - sent, 20);
});

it('a sync with nothing changed asks the hosts\' shells (the probe) and changes nothing', async () => {
  const before = { ...mem!.stats };
  const r = await s.api('/sync?env=prod&app=bench');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.hosts.length, 20);
  for (const h of r.body.hosts as Array<{ ip: string; status: string; changes: string[] }>) {
    assert.equal(h.status, 'succeeded', h.ip);
    assert.deepEqual(h.changes, [], h.ip);
  }
  // The hosts hold the commit: each was probed through its (in-memory) shell; nothing was sent.
  assert.equal(mem!.stats.shellsOpened - before.shellsOpened, 20);
  assert.ok(mem!.stats.shellRequests - before.shellRequests >= 20);
  assert.equal(mem!.stats.filesSent, before.filesSent);
});

it('the directories a push created are recorded per host, and forgotten once git no longer holds them', async () => {
  const dirs = async (ip: string) => (await s.ctx.db.all<{ path: string }>('SELECT path FROM unit_host_dirs WHERE unit = ? AND ip = ? ORDER BY path', [UNIT, ip])).map((r) => r.path);
  await new Promise((r) => setTimeout(r, 200)); // recorded beside the push (not awaited by it)
  assert.deepEqual(await dirs(ips[3]!), ['etc', 'opt', 'opt/bench', 'opt/bench/conf.d']);
  await fx.commit({ [`${UNIT}/opt/bench/conf.d/c.conf`]: null, [`${UNIT}/opt/bench/conf.d/d.conf`]: null });
  const d = await deploy();
  assert.equal(d.status, 'succeeded');
  for (const h of d.hosts) assert.deepEqual([...h.changes].sort(), ['-opt/bench/conf.d/c.conf', '-opt/bench/conf.d/d.conf'], h.ip);
  await new Promise((r) => setTimeout(r, 200));
  for (const ip of ips) assert.deepEqual(await dirs(ip), ['etc', 'opt', 'opt/bench'], ip);
  assert.equal(mem!.host(ips[0]!).dirs.has('opt/bench/conf.d'), false);
});

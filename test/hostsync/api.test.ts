// /api/v1/host-sync through a real server: sources, run now (wait or not, force), runs, no overlap, schedules,
// upstream CMDB sync (trigger + push, failure recorded and retried).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { startFake, type FakeUpstream } from '../cmdb/fake-upstream.js';

let dir: { path: string; cleanup(): Promise<void> };
let fake: FakeUpstream;
let srv: TestServer;
let inflight = 0;
let maxInflight = 0;
let slowCalls = 0;
const upstreamBodies: any[] = [];
let upstreamFail = true;
const TOKEN = 'test-token-0123456789abcdef';

before(async () => {
  dir = await tempDir('gf-hsapi-');
  fake = await startFake();
  await writeFile(join(dir.path, 'inv.yaml'), 'hosts:\n  - {uid: a, ip: 192.0.2.1, env: prod, apps: [shop]}\n  - {uid: b, ip: 192.0.2.2, env: prod, apps: [pay]}\n');
  fake.route('GET /slow', async () => {
    inflight++; maxInflight = Math.max(maxInflight, inflight); slowCalls++;
    await new Promise((r) => setTimeout(r, 700));
    inflight--;
    return { body: [{ uid: 's1', ip: '192.0.2.50', env: 'test', apps: ['shop'] }] };
  });
  fake.route('POST /hq/sync', (req) => { upstreamBodies.push({ kind: 'trigger', body: req.json, auth: req.headers.authorization }); return upstreamFail ? { status: 500, raw: 'down' } : { body: { ok: true } }; });
  fake.route('POST /hq/inventory', (req) => { upstreamBodies.push({ kind: 'push', body: req.json }); return { body: { ok: true } }; });
  srv = await startTestServer(join(dir.path, 'data'), {
    api: { tokens: [TOKEN] },
    hostSync: {
      converge: { enabled: false },
      sources: {
        inv: { type: 'file', path: join(dir.path, 'inv.yaml'), runAtStart: false },
        slow: { type: 'http', url: `${fake.url}/slow`, interval: 1, runAtStart: true },
        off: { type: 'mock', enabled: false },
      },
      upstream: { url: `${fake.url}/hq/sync`, body: { model: 'host' }, pushUrl: `${fake.url}/hq/inventory`, site: 'branch-1', authValue: 'Bearer hq', interval: 1 },
    },
  });
});
after(async () => {
  await srv.stop();
  await fake.close();
  await dir.cleanup();
});

test('API requires the bearer token', async () => {
  const res = await fetch(`${srv.url}/api/v1/host-sync/sources`);
  assert.equal(res.status, 401);
});

test('sources list; run now waits and returns the run; runs are listed; unknown and disabled sources', async () => {
  const list = await srv.api('/api/v1/host-sync/sources');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.items.map((s: any) => [s.name, s.type, s.enabled, s.schedule]), [['inv', 'file', true, null], ['slow', 'http', true, 'every 1 s'], ['off', 'mock', false, null]]);
  const run = await srv.api('/api/v1/host-sync/sources/inv/run', { method: 'POST' });
  assert.equal(run.status, 200);
  assert.deepEqual([run.body.source, run.body.status, run.body.trigger, run.body.toAdd, run.body.added, run.body.listed], ['inv', 'succeeded', 'api', 2, 2, 2]);
  assert.equal(typeof run.body.durationMs, 'number');
  const hosts = await srv.api('/api/v1/hosts?source=inv');
  assert.deepEqual(hosts.body.items.map((h: any) => [h.ip, h.env, h.apps, h.sourceUid]), [['192.0.2.1', 'prod', ['shop'], 'a'], ['192.0.2.2', 'prod', ['pay'], 'b']]);
  const runs = await srv.api('/api/v1/host-sync/runs?source=inv');
  assert.equal(runs.body.total, 1);
  assert.equal(runs.body.items[0].id, run.body.id);
  const one = await srv.api(`/api/v1/host-sync/runs/${run.body.id}`);
  assert.deepEqual(one.body.details, []);
  assert.equal((await srv.api('/api/v1/host-sync/sources/nope/run', { method: 'POST' })).status, 404);
  assert.equal((await srv.api('/api/v1/host-sync/sources/off/run', { method: 'POST' })).status, 409);
  assert.equal((await srv.api('/api/v1/host-sync/runs?status=weird')).status, 400);
  const after2 = await srv.api('/api/v1/host-sync/sources');
  assert.equal(after2.body.items.find((s: any) => s.name === 'inv').hosts, 2);
  assert.equal(after2.body.items.find((s: any) => s.name === 'inv').lastRun.id, run.body.id);
});

test('runs of one source never overlap: schedule ticks skip, a second run now is 409; wait=false answers 202', async () => {
  // The slow source runs at start and every second (counted from the end of the last run); let the schedule work,
  // then keep asking to run it while it runs.
  await new Promise((res) => setTimeout(res, 2500));
  let conflicts = 0;
  let accepted = 0;
  const deadline = Date.now() + 2500;
  while (Date.now() < deadline) {
    const r = await srv.api('/api/v1/host-sync/sources/slow/run?wait=false', { method: 'POST' });
    if (r.status === 409) conflicts++;
    else { assert.equal(r.status, 202); assert.match(r.headers.get('location') ?? '', /\/api\/v1\/host-sync\/runs\/\d+$/); accepted++; }
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(conflicts > 0, 'some requests hit a running run');
  assert.equal(maxInflight, 1, 'never two listings of one source at once');
  assert.ok(slowCalls >= 3, `scheduled and requested runs happened (${slowCalls})`);
  const runs = await srv.api('/api/v1/host-sync/runs?source=slow&limit=100');
  const triggers = new Set(runs.body.items.map((r: any) => r.trigger));
  assert.ok(triggers.has('start') && triggers.has('schedule'), JSON.stringify([...triggers]));
  // Their [start, finish] intervals never intersect.
  const spans = runs.body.items.filter((r: any) => r.finishedAt).map((r: any) => [Date.parse(r.startedAt), Date.parse(r.finishedAt)]).sort((a: number[], b: number[]) => a[0]! - b[0]!);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![0]! >= spans[i - 1]![1]!, 'runs do not overlap');
});

test('upstream CMDB sync: pushes the inventory and triggers a sync; a failure is recorded and retried next time', async () => {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && upstreamBodies.filter((b) => b.kind === 'trigger').length < 2) await new Promise((r) => setTimeout(r, 100));
  upstreamFail = false;
  const ok = await srv.api('/api/v1/host-sync/upstream/run', { method: 'POST' });
  assert.equal(ok.status, 200);
  assert.deepEqual([ok.body.status, ok.body.triggered, ok.body.trigger], ['succeeded', true, 'api']);
  const view = await srv.api('/api/v1/host-sync/upstream');
  const statuses = view.body.runs.map((r: any) => r.status);
  assert.equal(statuses[0], 'succeeded');
  assert.ok(statuses.slice(1).includes('failed'), 'earlier failures recorded');
  assert.match(view.body.runs.find((r: any) => r.status === 'failed').error, /upstream sync trigger: HTTP 500/);
  const trigger = upstreamBodies.find((b) => b.kind === 'trigger');
  assert.deepEqual(trigger.body, { model: 'host' });
  assert.equal(trigger.auth, 'Bearer hq');
  const push = upstreamBodies.find((b) => b.kind === 'push');
  assert.equal(push.body.site, 'branch-1');
  assert.ok(push.body.hosts.some((h: any) => h.ip === '192.0.2.1' && h.source === 'inv'));
});

test('a hand edit of a source host is restored by the next run of its source', async () => {
  const h = (await srv.api('/api/v1/hosts?ip=192.0.2.1')).body.items[0];
  assert.equal(h.source, 'inv');
  assert.equal((await srv.api(`/api/v1/hosts/${h.id}`, { method: 'PUT', body: { apps: ['shop', 'extra'] } })).status, 200);
  const run = await srv.api('/api/v1/host-sync/sources/inv/run', { method: 'POST' });
  assert.deepEqual([run.body.status, run.body.modified, run.body.unchanged], ['succeeded', 1, 1]);
  assert.deepEqual((await srv.api(`/api/v1/hosts/${h.id}`)).body.apps, ['shop']);
});

// PUT /api/v1/host-sync/sources/:name/enabled through a real server: a disabled source's schedule stops (no runs),
// run now stays allowed, the switch survives a restart, enabling resumes the schedule; a source off in the
// configuration cannot be switched on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

let dir: { path: string; cleanup(): Promise<void> };
let srv: TestServer;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const config = () => ({
  hostSync: {
    converge: { enabled: false },
    sources: {
      tick: { type: 'file', path: join(dir.path, 'inv.yaml'), interval: 1, runAtStart: false },
      off: { type: 'file', path: join(dir.path, 'inv.yaml'), enabled: false },
    },
  },
});
const runs = async (s: TestServer) => (await s.api('/api/v1/host-sync/runs?source=tick&limit=500')).body.total as number;
const source = async (s: TestServer, name: string) => (await s.api('/api/v1/host-sync/sources')).body.items.find((x: any) => x.name === name);

before(async () => {
  dir = await tempDir('gf-hsenable-');
  await writeFile(join(dir.path, 'inv.yaml'), 'hosts:\n  - {uid: a, ip: 192.0.2.1, env: prod, apps: [shop]}\n');
  srv = await startTestServer(join(dir.path, 'data'), config());
});
after(async () => {
  await srv?.stop();
  await dir.cleanup();
});

test('disable stops the schedule, run now still works, the switch survives a restart, enable resumes', async () => {
  const deadline = Date.now() + 10_000;
  while ((await runs(srv)) === 0 && Date.now() < deadline) await sleep(200);
  assert.ok((await runs(srv)) > 0, 'the schedule runs the enabled source');

  const off = await srv.api('/api/v1/host-sync/sources/tick/enabled', { method: 'PUT', body: { enabled: false }, headers: { 'x-actor': 'ops-li' } });
  assert.equal(off.status, 200);
  assert.deepEqual([off.body.enabled, off.body.disabledBy, off.body.schedule, off.body.nextRunAt, off.body.switchedBy], [false, 'api', null, null, 'ops-li']);
  await sleep(1500); // a run the last tick started may still finish
  const n = await runs(srv);
  await sleep(2500);
  assert.equal(await runs(srv), n, 'no scheduled run while disabled');

  const now = await srv.api('/api/v1/host-sync/sources/tick/run', { method: 'POST' });
  assert.equal(now.status, 200, 'run now of a source disabled through the API is allowed');
  assert.equal(now.body.trigger, 'api');
  assert.equal(await runs(srv), n + 1);

  await srv.stop();
  srv = await startTestServer(join(dir.path, 'data'), config());
  const again = await source(srv, 'tick');
  assert.deepEqual([again.enabled, again.disabledBy, again.schedule], [false, 'api', null], 'persisted across a restart');
  await sleep(2500);
  assert.equal(await runs(srv), n + 1, 'still no scheduled run after the restart');

  const on = await srv.api('/api/v1/host-sync/sources/tick/enabled', { method: 'PUT', body: { enabled: true } });
  assert.deepEqual([on.status, on.body.enabled, on.body.disabledBy, on.body.schedule], [200, true, null, 'every 1 s']);
  const until = Date.now() + 10_000;
  while ((await runs(srv)) === n + 1 && Date.now() < until) await sleep(200);
  assert.ok((await runs(srv)) > n + 1, 'the schedule runs again');
});

test('a source off in the configuration stays off; bad requests are refused', async () => {
  const off = await srv.api('/api/v1/host-sync/sources/off/enabled', { method: 'PUT', body: { enabled: true } });
  assert.equal(off.status, 409);
  assert.match(off.body.error.message, /hostSync\.sources\.off\.enabled/);
  assert.equal((await source(srv, 'off')).disabledBy, 'config');
  assert.equal((await srv.api('/api/v1/host-sync/sources/nope/enabled', { method: 'PUT', body: { enabled: false } })).status, 404);
  const bad = await srv.api('/api/v1/host-sync/sources/tick/enabled', { method: 'PUT', body: { enabled: 'no' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.field, 'enabled');
});

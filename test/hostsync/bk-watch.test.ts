// BlueKing resource_watch through a real server: a host moved into an app's module is synced within seconds (no poll),
// cursors are persisted, events of other businesses are ignored, an expired cursor falls back to a full listing
// without losing an event that lands right after it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { BK_AUTH, startFakeBkCmdb, type FakeBkCmdb } from '../cmdb/fake-bkcmdb.js';

let dir: { path: string; cleanup(): Promise<void> };
let bk: FakeBkCmdb;
let srv: TestServer;

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const runs = async () => (await srv.api('/api/v1/host-sync/runs?source=bk&limit=100')).body.items as Array<{ trigger: string; status: string; modified: number }>;

before(async () => {
  dir = await tempDir('gf-bkw-');
  bk = await startFakeBkCmdb();
  bk.hosts.push({ bk_host_id: 1, bk_host_innerip: '192.0.2.61', bk_host_name: 'a', set: 'prod', modules: ['shop'] });
  bk.hosts.push({ bk_host_id: 2, bk_host_innerip: '192.0.2.62', bk_host_name: 'b', set: 'prod', modules: ['shop'] });
  bk.hosts.push({ bk_host_id: 3, bk_host_innerip: '192.0.2.63', bk_host_name: 'c', set: 'prod', modules: ['pay'] });
  srv = await startTestServer(join(dir.path, 'data'), {
    inventory: { bkcmdb: { baseUrl: bk.baseUrl, appCode: BK_AUTH.bk_app_code, appSecret: BK_AUTH.bk_app_secret, username: BK_AUTH.bk_username, bizId: 7 } },
    hostSync: { converge: { enabled: false }, sources: { bk: { type: 'bkcmdb', runAtStart: true, cron: '0 0 1 1 *' } } },
  });
  await until('the first run', async () => (await runs()).find((r) => r.status === 'succeeded'));
});
after(async () => {
  await srv.stop();
  await bk.close();
  await dir.cleanup();
});

test('a host moved into another module is synced within seconds by the change feed; the cursor is persisted', async () => {
  bk.hosts[2]!.modules = ['shop'];
  bk.emit('host_relation', 'create', { bk_biz_id: 7, bk_host_id: 3, bk_set_id: 4, bk_module_id: 100, bk_supplier_account: '0' });
  const t0 = Date.now();
  await until('the host to move', async () => {
    const h = (await srv.api('/api/v1/hosts?ip=192.0.2.63')).body.items[0];
    return h?.apps.join() === 'shop';
  });
  assert.ok(Date.now() - t0 < 5000, `within seconds (${Date.now() - t0} ms)`);
  assert.ok((await runs()).some((r) => r.trigger === 'watch' && r.modified === 1));
  const cursors = await srv.ctx.db.all<{ resource: string }>('SELECT resource FROM host_sync_cursors WHERE source = ?', ['bk']);
  assert.ok(cursors.some((c) => c.resource === 'host_relation'));
});

test('events of another business do not trigger a run; a host attribute change of a known host does', async () => {
  const before = (await runs()).length;
  bk.emit('host_relation', 'update', { bk_biz_id: 99, bk_host_id: 500, bk_set_id: 1, bk_module_id: 1 });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await runs()).length, before, 'no run for business 99');
  bk.hosts[0]!.bk_host_name = 'a-renamed';
  bk.emit('host', 'update', { bk_host_id: 1, bk_host_innerip: '192.0.2.61', bk_host_name: 'a-renamed' });
  await until('hostname change', async () => (await srv.api('/api/v1/hosts?ip=192.0.2.61')).body.items[0]?.hostname === 'a-renamed');
});

test('an expired cursor takes a new cursor from now, then a full listing; an event right after the listing is not lost', async () => {
  bk.hosts.push({ bk_host_id: 4, bk_host_innerip: '192.0.2.64', bk_host_name: 'd', set: 'prod', modules: ['pay'] });
  bk.expireCursors(); // the event for host 4 was "lost"
  await until('host 4 via the full listing', async () => (await srv.api('/api/v1/hosts?ip=192.0.2.64')).body.items.length === 1);
  // And the feed works again afterwards.
  bk.hosts[3]!.modules = ['shop'];
  bk.emit('host_relation', 'update', { bk_biz_id: 7, bk_host_id: 4, bk_set_id: 4, bk_module_id: 100 });
  await until('host 4 moved', async () => (await srv.api('/api/v1/hosts?ip=192.0.2.64')).body.items[0]?.apps.join() === 'shop');
  assert.ok(srv.logs.some((l) => l.msg === 'bkcmdb watch cursor expired: a new cursor from now, then a full listing'));
});

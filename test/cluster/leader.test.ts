// Leader election on a real PostgreSQL cluster: one of two leaders leads; a terminated backend or a killed process
// hands over within two try intervals; SQLite always leads; a worker never does.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { PgLeader, startLeader, type Leader } from '../../server/src/cluster/leader.js';
import { clusterNode } from '../../server/src/cluster/node.js';
import { createLogger } from '../../server/src/log.js';
import { createMetrics } from '../../server/src/metrics.js';
import { requirePostgres, testPostgres, type TestPostgres } from '../helpers/postgres.js';

const TRY_MS = 300;
const ROOT = join(import.meta.dirname, '../..');
const log = createLogger('silent');

/** Poll until cond() holds; fails after ms. Returns the time it took. */
async function within(ms: number, cond: () => boolean | Promise<boolean>, what: string): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('SQLite: the single process always leads', async () => {
  const metrics = createMetrics(false);
  const node = clusterNode({ role: 'all' });
  const l = await startLeader({ dialect: 'sqlite', node, log, metrics, tryMs: TRY_MS });
  assert.equal(l.isLeader, true);
  assert.match(await metrics.registry.metrics(), new RegExp(`gitfleet_leader\\{node="${node.id}"\\} 1`));
  await l.stop();
});

if (requirePostgres()) {
  describe('PostgreSQL leader', () => {
    let cluster: TestPostgres;
    let admin: pg.Client;
    const leaders: Leader[] = [];
    before(async () => {
      cluster = await testPostgres();
      admin = new pg.Client({ connectionString: cluster.adminUrl });
      await admin.connect();
    });
    after(async () => {
      for (const l of leaders) await l.stop();
      await admin.end();
      await cluster.stop();
    });
    const make = async (url: string, metrics = createMetrics(false)) => {
      const l = new PgLeader({ url, tryMs: TRY_MS, node: clusterNode({ role: 'all' }), log, metrics });
      leaders.push(l);
      await l.start();
      return l;
    };
    /** Backends of leader connections on a database. */
    const leaderBackends = async (url: string) => (await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'gitfleet leader'", [new URL(url).pathname.slice(1)])).rows.map((r) => r.pid);
    const lockHolder = async (url: string) => (await admin.query<{ pid: number }>(
      "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = 2 AND d.datname = $2",
      [0x47464c54, new URL(url).pathname.slice(1)])).rows.map((r) => r.pid);

    test('two leaders on one database: exactly one leads; a terminated backend hands over within two tries', async () => {
      const url = await cluster.createDatabase();
      const ma = createMetrics(false);
      const a = await make(url, ma);
      const b = await make(url);
      assert.equal(a.isLeader, true, 'the first to try leads');
      assert.equal(b.isLeader, false);
      await b.tryOnce();
      assert.equal(b.isLeader, false, 'a second try does not take a held lock');
      assert.equal((await leaderBackends(url)).length, 2);
      assert.equal((await lockHolder(url)).length, 1, 'one session holds the leader lock');
      assert.match(await ma.registry.metrics(), /gitfleet_leader\{node="[^"]+"\} 1/);

      const changes: boolean[] = [];
      a.onChange((v) => changes.push(v));
      const [holder] = await lockHolder(url);
      await admin.query('SELECT pg_terminate_backend($1)', [holder]);
      const lostIn = await within(2 * TRY_MS, () => !a.isLeader, 'old leader reports the loss');
      const tookIn = await within(2 * TRY_MS, () => b.isLeader, 'the other takes over');
      assert.deepEqual(changes, [false]);
      assert.equal(a.isLeader, false);
      // The old leader reconnects and follows.
      await within(6 * TRY_MS, async () => (await leaderBackends(url)).length === 2, 'old leader reconnects (after its quiet time)');
      await a.tryOnce();
      assert.equal(a.isLeader, false);
      const text = await ma.registry.metrics();
      assert.match(text, /gitfleet_leader\{node="[^"]+"\} 0/);
      assert.match(text, /gitfleet_leader_changes_total 2/);
      console.log(`handover after pg_terminate_backend: loss noticed in ${lostIn} ms, taken over in ${tookIn} ms (try interval ${TRY_MS} ms)`);

      // stop() releases the lock at once: the other leads at its next try.
      await b.stop();
      await within(2 * TRY_MS, () => a.isLeader, 'after stop(), the other leads');
    });

    test('a leader in another process killed with SIGKILL: the in-test leader takes over within two tries', async () => {
      const url = await cluster.createDatabase();
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/cluster/fixtures/leader-child.ts', url, String(TRY_MS)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => { out += String(d); });
      try {
        await within(30_000, () => out.includes('ready'), 'child started');
        assert.match(out, /ready leading/);
        const mine = await make(url);
        assert.equal(mine.isLeader, false);
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
        const tookIn = await within(2 * TRY_MS, () => mine.isLeader, 'takes over from the killed process');
        console.log(`handover after SIGKILL of the leading process: ${tookIn} ms (try interval ${TRY_MS} ms)`);
      } finally {
        child.kill('SIGKILL');
      }
    });

    test('role worker never leads; role api competes', async () => {
      const url = await cluster.createDatabase();
      const metrics = createMetrics(false);
      const worker = await startLeader({ dialect: 'postgres', url, node: clusterNode({ role: 'worker' }), log, metrics, tryMs: TRY_MS });
      leaders.push(worker);
      assert.equal(worker.isLeader, false);
      assert.equal((await leaderBackends(url)).length, 0, 'a worker opens no leader connection');
      assert.match(await metrics.registry.metrics(), /gitfleet_leader\{node="[^"]+"\} 0/);
      const api = await startLeader({ dialect: 'postgres', url, node: clusterNode({ role: 'api' }), log, tryMs: TRY_MS });
      leaders.push(api);
      assert.equal(api.isLeader, true);
    });
  });
}

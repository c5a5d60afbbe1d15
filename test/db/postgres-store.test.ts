// The PostgreSQL store against a real private cluster, side by side with SQLite: placeholders, ids, counts,
// transactions, unique violations, migrations (also from several processes' pools at once), the collation check.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import pg from 'pg';
import { openDb, type Db } from '../../server/src/db/connection.js';
import { listMigrations, migrate, PG_MIGRATIONS_DIR } from '../../server/src/db/migrate.js';
import { codePointCollation, openPostgres, toPositional } from '../../server/src/db/postgres.js';
import { isUniqueViolation } from '../../server/src/db/errors.js';
import * as hosts from '../../server/src/db/hosts.js';
import * as deployments from '../../server/src/db/deployments.js';
import { requirePostgres, testPostgres, type TestPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

test('toPositional numbers ? outside literals, quoted identifiers and comments', () => {
  const table: Array<[string, string]> = [
    ['SELECT * FROM t WHERE a = ? AND b = ?', 'SELECT * FROM t WHERE a = $1 AND b = $2'],
    ["SELECT '?' , ? FROM t WHERE c = 'it''s ?'", "SELECT '?' , $1 FROM t WHERE c = 'it''s ?'"],
    ['SELECT "we?ird" FROM t WHERE x IN (?, ?, ?)', 'SELECT "we?ird" FROM t WHERE x IN ($1, $2, $3)'],
    ['SELECT 1 -- why?\n, ? /* a ? here */ , ?', 'SELECT 1 -- why?\n, $1 /* a ? here */ , $2'],
    ["SELECT json_extract(request, '$.kind') = ?", "SELECT json_extract(request, '$.kind') = $1"],
  ];
  for (const [input, want] of table) assert.equal(toPositional(input), want, input);
});

test('only code-point collations count as SQLite-like', () => {
  for (const c of ['C', 'POSIX', 'C.UTF-8', 'C.utf8']) assert.equal(codePointCollation(c), true, c);
  for (const c of ['en_US.UTF-8', 'de_DE.utf8', 'Chinese', '']) assert.equal(codePointCollation(c), false, c);
});

test('isUniqueViolation reads both dialects', () => {
  const sqlite = new Error('SQLITE_CONSTRAINT: UNIQUE constraint failed: hosts.identity');
  assert.equal(isUniqueViolation(sqlite, 'hosts', 'identity'), true);
  assert.equal(isUniqueViolation(sqlite, 'hosts', 'ip'), false);
  assert.equal(isUniqueViolation(sqlite, 'hosts'), true);
  const pgErr = Object.assign(new Error('duplicate key value violates unique constraint "hosts_ip_key"'), { code: '23505', table: 'hosts', detail: 'Key (ip)=(10.0.0.1) already exists.' });
  assert.equal(isUniqueViolation(pgErr, 'hosts', 'ip'), true);
  assert.equal(isUniqueViolation(pgErr, 'hosts', 'identity'), false);
  assert.equal(isUniqueViolation(pgErr, 'es_sync_tasks'), false);
});

if (requirePostgres()) {
  describe('PostgreSQL store', () => {
    let cluster: TestPostgres;
    let tmp: { path: string; cleanup(): Promise<void> };
    const opened: Db[] = [];
    const open = async (url?: string) => {
      const db = await openPostgres(url ?? (await cluster.createDatabase()));
      opened.push(db);
      return db;
    };
    before(async () => { cluster = await testPostgres(); tmp = await tempDir('gf-pg-store-'); });
    after(async () => {
      for (const db of opened) await db.close().catch(() => undefined);
      await cluster.stop();
      await tmp.cleanup();
    });

    test('migrations apply once, and the same repository code reads the same on both stores', async () => {
      const pgDb = await open();
      const lite = await openDb(join(tmp.path, 'same.db'));
      opened.push(lite);
      for (const db of [lite, pgDb]) {
        const applied = await migrate(db);
        assert.deepEqual(applied, listMigrations().map((m) => m.name), db.dialect);
        assert.deepEqual(await migrate(db), [], `${db.dialect}: nothing left to apply`);
      }
      // Same tables, same columns in the same order.
      const liteCols = await lite.all<{ t: string; c: string }>(
        "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid");
      const pgCols = await pgDb.all<{ t: string; c: string }>(
        "SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name COLLATE \"C\", ordinal_position");
      assert.deepEqual(pgCols, liteCols);
      const now = '2026-01-02T03:04:05.000Z';
      const seen = [];
      for (const db of [lite, pgDb]) {
        const a = await db.tx((q) => hosts.insertHost(q, { ip: '10.0.0.2', env: 'prod', apps: ['web', 'api'], user: 'deploy', labels: { idc: 'bx' } }, {}, now));
        const b = await db.tx((q) => hosts.insertHost(q, { ip: '10.0.0.1', env: 'prod', apps: [], port: 2222 }, { source: 'csv', sourceUid: 'u1' }, now));
        assert.equal(typeof a, 'number', db.dialect);
        assert.equal(b, a + 1, `${db.dialect}: ids count up`);
        await assert.rejects(db.tx((q) => hosts.insertHost(q, { ip: '10.0.0.1', env: 'prod', apps: [] }, {}, now)),
          (err) => isUniqueViolation(err, 'hosts', 'ip'), db.dialect);
        const dep = await deployments.insertDeployment(db, { trigger: 'push', branch: 'main', request: { kind: 'push', branch: 'main' } as never }, now);
        const pushIds = await deployments.insertHostPushes(db, dep, 'a/b/c', [{ ip: '10.0.0.1' }, { ip: '10.0.0.2', hostname: 'h2' }]);
        assert.deepEqual(pushIds.map((i) => i - pushIds[0]!), [0, 1]);
        assert.equal(await deployments.waitingPush(db, 'main'), dep, `${db.dialect}: json request read`);
        assert.equal(await deployments.hasOpenRecords(db, dep), true);
        const list = await deployments.listDeployments(db, { limit: 10, offset: 0 });
        assert.equal(typeof list.total, 'number', `${db.dialect}: count(*) is a number`);
        await assert.rejects(db.tx(async (q) => {
          await deployments.closeOrphan(q, dep, 'x', now);
          throw new Error('rolled back');
        }), /rolled back/);
        assert.equal(await deployments.hasOpenRecords(db, dep), true, `${db.dialect}: a throwing tx leaves no trace`);
        assert.equal(await deployments.closeOrphan(db, dep, 'gone', now), true);
        seen.push({
          hosts: (await hosts.listHosts(db)).map(({ id: _id, ...h }) => h),
          count: await hosts.countHosts(db, { env: 'prod' }),
          deployment: { ...(await deployments.getDeployment(db, dep))!, id: 0 },
          pushes: await deployments.hostPushes(db, dep),
        });
      }
      assert.deepEqual(seen[1], seen[0]);
      assert.deepEqual(seen[0]!.hosts[0]!.apps, ['api', 'web']);
      assert.equal(seen[0]!.hosts[0]!.user, 'deploy');
    });

    test('several processes migrating one database at once: each migration applied exactly once', async () => {
      const url = await cluster.createDatabase();
      const pools = await Promise.all([1, 2, 3, 4].map(() => open(url)));
      const results = await Promise.all(pools.map((db) => migrate(db)));
      const all = results.flat().sort();
      assert.deepEqual(all, listMigrations(PG_MIGRATIONS_DIR).map((m) => m.name).sort(), 'every migration once in total');
      const rows = await pools[0]!.all<{ name: string }>('SELECT name FROM schema_migrations');
      assert.equal(rows.length, listMigrations(PG_MIGRATIONS_DIR).length);
    });

    test('writes are serialised across pools (read-then-write transactions and plain writes never lose an update)', async () => {
      const url = await cluster.createDatabase();
      const a = await open(url);
      const b = await open(url);
      await migrate(a);
      await a.run("INSERT INTO repo_state (branch, last_seen, updated_at) VALUES ('n', '0', 'x')");
      const bump = (db: Db) => db.tx(async (q) => {
        const r = await q.get<{ last_seen: string }>("SELECT last_seen FROM repo_state WHERE branch = 'n'");
        await new Promise((r2) => setTimeout(r2, 2));
        await q.run("UPDATE repo_state SET last_seen = ? WHERE branch = 'n'", [String(Number(r!.last_seen) + 1)]);
      });
      // Plain writes outside a transaction wait for the write lock too: none lands between a bump's read and write.
      const plain = (db: Db) => db.run("UPDATE repo_state SET last_seen = CAST(CAST(last_seen AS INTEGER) + 1 AS TEXT) WHERE branch = 'n'");
      await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? plain(i % 2 ? a : b) : bump(i % 2 ? a : b))));
      assert.equal((await a.get<{ last_seen: string }>("SELECT last_seen FROM repo_state WHERE branch = 'n'"))!.last_seen, '30');
    });

    test('a database that sorts by locale is refused at start, naming the fix', async () => {
      const admin = new pg.Client({ connectionString: cluster.adminUrl });
      await admin.connect();
      const name = `locale_${process.pid}`;
      try {
        // A libc locale other than C if the machine has one, else ICU's en-US (Debian's server is built with ICU).
        const loc = (await admin.query<{ n: string }>("SELECT collcollate AS n FROM pg_collation WHERE collprovider = 'c' AND collcollate !~* '^(C|POSIX)([.@]|$)' ORDER BY collcollate LIMIT 1")).rows[0]?.n;
        await admin.query(loc ? `CREATE DATABASE ${name} TEMPLATE template0 LC_COLLATE '${loc}' LC_CTYPE '${loc}'`
          : `CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`);
      } finally {
        await admin.end();
      }
      const u = new URL(cluster.adminUrl);
      u.pathname = `/${name}`;
      await assert.rejects(openPostgres(u.toString()), /sorts text by locale .+; gitfleet needs C collation/);
    });

    test('an unreachable database fails at start', async () => {
      await assert.rejects(openPostgres('postgres://postgres@127.0.0.1:1/none'), /ECONNREFUSED/);
    });
  });
}

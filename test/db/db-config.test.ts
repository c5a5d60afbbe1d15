// db.url: absent = SQLite (the default, unchanged); a postgres:// URL from the file or GITFLEET_DB_URL; anything else refused.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, parseConfig } from '../../server/src/config.js';
import { ConfigError } from '../../server/src/errors.js';
import { openStore } from '../../server/src/db/open.js';

test('db.url defaults to unset (SQLite) and takes postgres:// URLs from the file or GITFLEET_DB_URL', () => {
  assert.equal(loadConfig([], {}).db.url, undefined);
  assert.equal(parseConfig({ db: { url: 'postgresql://u:p@db:5432/gitfleet' } }).db.url, 'postgresql://u:p@db:5432/gitfleet');
  assert.equal(loadConfig([], { GITFLEET_DB_URL: 'postgres://u@127.0.0.1/g' }).db.url, 'postgres://u@127.0.0.1/g');
});

test('a db.url that is not a postgres URL is a ConfigError naming db.url', () => {
  for (const url of ['mysql://u@h/db', 'sqlite:///tmp/x.db', 'postgres://', 'postgres://h/db with space']) {
    assert.throws(() => parseConfig({ db: { url } }), (err) => err instanceof ConfigError && err.problems.some((p) => p.includes('db.url')), url);
  }
  assert.throws(() => parseConfig({ db: { url: 'postgres://h/db', pool: 3 } }), (err) => err instanceof ConfigError && err.problems.some((p) => p.includes('pool')));
});

test('without db.url the store is SQLite in dataDir/gitfleet.db', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gf-dbcfg-'));
  try {
    const db = await openStore(parseConfig({ dataDir: dir }));
    assert.equal(db.dialect, 'sqlite');
    await db.run('CREATE TABLE t (x INTEGER)');
    await db.close();
    const again = await openStore({ dataDir: dir, db: {} });
    assert.deepEqual(await again.all('SELECT name FROM sqlite_master WHERE type = ?', ['table']), [{ name: 't' }]);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

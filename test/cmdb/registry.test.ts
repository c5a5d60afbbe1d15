// The provider registry matches the folders under server/src/cmdb/providers, and every provider conforms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../server/src/config.js';
import { createLogger } from '../../server/src/log.js';
import { providers, createProvider } from '../../server/src/cmdb/registry.js';
import { ConfigError } from '../../server/src/errors.js';
import type { Db } from '../../server/src/db/connection.js';

const DIR = join(import.meta.dirname, '..', '..', 'server', 'src', 'cmdb', 'providers');
const log = createLogger('silent');
const db = {} as Db;

test('every provider folder is registered and every registered provider has a folder', () => {
  const folders = readdirSync(DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  assert.deepEqual([...providers.keys()].sort(), folders);
});

test('each provider module exports its folder name as id and a create factory', async () => {
  for (const name of providers.keys()) {
    const mod = await import(join(DIR, name, 'index.ts')) as { id: string; create: unknown };
    assert.equal(mod.id, name);
    assert.equal(typeof mod.create, 'function');
    assert.equal(providers.get(name), mod.create);
  }
});

test('an unknown provider is a ConfigError naming the known ones', () => {
  const config = parseConfig({ inventory: { provider: 'nope' } });
  assert.throws(() => createProvider({ config, db, log }), (err: unknown) => err instanceof ConfigError && /inventory\.provider.*known: builtin, http, bkcmdb/.test(err.message));
});

test('providers name missing keys at start', () => {
  assert.throws(() => createProvider({ config: parseConfig({ inventory: { provider: 'http' } }), db, log }), /inventory\.http\.url: required/);
  assert.throws(() => createProvider({ config: parseConfig({ inventory: { provider: 'http', http: { url: 'http://x/hosts' } } }), db, log }), /must contain \{env\} and \{app\}/);
  assert.throws(() => createProvider({ config: parseConfig({ inventory: { provider: 'bkcmdb' } }), db, log }), (err: unknown) => err instanceof ConfigError
    && err.problems.some((p) => p.startsWith('inventory.bkcmdb.baseUrl')) && err.problems.some((p) => p.startsWith('inventory.bkcmdb.appSecret')));
  assert.throws(() => createProvider({ config: parseConfig({ inventory: { provider: 'bkcmdb', bkcmdb: { baseUrl: 'http://x', appCode: 'a', appSecret: 's', username: 'u' } } }), db, log }), /bizId: required/);
});

test('remote providers are wrapped in the answer cache when cacheTtl > 0; builtin never is', async () => {
  const config = parseConfig({ inventory: { provider: 'http', cacheTtl: 60, http: { url: 'http://127.0.0.1:9/{env}/{app}' } } });
  const p = createProvider({ config, db, log });
  assert.equal(typeof p.invalidate, 'function');
  const builtin = createProvider({ config: parseConfig({ inventory: { cacheTtl: 60 } }), db, log });
  assert.equal(builtin.invalidate, undefined);
});

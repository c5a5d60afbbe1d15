// One run of a source against a real SQLite store: counts, the safety rules (error, timeout, empty, too many deletions
// → nothing changes and the reason is recorded), per-record errors, other writers untouched, events after commit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../server/src/log.js';
import { InventoryEvents } from '../../server/src/inventory/events.js';
import { executeRun, type JobSource } from '../../server/src/hostsync/job.js';
import { resolveMapping } from '../../server/src/hostsync/mapping.js';
import { insertRun } from '../../server/src/db/host-sync.js';
import { insertHost, listHosts } from '../../server/src/db/hosts.js';
import { UpstreamUnavailableError } from '../../server/src/errors.js';
import type { SourceRecord } from '../../server/src/hostsync/source.js';
import { memDb, snapshot } from './helpers.js';

const rec = (n: number, env = 'prod', apps = 'shop', ip = `10.5.0.${n}`): SourceRecord => ({ uid: `u${n}`, ip, hostname: `h${n}`, fields: { env, apps } });

async function setup(list: (signal: AbortSignal) => Promise<SourceRecord[]>, over: Partial<JobSource> = {}) {
  const db = await memDb();
  const events = new InventoryEvents();
  const seen: string[] = [];
  events.on('host.added', (c) => seen.push(`added ${c.host.ip} ${c.origin}`));
  events.on('host.changed', (c) => seen.push(`changed ${c.host.ip} from ${c.previous?.env}/${c.previous?.apps.join('+')}`));
  events.on('host.removed', (c) => seen.push(`removed ${c.ip}`));
  let invalidated = 0;
  const deps = { db, events, clock: () => new Date(), log: createLogger('silent'), shutdown: new AbortController().signal, cmdb: { id: 'x', resolveHosts: async () => [], invalidate: () => { invalidated++; } } };
  const src: JobSource = { name: 'cmdb1', source: { type: 'test', list }, mapping: resolveMapping({}), timeoutSeconds: 1, maxDeleteShare: 0.5, maxRecordedErrors: 100, keepRuns: 100, ...over };
  const run = async (force = false) => executeRun(deps, src, await insertRun(db, src.name, 'test', 'test', new Date().toISOString()), { trigger: 'test', force });
  return { db, run, seen, invalidated: () => invalidated };
}

test('first run adds, second run modifies/adds/deletes by uid and hash, events fire after commit', async () => {
  let listing = [1, 2, 3, 4].map((n) => rec(n));
  const { db, run, seen, invalidated } = await setup(async () => listing);
  await db.tx((q) => insertHost(q, { ip: '10.5.0.99', env: 'prod', apps: ['shop'] }, { source: 'manual' }, 'x'));
  let r = await run();
  assert.deepEqual([r.status, r.listed, r.toAdd, r.added, r.toModify, r.toDelete], ['succeeded', 4, 4, 4, 0, 0]);
  assert.equal(seen.filter((s) => s.startsWith('added')).length, 4);
  assert.ok(seen.includes('added 10.5.0.1 cmdb1'));
  seen.length = 0;
  listing = [rec(1), rec(2, 'test'), rec(3), rec(5)];
  r = await run();
  assert.deepEqual([r.status, r.unchanged, r.toAdd, r.added, r.toModify, r.modified, r.toDelete, r.deleted], ['succeeded', 2, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(seen.sort(), ['added 10.5.0.5 cmdb1', 'changed 10.5.0.2 from prod/shop', 'removed 10.5.0.4']);
  assert.ok(invalidated() >= 2, 'CMDB answer cache invalidated after changes');
  const hosts = await listHosts(db);
  assert.deepEqual(hosts.map((h) => `${h.ip}:${h.source}:${h.sourceUid ?? ''}:${h.env}`).sort(), ['10.5.0.1:cmdb1:u1:prod', '10.5.0.2:cmdb1:u2:test', '10.5.0.3:cmdb1:u3:prod', '10.5.0.5:cmdb1:u5:prod', '10.5.0.99:manual::prod']);
  await db.close();
});

test('safety: error, timeout, empty listing, too many deletions → nothing changes, reason recorded; force overrides the share', async () => {
  let mode = 'ok';
  const full = Array.from({ length: 10 }, (_, i) => rec(i + 1));
  const { db, run, seen } = await setup(async (signal) => {
    if (mode === 'error') throw new UpstreamUnavailableError('cmdb down (HTTP 503)');
    if (mode === 'hang') return new Promise((_r, rej) => signal.addEventListener('abort', () => rej(new UpstreamUnavailableError('aborted'))));
    if (mode === 'empty') return [];
    if (mode === 'shrunk') return full.slice(0, 4);
    return full;
  });
  await run();
  const before = await snapshot(db);
  seen.length = 0;
  const expect: Array<[string, string, RegExp]> = [
    ['error', 'error', /cmdb down \(HTTP 503\)/],
    ['hang', 'error', /did not finish within 1 s/],
    ['empty', 'refused', /returned no hosts; refusing to delete its 10 host/],
    ['shrunk', 'refused', /would delete 6 of the source's 10 hosts \(60%\), over the limit of 50%/],
  ];
  for (const [m, status, re] of expect) {
    mode = m;
    const r = await run();
    assert.equal(r.status, status, m);
    assert.match(r.error ?? '', re);
    assert.deepEqual(await snapshot(db), before, `${m}: nothing changed`);
  }
  assert.deepEqual(seen, [], 'no events');
  const refused = (await db.all<{ to_delete: number }>(`SELECT to_delete FROM host_sync_runs WHERE status = 'refused' ORDER BY id`)).map((r) => r.to_delete);
  assert.deepEqual(refused, [10, 6], 'what the run would have done is recorded');
  mode = 'shrunk';
  const forced = await run(true);
  assert.deepEqual([forced.status, forced.deleted], ['succeeded', 6]);
  await db.close();
});

test('per-record errors: bad records keep their hosts, IP conflicts with other writers are refused, partial status', async () => {
  let listing = [rec(1), rec(2), rec(3)];
  const { db, run } = await setup(async () => listing);
  await db.tx((q) => insertHost(q, { ip: '10.5.0.50', env: 'prod', apps: [] }, { source: 'other-source', sourceUid: 'x', hash: 'h' }, 'x'));
  await run();
  const before = await snapshot(db);
  // u1 becomes invalid (no env), u2 wants another source's IP, u4 is new with a bad env, u5 has no uid/IP.
  listing = [{ ...rec(1), fields: { apps: 'shop' } }, rec(2, 'prod', 'shop', '10.5.0.50'), rec(3), rec(4, 'not valid!'), { uid: '', fields: {} }];
  const r = await run();
  assert.equal(r.status, 'partial');
  assert.equal(r.recordErrors, 4);
  assert.match(r.error ?? '', /1 record\(s\) without uid or IP: deletions are skipped/);
  const full = await (await import('../../server/src/db/host-sync.js')).getRun(db, r.id);
  assert.deepEqual(full!.details!.map((d) => d.uid), ['', 'u1', 'u4', 'u2']);
  assert.match(full!.details![3]!.error, /10\.5\.0\.50 is already held by source other-source/);
  assert.deepEqual(await snapshot(db), before, 'u1 and u2 untouched, the other source untouched');
  await db.close();
});

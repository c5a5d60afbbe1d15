// Reconcile by uid/hash (pure) and its application in one transaction: tables for the rules, and a randomised property:
// after a run the source's hosts equal the listing exactly (except records refused with a per-record error, whose
// hosts stay as they were) and every host of other writers is untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { reconcile, type Candidate, type LocalHost } from '../../server/src/hostsync/reconcile.js';
import { hashHost } from '../../server/src/hostsync/mapping.js';
import { applyPlan, foreignIps, sourceHosts } from '../../server/src/db/host-sync.js';
import { insertHost, listHosts } from '../../server/src/db/hosts.js';
import { memDb, snapshot } from './helpers.js';

const cand = (uid: string, ip: string, env = 'prod', apps = ['shop']): Candidate => {
  const host = { ip, hostname: null, env, apps, port: null, user: null, labels: {} };
  return { uid, hash: hashHost(host), host };
};
const loc = (id: number, c: Candidate): LocalHost => ({ id, uid: c.uid, hash: c.hash, ip: c.host.ip });

test('add / modify / delete / unchanged by uid and hash; the add set is not the modify set', () => {
  const a = cand('a', '10.0.0.1'), b = cand('b', '10.0.0.2'), c = cand('c', '10.0.0.3');
  const b2 = cand('b', '10.0.0.2', 'test'), d = cand('d', '10.0.0.4');
  const p = reconcile({ local: [loc(1, a), loc(2, b), loc(3, c)], records: [a, b2, d], foreign: new Map() });
  assert.deepEqual(p.add.map((x) => x.uid), ['d']);
  assert.deepEqual(p.modify.map((x) => [x.uid, x.id]), [['b', 2]]);
  assert.deepEqual(p.delete.map((x) => x.uid), ['c']);
  assert.equal(p.unchanged, 1);
  assert.deepEqual(p.errors, []);
});

test('conflicts: foreign IPs, duplicate IPs and uids in the listing, kept uids, deletions off', () => {
  const a = cand('a', '10.0.0.1');
  const p = reconcile({
    local: [loc(1, a), loc(2, cand('k', '10.0.0.9'))],
    records: [cand('a', '10.0.0.5'), cand('n1', '10.0.0.7'), cand('n2', '10.0.0.7'), cand('n3', '10.0.0.8'), cand('n3', '10.0.0.6'), cand('m', '10.0.0.1')],
    keep: ['k'],
    foreign: new Map([['10.0.0.5', 'manual']]),
  });
  // a wants a manual host's IP → refused, keeps 10.0.0.1 → m (new) cannot take 10.0.0.1 either.
  assert.deepEqual(p.errors.map((e) => e.uid), ['a', 'm', 'n2', 'n3']);
  assert.match(p.errors[0]!.error, /10\.0\.0\.5 is already held by a manually entered host/);
  assert.deepEqual(p.add.map((x) => x.uid), ['n1']);
  assert.deepEqual(p.delete, [], 'k is kept (its record had an error)');
  const off = reconcile({ local: [loc(1, a)], records: [cand('z', '10.0.0.2')], foreign: new Map(), allowDeletes: false });
  assert.deepEqual(off.delete, []);
});

test('two hosts swapping IPs is applied (placeholder) in one transaction', async () => {
  const db = await memDb();
  const a = cand('a', '10.0.0.1'), b = cand('b', '10.0.0.2');
  const now = '2026-01-01T00:00:00Z';
  await db.tx(async (q) => { await insertHost(q, a.host, { source: 's', sourceUid: 'a', hash: a.hash }, now); await insertHost(q, b.host, { source: 's', sourceUid: 'b', hash: b.hash }, now); });
  const res = await db.tx(async (q) => applyPlan(q, 's', reconcile({ local: await sourceHosts(q, 's'), records: [cand('a', '10.0.0.2'), cand('b', '10.0.0.1')], foreign: new Map() }), now));
  assert.deepEqual(res.errors, []);
  assert.deepEqual((await listHosts(db, { source: 's' })).map((h) => [h.sourceUid, h.ip]), [['a', '10.0.0.2'], ['b', '10.0.0.1']]);
  await db.close();
});

// ---- property ----

const IPS = Array.from({ length: 24 }, (_, i) => `10.9.0.${i + 1}`);
const UIDS = Array.from({ length: 16 }, (_, i) => `u${i}`);
const ENVS = ['prod', 'test'];
const APPS = ['shop', 'pay', 'search'];

const hostArb = fc.record({ ip: fc.constantFrom(...IPS), env: fc.constantFrom(...ENVS), apps: fc.subarray(APPS), tier: fc.constantFrom('a', 'b') });
const scenario = fc.record({
  own: fc.uniqueArray(fc.record({ uid: fc.constantFrom(...UIDS), h: hostArb }), { selector: (x) => x.uid, maxLength: 12 }),
  others: fc.array(fc.record({ source: fc.constantFrom('manual', 'other'), h: hostArb }), { maxLength: 6 }),
  listing: fc.array(fc.record({ uid: fc.constantFrom(...UIDS), h: hostArb }), { maxLength: 14 }),
});

test('property: the source ends up equal to its listing; other writers are untouched', async () => {
  await fc.assert(fc.asyncProperty(scenario, async ({ own, others, listing }) => {
    const db = await memDb();
    try {
      const now = '2026-01-01T00:00:00Z';
      const toInput = (h: { ip: string; env: string; apps: string[]; tier: string }) => ({ ip: h.ip, hostname: null, env: h.env, apps: [...h.apps].sort(), port: null, user: null, labels: { tier: h.tier } });
      const used = new Set<string>();
      await db.tx(async (q) => {
        for (const o of own) if (!used.has(o.h.ip)) { used.add(o.h.ip); const i = toInput(o.h); await insertHost(q, i, { source: 's', sourceUid: o.uid, hash: hashHost(i) }, now); }
        for (const o of others) if (!used.has(o.h.ip)) { used.add(o.h.ip); await insertHost(q, toInput(o.h), { source: o.source }, now); }
      });
      const before = await snapshot(db);
      const ownBefore = new Map((await listHosts(db, { source: 's' })).map((h) => [h.sourceUid!, h]));
      const records = listing.map((l) => { const host = toInput(l.h); return { uid: l.uid, hash: hashHost(host), host }; });

      const { plan, applied } = await db.tx(async (q) => {
        const p = reconcile({ local: await sourceHosts(q, 's'), records, foreign: await foreignIps(q, 's') });
        return { plan: p, applied: await applyPlan(q, 's', p, '2026-01-02T00:00:00Z') };
      });
      const failed = new Set([...plan.errors, ...applied.errors].map((e) => e.uid));
      assert.deepEqual(applied.errors, [], 'nothing fails at apply time: the plan was made in the same transaction');

      // Others: byte for byte the same rows.
      const after = await snapshot(db);
      for (const [id, row] of before) if (row.source !== 's') assert.deepEqual(after.get(id), row, `foreign host ${id} untouched`);
      for (const [id, row] of after) if (!before.has(id)) assert.equal(row.source, 's', 'only the source adds hosts');

      // The source: each listed uid without an error is stored exactly as listed; errored uids are as they were.
      const ownAfter = new Map((await listHosts(db, { source: 's' })).map((h) => [h.sourceUid!, h]));
      const wanted = new Map(records.filter((r) => !failed.has(r.uid)).map((r) => [r.uid, r]));
      for (const [uid, r] of wanted) {
        const h = ownAfter.get(uid);
        assert.ok(h, `listed uid ${uid} present`);
        assert.deepEqual({ ip: h.ip, env: h.env, apps: h.apps, labels: h.labels, hash: h.hash }, { ip: r.host.ip, env: r.host.env, apps: r.host.apps, labels: r.host.labels, hash: r.hash });
      }
      for (const [uid, h] of ownAfter) {
        if (wanted.has(uid)) continue;
        assert.ok(failed.has(uid), `unlisted uid ${uid} was deleted`);
        const b = ownBefore.get(uid)!;
        assert.deepEqual({ ip: h.ip, env: h.env, apps: h.apps, hash: h.hash }, { ip: b.ip, env: b.env, apps: b.apps, hash: b.hash }, `errored uid ${uid} unchanged`);
      }
      if (failed.size === 0) assert.deepEqual([...ownAfter.keys()].sort(), [...new Set(records.map((r) => r.uid))].sort(), 'no errors → exactly the listing');
      // Running the same listing again changes nothing.
      const again = await db.tx(async (q) => reconcile({ local: await sourceHosts(q, 's'), records, foreign: await foreignIps(q, 's') }));
      assert.equal(again.add.length + again.modify.length + again.delete.length, 0, 'a second run is a no-op');
    } finally {
      await db.close();
    }
  }), { numRuns: 150 });
});

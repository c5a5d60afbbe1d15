// Model-based test of the host-push state machine of the cluster work queue (db/work-queue.ts), with fast-check, on
// SQLite and PostgreSQL: random sequences of queue / claim / finish (own or stale attempt) / heartbeat / expire /
// reap / requeue run against the store and against a small model of the rows. After every command: the store agrees
// with the model (status, attempt, owner), running rows per DC ≤ the cap, at most one running row per unit+host,
// every running row has an owner and a lease, attempts only grow; a finish is accepted only from the current
// attempt's holder, at most once per attempt, and a refused one changes nothing. At the end every row is pending or
// final once the leases expire, and a worker drains the queue.
// GITFLEET_QUEUE_PROP_RUNS sets the number of runs per store (default 250 SQLite, 100 PostgreSQL).
import { strict as assert } from 'node:assert';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import type { Db } from '../../server/src/db/connection.js';
import { insertDeployment, type HostPushResult } from '../../server/src/db/deployments.js';
import {
  claimHostPushes, ensureHostPushes, finishHostPushFenced, heartbeat, queueHostPushes, reapExpired, requeueHostPush,
} from '../../server/src/db/work-queue.js';
import { queueStores } from '../helpers/queue-stores.js';

const WORKERS = ['w0', 'w1', 'w2', 'w3'] as const;
const DCS = ['bx', 'wgq', null] as const;
const UNITS = ['m/prod/web', 'm/prod/api'] as const;
const IPS = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'] as const;
const LEASE = 60; // never runs out by itself during a run: expiry is the Expire command's
const PAST = '2000-01-01T00:00:00.000Z';
const MAX_ROWS = 30;

type Final = 'succeeded' | 'failed';
interface MRow {
  id: number; dep: number; unit: string; ip: string; dc: string | null;
  queued: boolean; status: 'pending' | 'running' | Final; owner: string | null; attempt: number; expired: boolean;
}
interface Model {
  dcCap: number;
  rows: Map<number, MRow>;
  /** What each worker believes it runs (kept after a reap: the late worker still tries to finish). */
  claims: Map<string, Array<{ id: number; attempt: number }>>;
  /** Pushes each worker reported already (it may report one again: a retried request). */
  finished: Map<string, Array<{ id: number; attempt: number }>>;
  /** Attempts recorded final, per row: never twice. */
  recorded: Set<string>;
  /** The commit each unit+host was last recorded at. */
  commits: Map<string, string>;
}
interface DbRow { id: number; unit: string; ip: string; dc: string | null; status: string; attempt: number; lease_owner: string | null; lease_until: string | null; reason: string | null; queued_at: string | null }
interface Real { db: Db; deps: number[]; last: Map<number, DbRow> }

const key = (r: { unit: string; ip: string }) => `${r.unit}\u0000${r.ip}`;
const iso = () => new Date().toISOString();
const rowsOf = (m: Model) => [...m.rows.values()].sort((a, b) => a.id - b.id);
const result = (status: Final, tag: string): HostPushResult => ({ status, exitCode: status === 'succeeded' ? 0 : 23, reason: tag, changes: [`/etc/${tag}`], stderrTail: null, attempts: 1, durationMs: 3 });
const readRows = async (db: Db) => db.all<DbRow>('SELECT id, unit, ip, dc, status, attempt, lease_owner, lease_until, reason, queued_at FROM host_pushes ORDER BY id');
const readRow = async (db: Db, id: number) => db.get<DbRow>('SELECT id, unit, ip, dc, status, attempt, lease_owner, lease_until, reason, queued_at FROM host_pushes WHERE id = ?', [id]);

/** The claim as specified: queued pending rows of the worker's DC (or none), preferred hosts first then by id, skipping a
 * unit+host that runs (or was taken in this claim) and DCs at their cap, up to `free`. */
function expectedClaim(m: Model, dc: string | null, free: number, prefer: ReadonlySet<string>): number[] {
  if (free <= 0) return [];
  const all = rowsOf(m);
  const busy = new Set(all.filter((r) => r.status === 'running').map(key));
  const running = new Map<string, number>();
  for (const r of all) if (r.status === 'running') running.set(r.dc ?? '', (running.get(r.dc ?? '') ?? 0) + 1);
  const cands = all.filter((r) => r.status === 'pending' && r.queued && (dc === null || r.dc === dc || r.dc === null) && !busy.has(key(r)));
  const ordered = [...cands.filter((r) => prefer.has(r.ip)), ...cands.filter((r) => !prefer.has(r.ip))];
  const out: number[] = [];
  for (const r of ordered) {
    if (out.length >= free) break;
    const d = r.dc ?? '';
    if ((running.get(d) ?? 0) >= m.dcCap || busy.has(key(r))) continue;
    running.set(d, (running.get(d) ?? 0) + 1);
    busy.add(key(r));
    out.push(r.id);
  }
  return out.sort((a, b) => a - b);
}

/** The invariants, read from the store after every command, and the store's agreement with the model. */
let executed = 0;
/** What the runs did (printed at the end: a run that claims nothing proves little). */
const stats = new Map<string, number>();
const count = (what: string, n = 1) => stats.set(what, (stats.get(what) ?? 0) + n);

async function checkInvariants(m: Model, real: Real, after: string): Promise<void> {
  executed++;
  count(after.replace(/\(.*$/, ''));
  const rows = await readRows(real.db);
  assert.deepEqual(rows.map((r) => r.id), rowsOf(m).map((r) => r.id), `${after}: the rows`);
  const perDc = new Map<string, number>();
  const perKey = new Set<string>();
  for (const r of rows) {
    const mr = m.rows.get(r.id)!;
    assert.equal(r.status, mr.status, `${after}: row ${r.id} status`);
    assert.equal(r.attempt, mr.attempt, `${after}: row ${r.id} attempt`);
    assert.equal(r.queued_at !== null, mr.queued, `${after}: row ${r.id} queued`);
    const prev = real.last.get(r.id);
    if (prev) assert.ok(r.attempt >= prev.attempt, `${after}: row ${r.id} attempt went from ${prev.attempt} to ${r.attempt}`);
    if (r.status !== 'running') continue;
    assert.equal(r.lease_owner, mr.owner, `${after}: row ${r.id} owner`);
    assert.ok(r.lease_owner && r.lease_until, `${after}: running row ${r.id} has an owner and a lease`);
    const dc = r.dc ?? '';
    perDc.set(dc, (perDc.get(dc) ?? 0) + 1);
    assert.ok(perDc.get(dc)! <= m.dcCap, `${after}: ${perDc.get(dc)} running in DC '${dc}' (cap ${m.dcCap})`);
    assert.ok(!perKey.has(key(r)), `${after}: two running rows of ${r.unit} on ${r.ip}`);
    perKey.add(key(r));
  }
  real.last = new Map(rows.map((r) => [r.id, r]));
  const commits = await real.db.all<{ unit: string; ip: string; commit_sha: string }>('SELECT unit, ip, commit_sha FROM unit_hosts');
  assert.deepEqual(new Map(commits.map((c) => [key(c), c.commit_sha])), m.commits, `${after}: the hosts' commits`);
}

type Cmd = fc.AsyncCommand<Model, Real>;

class Add implements Cmd {
  constructor(readonly dep: number, readonly unit: string, readonly ip: string, readonly dc: string | null, readonly queue: boolean) {}
  check(m: Readonly<Model>) { return m.rows.size < MAX_ROWS; }
  async run(m: Model, real: Real) {
    const depId = real.deps[this.dep]!;
    const had = rowsOf(m).find((r) => r.dep === depId && r.unit === this.unit && r.ip === this.ip);
    const id = (await ensureHostPushes(real.db, depId, this.unit, [{ ip: this.ip, dc: this.dc }])).get(this.ip)!;
    if (had) assert.equal(id, had.id, 'an existing row is reused');
    else {
      assert.ok(!m.rows.has(id), 'a new row has a new id');
      m.rows.set(id, { id, dep: depId, unit: this.unit, ip: this.ip, dc: this.dc, queued: false, status: 'pending', owner: null, attempt: 0, expired: false });
    }
    if (this.queue) {
      await queueHostPushes(real.db, [id]);
      const r = m.rows.get(id)!;
      if (r.status === 'pending') r.queued = true;
    }
    await checkInvariants(m, real, this.toString());
  }
  toString() { return `Add(d${this.dep}, ${this.unit}, ${this.ip}, ${this.dc}, queue=${this.queue})`; }
}

class Claim implements Cmd {
  constructor(readonly worker: string, readonly dc: string | null, readonly free: number, readonly prefer: string[]) {}
  check() { return true; }
  async run(m: Model, real: Real) {
    const prefer = new Set(this.prefer);
    const want = expectedClaim(m, this.dc, this.free, prefer);
    // Host affinity (a row waits briefly for its host's last live worker) is off here: the conformance suite covers it.
    const got = await claimHostPushes(real.db, this.worker, LEASE, { dc: this.dc, free: this.free, dcCap: m.dcCap, prefer, affinitySeconds: 0 });
    assert.deepEqual(got.map((g) => g.id), want, `${this}: claimed ids`);
    count('rows claimed', got.length);
    for (const g of got) {
      const r = m.rows.get(g.id)!;
      r.status = 'running';
      r.owner = this.worker;
      r.attempt += 1;
      r.expired = false;
      assert.deepEqual([g.attempt, g.unit, g.ip, g.dc, g.deploymentId], [r.attempt, r.unit, r.ip, r.dc, r.dep], `${this}: claimed row ${g.id}`);
      m.claims.set(this.worker, [...(m.claims.get(this.worker) ?? []), { id: g.id, attempt: g.attempt }]);
    }
    await checkInvariants(m, real, this.toString());
  }
  toString() { return `Claim(${this.worker}, dc=${this.dc}, free=${this.free}, prefer=[${this.prefer.join(' ')}])`; }
}

/** own: the attempt the worker was given; stale: the one before; again: a push it finished already, reported again. */
type FinishMode = 'own' | 'stale' | 'again';

class Finish implements Cmd {
  constructor(readonly worker: string, readonly pick: number, readonly mode: FinishMode, readonly status: Final) {}
  check(m: Readonly<Model>) { return ((this.mode === 'again' ? m.finished : m.claims).get(this.worker)?.length ?? 0) > 0; }
  async run(m: Model, real: Real) {
    const list = (this.mode === 'again' ? m.finished : m.claims).get(this.worker)!;
    const claim = list[this.pick % list.length]!;
    const attempt = this.mode === 'stale' ? claim.attempt - 1 : claim.attempt;
    const r = m.rows.get(claim.id)!;
    const accept = r.status === 'running' && r.owner === this.worker && r.attempt === attempt;
    const tag = `${this.worker}#${attempt}`;
    const commit = this.status === 'succeeded' ? { unit: r.unit, ip: r.ip, commit: `c${claim.id}-${attempt}`, deploymentId: r.dep } : null;
    const before = await readRow(real.db, claim.id);
    const ok = await finishHostPushFenced(real.db, { id: claim.id, owner: this.worker, attempt }, result(this.status, tag), commit, iso());
    assert.equal(ok, accept, `${this}: finish of row ${claim.id} attempt ${attempt} (row: ${r.status}, ${r.owner}, attempt ${r.attempt})`);
    count(ok ? 'finish accepted' : `finish refused (${this.mode})`);
    if (ok) {
      const rec = `${claim.id}/${attempt}`;
      assert.ok(!m.recorded.has(rec), `${this}: row ${claim.id} attempt ${attempt} recorded twice`);
      m.recorded.add(rec);
      r.status = this.status;
      r.owner = null;
      if (commit) m.commits.set(key(r), commit.commit);
      const after = (await readRow(real.db, claim.id))!;
      assert.deepEqual([after.status, after.reason], [this.status, tag], `${this}: the result recorded`);
    } else {
      assert.deepEqual(await readRow(real.db, claim.id), before, `${this}: a refused finish changes nothing`);
    }
    // A worker forgets a push once it reported it (accepted or refused); a stale try keeps the real one.
    if (this.mode === 'own') {
      list.splice(list.indexOf(claim), 1);
      m.finished.set(this.worker, [...(m.finished.get(this.worker) ?? []), claim]);
    }
    await checkInvariants(m, real, this.toString());
  }
  toString() { return `Finish(${this.worker}, #${this.pick}, ${this.mode} attempt, ${this.status})`; }
}

class Heartbeat implements Cmd {
  constructor(readonly worker: string) {}
  check() { return true; }
  async run(m: Model, real: Real) {
    const held = rowsOf(m).filter((r) => r.status === 'running' && r.owner === this.worker);
    const hb = await heartbeat(real.db, { id: this.worker, role: 'worker', dc: null }, LEASE);
    assert.deepEqual([...hb.hosts].sort((a, b) => a - b), held.map((r) => r.id), `${this}: the rows still held`);
    for (const r of held) r.expired = false;
    await checkInvariants(m, real, this.toString());
  }
  toString() { return `Heartbeat(${this.worker})`; }
}

class Expire implements Cmd {
  constructor(readonly pick: number) {}
  check(m: Readonly<Model>) { return [...m.rows.values()].some((r) => r.status === 'running'); }
  async run(m: Model, real: Real) {
    const running = rowsOf(m).filter((r) => r.status === 'running');
    const r = running[this.pick % running.length]!;
    await real.db.run('UPDATE host_pushes SET lease_until = ? WHERE id = ?', [PAST, r.id]);
    r.expired = true;
    await checkInvariants(m, real, this.toString());
  }
  toString() { return `Expire(#${this.pick})`; }
}

class Reap implements Cmd {
  check() { return true; }
  async run(m: Model, real: Real) {
    const due = rowsOf(m).filter((r) => r.status === 'running' && r.expired);
    const got = await reapExpired(real.db);
    assert.deepEqual(got.hosts.map((h) => h.id).sort((a, b) => a - b), due.map((r) => r.id), 'Reap: the expired rows');
    count('rows reaped', due.length);
    for (const r of due) { r.status = 'pending'; r.owner = null; r.expired = false; }
    await checkInvariants(m, real, this.toString());
  }
  toString() { return 'Reap'; }
}

class Requeue implements Cmd {
  constructor(readonly pick: number) {}
  check(m: Readonly<Model>) { return [...m.rows.values()].some((r) => r.status === 'succeeded' || r.status === 'failed'); }
  async run(m: Model, real: Real) {
    const done = rowsOf(m).filter((r) => r.status === 'succeeded' || r.status === 'failed');
    const r = done[this.pick % done.length]!;
    await requeueHostPush(real.db, r.id);
    if (r.status === 'failed') { r.status = 'pending'; r.queued = true; }
    await checkInvariants(m, real, this.toString());
  }
  toString() { return `Requeue(#${this.pick})`; }
}

const add = fc.tuple(fc.nat(2), fc.constantFrom(...UNITS), fc.constantFrom(...IPS), fc.constantFrom(...DCS), fc.boolean()).map(([d, u, ip, dc, q]) => new Add(d, u, ip, dc, q));
const claim = fc.tuple(fc.constantFrom(...WORKERS), fc.constantFrom(...DCS), fc.nat(4), fc.subarray([...IPS], { maxLength: 2 })).map(([w, dc, free, p]) => new Claim(w, dc, free, p));
const finish = fc.tuple(fc.constantFrom(...WORKERS), fc.nat(20), fc.constantFrom<FinishMode>('own', 'own', 'stale', 'again'), fc.constantFrom<Final>('succeeded', 'failed'))
  .map(([w, p, mode, st]) => new Finish(w, p, mode, st));
// Listed more than once: drawn more often (a Finish needs a claim first, a claim needs queued rows).
const commandsArb = fc.commands([
  add, add, claim, claim, finish, finish, finish,
  fc.constantFrom(...WORKERS).map((w) => new Heartbeat(w)),
  fc.nat(20).map((p) => new Expire(p)),
  fc.constant(new Reap()),
  fc.nat(20).map((p) => new Requeue(p)),
], { maxCommands: 60, size: 'max' });

for (const store of queueStores()) {
  describe(`host-push state machine on ${store.name}`, () => {
    after(() => store.close());

    test('random queue/claim/finish/heartbeat/expire/reap sequences keep the queue\'s invariants', async () => {
      const db = await store.fresh();
      const deps: number[] = [];
      for (let i = 0; i < 3; i++) {
        deps.push(await db.tx((q) => insertDeployment(q, { trigger: 'manual', branch: 'main', request: { kind: 'sync', trigger: 'manual', units: [...UNITS] } }, iso())));
      }
      const runs = Number(process.env.GITFLEET_QUEUE_PROP_RUNS ?? (store.name === 'sqlite' ? 250 : 100));
      const t0 = Date.now();
      executed = 0;
      stats.clear();
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 3 }), commandsArb, async (dcCap, cmds) => {
        await db.run('DELETE FROM host_pushes');
        await db.run('DELETE FROM unit_hosts');
        const model: Model = { dcCap, rows: new Map(), claims: new Map(), finished: new Map(), recorded: new Set(), commits: new Map() };
        const real: Real = { db, deps, last: new Map() };
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        // Every lease runs out (all workers died): nothing stays running, every row is pending or final.
        await db.run("UPDATE host_pushes SET lease_until = ? WHERE status = 'running'", [PAST]);
        await reapExpired(db);
        const left = await db.all<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM host_pushes GROUP BY status');
        for (const s of left) assert.ok(['pending', 'succeeded', 'failed'].includes(s.status), `a row left ${s.status}`);
        // Every worker of the run is gone (no warm worker to wait for: host affinity applies to live workers only).
        await db.run('UPDATE cluster_nodes SET seen_at = ?', [PAST]);
        // A live worker then drains everything queued (the rest was never queued: it stays pending, never claimed).
        for (let i = 0; i < 100; i++) {
          const got = await claimHostPushes(db, 'drain', LEASE, { dc: null, free: 10, dcCap });
          if (!got.length) break;
          for (const g of got) assert.equal(await finishHostPushFenced(db, { id: g.id, owner: 'drain', attempt: g.attempt }, result('succeeded', 'drain'), null, iso()), true);
        }
        const open = await db.all<{ id: number; status: string; queued_at: string | null }>("SELECT id, status, queued_at FROM host_pushes WHERE status NOT IN ('succeeded', 'failed')");
        for (const r of open) assert.deepEqual([r.status, r.queued_at], ['pending', null], `row ${r.id} left open although queued`);
      }), { numRuns: runs });
      process.stderr.write(`queue properties on ${store.name}: ${runs} runs, ${executed} commands, ${((Date.now() - t0) / 1000).toFixed(1)} s; ${JSON.stringify(Object.fromEntries(stats))}\n`);
    });
  });
}

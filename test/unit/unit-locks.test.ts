// UnitLocks: whole-unit runs one at a time; host-scoped runs wait only for runs on their hosts; nothing ever
// runs on the same host of a unit at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnitLocks } from '../../server/src/deploy/unit-locks.js';

/** A run that stays open until release() is called; `started` resolves when its body begins. */
function gate() {
  let release!: () => void;
  let start!: () => void;
  const open = new Promise<void>((r) => { release = r; });
  const started = new Promise<void>((r) => { start = r; });
  return { release, started, body: async () => { start(); await open; } };
}
const settled = async (p: Promise<unknown>) => Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), 20))]);

describe('UnitLocks', () => {
  it('a host-scoped run does not wait for a whole-unit run that declared other hosts, but does for one that declared its host', async () => {
    const locks = new UnitLocks();
    const whole = gate();
    const w = locks.wholeUnit('u', async (declare) => { await declare(['10.0.0.1', '10.0.0.2']); await whole.body(); });
    await whole.started;
    assert.equal(await settled(locks.hosts('u', ['10.0.0.3'], async () => undefined)), true, 'disjoint host: runs now');
    const same = locks.hosts('u', ['10.0.0.2'], async () => undefined);
    assert.equal(await settled(same), false, 'its host is being pushed: waits');
    assert.equal(await settled(locks.hosts('v', ['10.0.0.2'], async () => undefined)), true, 'another unit is independent');
    whole.release();
    await w;
    assert.equal(await settled(same), true);
    assert.equal(locks.claimCount('u'), 0);
  });

  it('a whole-unit run waits for the previous whole-unit run, and on declaring for earlier runs on its hosts', async () => {
    const locks = new UnitLocks();
    const first = gate();
    const w1 = locks.wholeUnit('u', async (declare) => { await declare(['a']); await first.body(); });
    await first.started;
    const order: string[] = [];
    const scoped = gate();
    const s = locks.hosts('u', ['b'], async () => { order.push('scoped b'); await scoped.body(); });
    await scoped.started;
    let declared = false;
    const w2 = locks.wholeUnit('u', async (declare) => { order.push('w2 locked'); await declare(['a', 'b']); declared = true; order.push('w2 runs'); });
    assert.equal(await settled(w2), false);
    first.release();
    await w1;
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(declared, false, 'w2 waits for the scoped run on b, claimed before it declared');
    scoped.release();
    await Promise.all([s, w2]);
    assert.deepEqual(order, ['scoped b', 'w2 locked', 'w2 runs']);
  });

  it('a host-scoped run does not wait for a whole-unit run still waiting for the lock; that one waits for it instead', async () => {
    const locks = new UnitLocks();
    const first = gate();
    const w1 = locks.wholeUnit('u', async (declare) => { await declare(['dead']); await first.body(); });
    await first.started;
    const order: string[] = [];
    const w2 = locks.wholeUnit('u', async (declare) => { await declare(['new']); order.push('w2 on new'); });
    const scoped = gate();
    const s = locks.hosts('u', ['new'], async () => { order.push('converge new'); await scoped.body(); });
    await scoped.started;
    first.release();
    await w1;
    assert.equal(await settled(w2), false, 'w2 waits for the converge on its host');
    scoped.release();
    await Promise.all([s, w2]);
    assert.deepEqual(order, ['converge new', 'w2 on new']);
  });

  it('host-scoped runs on the same host go one at a time, in order; "all" (drift checks) overlaps every host', async () => {
    const locks = new UnitLocks();
    let active = 0; let peak = 0;
    const order: number[] = [];
    await Promise.all(Array.from({ length: 5 }, (_, i) => locks.hosts('u', ['h', `x${i}`], async () => {
      active++; peak = Math.max(peak, active); order.push(i);
      await new Promise((r) => setTimeout(r, 2));
      active--;
    })));
    assert.equal(peak, 1);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    const drift = gate();
    const d = locks.wholeUnit('u', async (declare) => { await declare('all'); await drift.body(); });
    await drift.started;
    assert.equal(await settled(locks.hosts('u', ['anything'], async () => undefined)), false);
    drift.release();
    await d;
  });

  it('declaring twice is refused (a second claim could deadlock)', async () => {
    const locks = new UnitLocks();
    await assert.rejects(locks.wholeUnit('u', async (declare) => { await declare(['a']); await declare(['b']); }), /declared twice/);
    assert.equal(locks.claimCount('u'), 0);
  });
});

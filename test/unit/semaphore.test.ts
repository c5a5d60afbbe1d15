import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyedLock, Semaphore } from '../../server/src/util/semaphore.js';

const tick = () => new Promise((r) => setTimeout(r, 2));

describe('Semaphore', () => {
  it('never runs more than its capacity at once', async () => {
    const s = new Semaphore(3);
    let active = 0; let peak = 0;
    await Promise.all(Array.from({ length: 20 }, () => s.run(async () => { active++; peak = Math.max(peak, active); await tick(); active--; })));
    assert.equal(peak, 3);
    assert.equal(s.running, 0);
  });
  it('rejects waiters when aborted and never starts them', async () => {
    const s = new Semaphore(1);
    const ac = new AbortController();
    let started = 0;
    const first = s.run(async () => { started++; await tick(); await tick(); });
    const second = s.run(async () => { started++; }, ac.signal);
    ac.abort(new Error('draining'));
    await assert.rejects(second, /draining/);
    await first;
    assert.equal(started, 1);
  });
});

describe('KeyedLock', () => {
  it('runs work of one key one at a time and other keys side by side', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const job = (key: string, name: string) => lock.run(key, async () => { log.push(`start ${name}`); await tick(); log.push(`end ${name}`); });
    await Promise.all([job('a', 'a1'), job('a', 'a2'), job('b', 'b1')]);
    assert.ok(log.indexOf('end a1') < log.indexOf('start a2'));
    assert.ok(log.indexOf('start b1') < log.indexOf('end a1'));
    assert.equal(lock.isBusy('a'), false);
  });
});

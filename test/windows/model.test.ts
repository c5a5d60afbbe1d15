// The time maths of sync windows (PURE): durations, time zones across DST changes, midnight, overlaps, Argo CD rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../server/src/config.js';
import { ConfigError } from '../../server/src/errors.js';
import { parseDuration, TimedWindow, unblockedAt, windowsBlocking, type Window } from '../../server/src/windows/model.js';

const win = (w: Partial<Window> & Pick<Window, 'schedule' | 'duration'>): TimedWindow =>
  new TimedWindow({ name: 'w', kind: 'deny', timeZone: 'UTC', envs: [], apps: [], mods: [], manualSync: false, source: 'config', ...w });
const at = (iso: string) => new Date(iso);
const iso = (d: Date | null) => d?.toISOString() ?? null;
const state = (w: TimedWindow, t: string) => {
  const s = w.state(at(t));
  return { active: s.active, nextOpen: iso(s.nextOpen), nextClose: iso(s.nextClose) };
};
const unit = { mod: 'app', env: 'prod', app: 'shop' };

describe('sync window durations', () => {
  it('reads d/h/m/s and their sums', () => {
    for (const [s, ms] of [['30m', 1_800_000], ['2h', 7_200_000], ['1d', 86_400_000], ['1h30m', 5_400_000], ['10s', 10_000], ['1d12h', 129_600_000]] as const) {
      assert.equal(parseDuration(s), ms, s);
    }
  });
  it('refuses anything else with a message naming the value', () => {
    for (const s of ['', '2', 'h', '2w', '-1h', '1.5h', '2 h', '0m', '367d']) assert.throws(() => parseDuration(s), new RegExp(`duration ${JSON.stringify(s).replace(/[.*+?()[\]]/g, '\\$&')}`), s);
  });
});

describe('sync window state in a time zone', () => {
  it('Europe/Berlin, spring forward (2026-03-29): a 00:00 start lasts 6 elapsed hours (07:00 local), the next start is 22:00Z', () => {
    const w = win({ schedule: '0 0 * * *', timeZone: 'Europe/Berlin', duration: '6h' });
    assert.deepEqual(state(w, '2026-03-29T04:59:59.999Z'), { active: true, nextClose: '2026-03-29T05:00:00.000Z', nextOpen: '2026-03-29T22:00:00.000Z' });
    assert.deepEqual(state(w, '2026-03-29T05:00:00.000Z'), { active: false, nextOpen: '2026-03-29T22:00:00.000Z', nextClose: '2026-03-30T04:00:00.000Z' });
    // The day before (CET, +1): 23:00Z start.
    assert.deepEqual(state(w, '2026-03-28T12:00:00Z'), { active: false, nextOpen: '2026-03-28T23:00:00.000Z', nextClose: '2026-03-29T05:00:00.000Z' });
  });
  it('Europe/Berlin, fall back (2026-10-25): the 00:00 CEST start is 22:00Z, the next day\'s (CET) 23:00Z', () => {
    const w = win({ schedule: '0 0 * * *', timeZone: 'Europe/Berlin', duration: '6h' });
    assert.deepEqual(state(w, '2026-10-25T03:00:00Z'), { active: true, nextClose: '2026-10-25T04:00:00.000Z', nextOpen: '2026-10-25T23:00:00.000Z' });
  });
  it('a start in the skipped hour runs at 03:00 CEST; one in the repeated hour runs once, at its first (CEST) time', () => {
    const skipped = win({ schedule: '0 30 2 * * *', timeZone: 'Europe/Berlin', duration: '1h' });
    assert.equal(state(skipped, '2026-03-28T12:00:00Z').nextOpen, '2026-03-29T01:00:00.000Z');
    const repeated = win({ schedule: '0 30 2 * * *', timeZone: 'Europe/Berlin', duration: '1h' });
    assert.equal(state(repeated, '2026-10-24T12:00:00Z').nextOpen, '2026-10-25T00:30:00.000Z');
    assert.equal(state(repeated, '2026-10-25T01:00:00Z').nextOpen, '2026-10-26T01:30:00.000Z');
  });
  it('America/New_York across spring forward (2026-03-08), spanning midnight local: 22:00 for 4h', () => {
    const w = win({ schedule: '0 22 * * *', timeZone: 'America/New_York', duration: '4h' });
    // Mar 7 22:00 EST = Mar 8 03:00Z; Mar 8 22:00 EDT = Mar 9 02:00Z.
    assert.deepEqual(state(w, '2026-03-08T06:59:00Z'), { active: true, nextClose: '2026-03-08T07:00:00.000Z', nextOpen: '2026-03-09T02:00:00.000Z' });
    assert.deepEqual(state(w, '2026-03-09T01:30:00Z'), { active: false, nextOpen: '2026-03-09T02:00:00.000Z', nextClose: '2026-03-09T06:00:00.000Z' });
    assert.deepEqual(state(w, '2026-03-09T05:00:00Z'), { active: true, nextClose: '2026-03-09T06:00:00.000Z', nextOpen: '2026-03-10T02:00:00.000Z' });
  });
  it('a UTC window over midnight: 23:00 for 2h is active at 00:30 and closes at 01:00', () => {
    const w = win({ schedule: '0 23 * * *', duration: '2h' });
    assert.deepEqual(state(w, '2026-06-02T00:30:00Z'), { active: true, nextClose: '2026-06-02T01:00:00.000Z', nextOpen: '2026-06-02T23:00:00.000Z' });
    assert.deepEqual(state(w, '2026-06-01T22:59:59Z'), { active: false, nextOpen: '2026-06-01T23:00:00.000Z', nextClose: '2026-06-02T01:00:00.000Z' });
  });
  it('the Double-11 freeze: 11 Nov 00:00 Asia/Shanghai for 1d', () => {
    const w = win({ schedule: '0 0 11 11 *', timeZone: 'Asia/Shanghai', duration: '1d' });
    assert.deepEqual(state(w, '2026-11-11T04:00:00Z'), { active: true, nextClose: '2026-11-11T16:00:00.000Z', nextOpen: '2027-11-10T16:00:00.000Z' });
    assert.deepEqual(state(w, '2026-11-10T15:59:59Z'), { active: false, nextOpen: '2026-11-10T16:00:00.000Z', nextClose: '2026-11-11T16:00:00.000Z' });
  });
  it('runs of one window that overlap or touch make one open span', () => {
    const w = win({ schedule: '0 10,11 * * *', duration: '90m' });
    assert.deepEqual(state(w, '2026-06-01T10:15:00Z'), { active: true, nextClose: '2026-06-01T12:30:00.000Z', nextOpen: '2026-06-02T10:00:00.000Z' });
    const touching = win({ schedule: '0 10,11 * * *', duration: '1h' });
    assert.equal(state(touching, '2026-06-01T10:15:00Z').nextClose, '2026-06-01T12:00:00.000Z');
    const always = win({ schedule: '0 * * * *', duration: '2h' });
    assert.deepEqual(state(always, '2026-06-01T10:15:00Z'), { active: true, nextClose: null, nextOpen: null });
  });
  it('seconds precision: a 6-field cron for short windows', () => {
    const w = win({ schedule: '*/20 * * * * *', duration: '5s' });
    assert.deepEqual(state(w, '2026-06-01T10:00:24Z'), { active: true, nextClose: '2026-06-01T10:00:25.000Z', nextOpen: '2026-06-01T10:00:40.000Z' });
    assert.equal(state(w, '2026-06-01T10:00:25Z').active, false);
  });
});

describe('which windows block a unit (Argo CD rules)', () => {
  const denyNoon = win({ name: 'lunch', schedule: '0 12 * * *', duration: '1h' });
  const allowDay = win({ name: 'office', kind: 'allow', schedule: '0 9 * * 1-5', duration: '8h' });
  it('an active matching deny window blocks; an inactive one does not', () => {
    assert.deepEqual(windowsBlocking([denyNoon], unit, at('2026-06-01T12:30:00Z')).map((w) => w.spec.name), ['lunch']);
    assert.deepEqual(windowsBlocking([denyNoon], unit, at('2026-06-01T13:00:00Z')), []);
  });
  it('allow windows that match and are all inactive block; one active lets it through; deny wins over allow', () => {
    assert.deepEqual(windowsBlocking([allowDay], unit, at('2026-06-01T18:00:00Z')).map((w) => w.spec.name), ['office']);
    assert.deepEqual(windowsBlocking([allowDay], unit, at('2026-06-01T10:00:00Z')), []);
    assert.deepEqual(windowsBlocking([allowDay, denyNoon], unit, at('2026-06-01T12:10:00Z')).map((w) => w.spec.name), ['lunch']);
  });
  it('matchers are globs on env, app and mod; a window matching nothing blocks nothing', () => {
    const prod = win({ name: 'p', schedule: '0 12 * * *', duration: '1h', envs: ['prod*'], apps: ['shop', 'pay?'] });
    const t = at('2026-06-01T12:30:00Z');
    assert.equal(windowsBlocking([prod], { mod: 'x', env: 'prod-cn', app: 'pay1' }, t).length, 1);
    assert.equal(windowsBlocking([prod], { mod: 'x', env: 'test', app: 'shop' }, t).length, 0);
    assert.equal(windowsBlocking([prod], { mod: 'x', env: 'prod', app: 'payments' }, t).length, 0);
    const modOnly = win({ name: 'm', schedule: '0 12 * * *', duration: '1h', mods: ['nginx'] });
    assert.equal(windowsBlocking([modOnly], { mod: 'app', env: 'prod', app: 'shop' }, t).length, 0);
    assert.equal(windowsBlocking([modOnly], { mod: 'nginx', env: 'prod', app: 'shop' }, t).length, 1);
  });
  it('manualSync lets manual syncs through (deny active, or allow inactive), never automatic ones', () => {
    const soft = win({ name: 'soft', schedule: '0 12 * * *', duration: '1h', manualSync: true });
    const t = at('2026-06-01T12:30:00Z');
    assert.equal(windowsBlocking([soft], unit, t).length, 1);
    assert.equal(windowsBlocking([soft], unit, t, { manual: true }).length, 0);
    assert.equal(windowsBlocking([soft, denyNoon], unit, t, { manual: true }).length, 1, 'another deny window without manualSync still blocks');
    const softAllow = win({ name: 'sa', kind: 'allow', schedule: '0 9 * * *', duration: '1h', manualSync: true });
    assert.equal(windowsBlocking([softAllow], unit, t, { manual: true }).length, 0);
    assert.equal(windowsBlocking([softAllow], unit, t).length, 1);
  });
  it('unblockedAt: the first time the unit may sync, through overlapping windows of different names', () => {
    const a = win({ name: 'a', schedule: '0 10 * * *', duration: '2h' });
    const b = win({ name: 'b', schedule: '0 11 * * *', duration: '2h' });
    assert.equal(iso(unblockedAt([a, b], unit, at('2026-06-01T10:30:00Z'))), '2026-06-01T13:00:00.000Z');
    assert.equal(iso(unblockedAt([a, b], unit, at('2026-06-01T09:00:00Z'))), '2026-06-01T09:00:00.000Z');
    // Outside an allow window on a Friday evening: Monday 09:00; a deny window at Monday 09:00-10:00 moves it to 10:00.
    assert.equal(iso(unblockedAt([allowDay], unit, at('2026-06-05T18:00:00Z'))), '2026-06-08T09:00:00.000Z');
    const monday = win({ name: 'mon', schedule: '0 9 * * 1', duration: '1h' });
    assert.equal(iso(unblockedAt([allowDay, monday], unit, at('2026-06-05T18:00:00Z'))), '2026-06-08T10:00:00.000Z');
    const always = win({ name: 'z', schedule: '0 * * * *', duration: '2h' });
    assert.equal(unblockedAt([always], unit, at('2026-06-05T18:00:00Z')), null);
  });
});

describe('sync windows in the config', () => {
  const base = { name: 'freeze', kind: 'deny', schedule: '0 0 11 11 *', timeZone: 'Asia/Shanghai', duration: '1d' };
  it('a valid list parses with defaults (UTC, all units, no manual sync)', () => {
    const cfg = parseConfig({ syncWindows: [{ name: 'n', kind: 'allow', schedule: '0 9 * * 1-5', duration: '8h' }, base] });
    assert.deepEqual(cfg.syncWindows[0], { name: 'n', kind: 'allow', schedule: '0 9 * * 1-5', timeZone: 'UTC', duration: '8h', envs: [], apps: [], mods: [], manualSync: false });
    assert.equal(cfg.syncWindows[1]!.timeZone, 'Asia/Shanghai');
  });
  const problems = (w: Record<string, unknown>[]): string[] => {
    try {
      parseConfig({ syncWindows: w });
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems;
    }
    assert.fail('parsed');
  };
  it('bad cron, zone, duration, kind and duplicate names are each named', () => {
    assert.match(problems([{ ...base, schedule: '61 * * * *' }]).join('\n'), /syncWindows\.0\.schedule: schedule "61 \* \* \* \*" is not a cron expression: Invalid value for minute: 61/);
    assert.match(problems([{ ...base, schedule: '0 0 30 2 *' }]).join('\n'), /syncWindows\.0\.schedule: schedule "0 0 30 2 \*" never fires/);
    assert.match(problems([{ ...base, timeZone: 'Mars/Olympus' }]).join('\n'), /syncWindows\.0\.timeZone: timeZone "Mars\/Olympus" is not an IANA time zone/);
    assert.match(problems([{ ...base, duration: '1w' }]).join('\n'), /syncWindows\.0\.duration: duration "1w" must be like/);
    assert.match(problems([{ ...base, kind: 'block' }]).join('\n'), /syncWindows\.0\.kind/);
    assert.match(problems([base, { ...base, kind: 'allow' }]).join('\n'), /syncWindows\.1\.name: window name "freeze" is used twice/);
    assert.match(problems([{ ...base, envs: ['prod/x'] }]).join('\n'), /syncWindows\.0\.envs\.0: must be a name or a glob/);
    assert.match(problems([{ ...base, extra: 1 }]).join('\n'), /syncWindows\.0: unknown key\(s\) "extra"/);
  });
});

// PURE: sync windows (Argo CD SyncWindows semantics): when a window is active, when it next opens and closes, and
// whether a unit may sync at a given time. Times are absolute instants; the cron start is read in the window's time zone.
import { Cron } from 'croner';
import type { Unit } from '../gitops/targets.js';

export type WindowKind = 'deny' | 'allow';

/** A window as configured (config file or API). */
export interface SyncWindowSpec {
  name: string;
  kind: WindowKind;
  /** Cron start (croner syntax: 5 fields, or 6 with seconds first). */
  schedule: string;
  /** IANA zone the schedule is read in. */
  timeZone: string;
  /** How long the window stays open after each start ("2h", "30m", "1d", "1h30m"): elapsed time. */
  duration: string;
  /** Globs on the unit's env / app / mod ("*" and "?"); empty or absent = every one. */
  envs: string[];
  apps: string[];
  mods: string[];
  /** Manual syncs (/sync, POST /api/v1/deployments) pass while this window would block them. */
  manualSync: boolean;
}

export interface Window extends SyncWindowSpec { source: 'config' | 'api' }

export interface WindowState { active: boolean; nextOpen: Date | null; nextClose: Date | null }

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
/** Longest window: a year (a longer freeze is a deny window that never closes: use a long schedule instead). */
export const MAX_DURATION_MS = 366 * 86_400_000;
/** Starts followed to find where back-to-back or overlapping runs of one window end; beyond, it "never closes". */
const MAX_CHAIN = 2000;

/** "1h30m" → 5_400_000; throws a message naming the value for anything else. */
export function parseDuration(s: string): number {
  if (!/^(\d+[dhms])+$/.test(s)) throw new Error(`duration ${JSON.stringify(s)} must be like "30m", "2h", "1d" or "1h30m" (units d, h, m, s)`);
  let ms = 0;
  for (const [, n, u] of s.matchAll(/(\d+)([dhms])/g)) ms += Number(n) * UNIT_MS[u!]!;
  if (ms <= 0) throw new Error(`duration ${JSON.stringify(s)} must be longer than 0`);
  if (ms > MAX_DURATION_MS) throw new Error(`duration ${JSON.stringify(s)} must be at most 366d`);
  return ms;
}

/** The schedule in its zone; throws a clear message for a bad expression, an unknown zone or a schedule that never fires. */
export function compileSchedule(schedule: string, timeZone: string): Cron {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
  } catch {
    throw new Error(`timeZone ${JSON.stringify(timeZone)} is not an IANA time zone (e.g. "Europe/Berlin", "Asia/Shanghai", "UTC")`);
  }
  let cron: Cron;
  try {
    cron = new Cron(schedule, { timezone: timeZone, paused: true });
  } catch (err) {
    throw new Error(`schedule ${JSON.stringify(schedule)} is not a cron expression: ${(err as Error).message.replace(/^CronPattern: /, '')}`);
  }
  if (cron.nextRun() === null && cron.previousRuns(1).length === 0) throw new Error(`schedule ${JSON.stringify(schedule)} never fires`);
  return cron;
}

const globRe = (g: string): RegExp => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`);
const anyOf = (globs: string[], v: string) => globs.length === 0 || globs.some((g) => globRe(g).test(v));

/** Does the window cover the unit (every matcher that is set matches)? */
export function matchesUnit(w: Pick<SyncWindowSpec, 'envs' | 'apps' | 'mods'>, u: Unit): boolean {
  return anyOf(w.envs, u.env) && anyOf(w.apps, u.app) && anyOf(w.mods, u.mod);
}

/** A window with its schedule compiled once (Cron objects are reused across many time queries). */
export class TimedWindow {
  readonly durationMs: number;
  private readonly cron: Cron;
  constructor(readonly spec: Window) {
    this.durationMs = parseDuration(spec.duration);
    this.cron = compileSchedule(spec.schedule, spec.timeZone);
  }

  /** Last start at or before `at`. */
  private lastStart(at: Date): Date | null {
    return this.cron.previousRuns(1, new Date(at.getTime() + 1))[0] ?? null;
  }

  /** First start strictly after `at`. */
  private nextStart(at: Date): Date | null {
    return this.cron.nextRun(at);
  }

  /** From a start: where the open span ends (following runs that begin before it closes), and the start after it. */
  private spanFrom(start: Date): { end: Date | null; after: Date | null } {
    let end = start.getTime() + this.durationMs;
    let n = this.nextStart(start);
    for (let i = 0; n && n.getTime() <= end; i++) {
      if (i >= MAX_CHAIN) return { end: null, after: null };
      end = Math.max(end, n.getTime() + this.durationMs);
      n = this.nextStart(n);
    }
    return { end: new Date(end), after: n };
  }

  /** Recent answers: a deployment asks about many units at one instant, and they step through the same edges. */
  private readonly memo = new Map<number, WindowState>();

  /** Active over [start, start + duration) of each run; next open / close from `at`. */
  state(at: Date): WindowState {
    let st = this.memo.get(at.getTime());
    if (!st) {
      if (this.memo.size >= 256) this.memo.clear();
      st = this.compute(at);
      this.memo.set(at.getTime(), st);
    }
    return st;
  }

  private compute(at: Date): WindowState {
    const s = this.lastStart(at);
    if (s && s.getTime() + this.durationMs > at.getTime()) {
      // The latest start is the one whose span reaches furthest (every run lasts as long).
      const { end, after } = this.spanFrom(s);
      return { active: true, nextClose: end, nextOpen: after };
    }
    const open = this.nextStart(at);
    return { active: false, nextOpen: open, nextClose: open ? this.spanFrom(open).end : null };
  }
}

/** Compile windows; throws naming the window and the problem. */
export function compileWindows(specs: Window[]): TimedWindow[] {
  return specs.map((s) => {
    try {
      return new TimedWindow(s);
    } catch (err) {
      throw new Error(`sync window ${JSON.stringify(s.name)}: ${(err as Error).message}`);
    }
  });
}

/**
 * The windows that stop the unit from syncing at `at`, empty when it may sync (Argo CD rules): every active deny
 * window that matches it; else, when allow windows match it and none is active, those allow windows. For a manual
 * sync, windows with manualSync do not block (an inactive allow window with manualSync lets manual syncs through).
 */
export function windowsBlocking(windows: TimedWindow[], unit: Unit, at: Date, opts: { manual?: boolean } = {}): TimedWindow[] {
  const mine = windows.filter((w) => matchesUnit(w.spec, unit));
  const deny = mine.filter((w) => w.spec.kind === 'deny' && w.state(at).active);
  if (deny.length) {
    const hard = opts.manual ? deny.filter((w) => !w.spec.manualSync) : deny;
    if (hard.length || !opts.manual) return hard;
  }
  const allow = mine.filter((w) => w.spec.kind === 'allow');
  if (!allow.length || allow.some((w) => w.state(at).active)) return [];
  if (opts.manual && allow.some((w) => w.spec.manualSync)) return [];
  return allow;
}

/** Steps through window edges looking for a time the unit may sync; beyond them it is "not within a year". */
const MAX_STEPS = 500;

/** The first instant at or after `at` when the unit may sync (automatic syncs), or null if not within MAX_STEPS edges. */
export function unblockedAt(windows: TimedWindow[], unit: Unit, at: Date): Date | null {
  const mine = windows.filter((w) => matchesUnit(w.spec, unit));
  let t = at;
  for (let i = 0; i < MAX_STEPS; i++) {
    if (windowsBlocking(mine, unit, t).length === 0) return t;
    // The answer can change only where a matching window opens or closes.
    let next: number | null = null;
    for (const w of mine) {
      const st = w.state(t);
      const edge = st.active ? st.nextClose : st.nextOpen;
      if (edge && edge.getTime() > t.getTime() && (next === null || edge.getTime() < next)) next = edge.getTime();
    }
    if (next === null) return null;
    t = new Date(next);
  }
  return null;
}

/** One line for a unit's held reason or a 423: which windows and until when. */
export function describeBlock(blocking: TimedWindow[], until: Date | null): string {
  const names = blocking.map((w) => `"${w.spec.name}"`).join(', ');
  const what = blocking[0]?.spec.kind === 'allow' ? `outside allow window${blocking.length > 1 ? 's' : ''} ${names}` : `in deny window${blocking.length > 1 ? 's' : ''} ${names}`;
  return `${what}; may sync ${until ? `from ${until.toISOString()}` : 'not within the windows\' next 500 changes'}`;
}

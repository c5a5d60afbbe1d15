// Who may touch a unit's hosts when. Whole-unit runs (pushes, full syncs) go one at a time per unit, so the unit's
// last deployed commit advances in order; once one knows its hosts it declares them. A host-scoped run (converge of
// a new host, self-heal of drifted ones) waits only for runs that touch one of its hosts, never for other hosts'
// timeouts. Two runs never push to the same host of a unit at once, and they reach each host in the order they
// claimed it: whichever declared or claimed a host first goes first there.
import { KeyedLock } from '../util/semaphore.js';

type Hosts = ReadonlySet<string> | 'all';
interface Claim { hosts: Hosts; done: Promise<void> }

const overlaps = (a: Hosts, b: Hosts): boolean => a === 'all' || b === 'all' || [...a].some((ip) => b.has(ip));

/** Declares the hosts a whole-unit run will touch; resolves once earlier runs on any of them have finished. */
export type Declare = (hosts: string[] | 'all') => Promise<void>;

export class UnitLocks {
  private readonly whole = new KeyedLock();
  private readonly claims = new Map<string, Set<Claim>>();

  /** Run fn alone among whole-unit runs of the unit; it must declare its hosts (once) before it touches any. */
  wholeUnit<T>(unit: string, fn: (declare: Declare) => Promise<T>): Promise<T> {
    return this.whole.run(unit, async () => {
      let release: (() => void) | undefined;
      const declare: Declare = async (hosts) => {
        // A second claim could wait on a run that waits on the first one: refuse rather than deadlock.
        if (release) throw new Error(`hosts of ${unit} declared twice`);
        const c = this.claim(unit, hosts === 'all' ? 'all' : new Set(hosts));
        release = c.release;
        await c.ready;
      };
      try {
        return await fn(declare);
      } finally {
        release?.();
      }
    });
  }

  /** Run fn once no run that claimed one of these hosts of the unit earlier is still going (whole-unit runs that have not declared yet do not count: they wait for this one when they do). */
  async hosts<T>(unit: string, ips: string[], fn: () => Promise<T>): Promise<T> {
    const c = this.claim(unit, new Set(ips));
    try {
      await c.ready;
      return await fn();
    } finally {
      c.release();
    }
  }

  /** Claims held or waited for (tests). */
  claimCount(unit: string): number {
    return this.claims.get(unit)?.size ?? 0;
  }

  private claim(unit: string, hosts: Hosts): { ready: Promise<void>; release(): void } {
    let set = this.claims.get(unit);
    if (!set) this.claims.set(unit, (set = new Set()));
    const earlier = [...set].filter((c) => overlaps(c.hosts, hosts)).map((c) => c.done);
    let done!: () => void;
    const c: Claim = { hosts, done: new Promise<void>((r) => { done = r; }) };
    set.add(c);
    const own = set;
    return {
      ready: Promise.all(earlier).then(() => undefined),
      release: () => {
        own.delete(c);
        if (!own.size && this.claims.get(unit) === own) this.claims.delete(unit);
        done();
      },
    };
  }
}

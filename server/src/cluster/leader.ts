// Leadership: which process runs the scheduled duties (poller, schedules, releases, reaper) when several share one
// PostgreSQL database. A session advisory lock on a dedicated connection (docs/SCALE-OUT.md section 3; README
// "Leader and schedules"). SQLite has one process: it always leads.
import type { Logger } from 'pino';
import { connectDedicated, LOCK_CLASS, LOCKS } from '../db/postgres.js';
import type { Metrics } from '../metrics.js';
import type { ClusterNode } from './node.js';

export interface Leader {
  /** True while this process holds the leader lock: scheduled duties check it on every tick. */
  readonly isLeader: boolean;
  /** Called on every gain (true) and loss (false); returns the unsubscribe function. */
  onChange(cb: (leading: boolean) => void): () => void;
  /** Release the lock (if held) and close its connection. */
  stop(): Promise<void>;
}

type Dedicated = Awaited<ReturnType<typeof connectDedicated>>;

interface LeaderDeps {
  node: ClusterNode;
  log: Logger;
  metrics?: Pick<Metrics, 'leader' | 'leaderChanges'>;
}

/** A fixed answer: the single SQLite process always leads; a worker-only node never does. */
class FixedLeader implements Leader {
  constructor(readonly isLeader: boolean, deps: LeaderDeps) {
    deps.metrics?.leader.set({ node: deps.node.id }, isLeader ? 1 : 0);
  }
  onChange(): () => void { return () => undefined; }
  async stop(): Promise<void> { /* nothing held */ }
}

export interface PgLeaderOptions extends LeaderDeps {
  url: string;
  /** How often a follower tries for the lock and the leader checks its connection (default leaseSeconds*1000/3). */
  tryMs: number;
  /** Connects the dedicated session (tests may wrap it); default connectDedicated. */
  connect?: (url: string, purpose: string) => Promise<Dedicated>;
}

/**
 * pg_try_advisory_lock on a dedicated connection every tryMs. Leadership ends at once when that connection reports
 * an error or ends (PostgreSQL has then released the lock, or will when it sees the session gone), and when the
 * leader's periodic check of the connection fails or takes longer than tryMs: a leader that cannot reach the
 * database stops acting as one. The next try reconnects.
 */
export class PgLeader implements Leader {
  private leading = false;
  private client: Dedicated | null = null;
  private timer: NodeJS.Timeout | null = null;
  private attempt: Promise<void> | null = null;
  private stopped = false;
  /** After a lost connection, others get the first tries: the node that lost it is the likelier broken one. */
  private quietUntil = 0;
  private readonly listeners = new Set<(leading: boolean) => void>();
  private readonly log: Logger;

  constructor(private readonly opts: PgLeaderOptions) {
    this.log = opts.log.child({ component: 'leader', node: opts.node.id });
    opts.metrics?.leader.set({ node: opts.node.id }, 0);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  onChange(cb: (leading: boolean) => void): () => void {
    this.listeners.add(cb);
    return () => { this.listeners.delete(cb); };
  }

  /** First try now (awaited, so a lone node leads before its schedules start), then every tryMs. */
  async start(): Promise<void> {
    this.timer = setInterval(() => void this.tryOnce(), this.opts.tryMs);
    this.timer.unref();
    await this.tryOnce();
  }

  /** One try (or, when leading, one check of the connection); never two at once. */
  tryOnce(): Promise<void> {
    this.attempt ??= this.step().finally(() => { this.attempt = null; });
    return this.attempt;
  }

  private async step(): Promise<void> {
    if (this.stopped || Date.now() < this.quietUntil) return;
    let c = this.client;
    try {
      if (!c) {
        c = await (this.opts.connect ?? connectDedicated)(this.opts.url, 'leader');
        const own = c;
        own.on('error', (err: Error) => this.drop(own, err));
        own.on('end', () => this.drop(own, null));
        if (this.stopped) { await own.end().catch(() => undefined); return; }
        this.client = own;
      }
      if (this.leading) {
        await this.within(c.query('SELECT 1'), 'leader connection check');
        return;
      }
      const r = await this.within(c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [LOCK_CLASS, LOCKS.leader]), 'leader lock try');
      if (r.rows[0]?.ok && !this.stopped && this.client === c) this.set(true);
    } catch (err) {
      if (c) this.drop(c, err as Error);
      else this.log.warn({ err }, 'leader connection failed');
    }
  }

  /** A query that does not answer within tryMs counts as a lost connection (a dead peer without an RST). */
  private async within<T>(p: Promise<T>, what: string): Promise<T> {
    let t: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([p, new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no answer within ${this.opts.tryMs} ms`)), this.opts.tryMs); })]);
    } finally {
      clearTimeout(t);
    }
  }

  /** The connection failed or ended: leadership (if held) is gone now; the next try connects again. */
  private drop(c: Dedicated, err: Error | null): void {
    if (this.client !== c) return;
    this.client = null;
    if (this.leading) this.quietUntil = Date.now() + 2 * this.opts.tryMs;
    if (err) this.log.warn({ err }, 'leader connection lost');
    // end() of a broken client may never settle; destroying the socket frees it and the backend's session.
    void c.end().catch(() => undefined);
    this.set(false);
  }

  private set(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.opts.metrics?.leader.set({ node: this.opts.node.id }, leading ? 1 : 0);
    this.opts.metrics?.leaderChanges.inc();
    if (leading) this.log.info('became leader');
    else this.log.warn('lost leadership');
    for (const cb of this.listeners) {
      try { cb(leading); } catch (err) { this.log.error({ err }, 'leadership listener failed'); }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.attempt;
    const c = this.client;
    this.client = null;
    if (!c) return;
    if (this.leading) await this.within(c.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_CLASS, LOCKS.leader]), 'leader unlock').catch(() => undefined);
    this.set(false);
    await this.within(c.end(), 'leader connection end').catch(() => undefined);
  }
}

/**
 * The process's Leader: always on SQLite (one process), never for role worker, else a PgLeader competing for the
 * lock (started: its first try is done when this resolves).
 */
export async function startLeader(deps: LeaderDeps & { dialect: 'sqlite' | 'postgres'; url?: string; tryMs: number }): Promise<Leader> {
  if (deps.dialect === 'sqlite' || !deps.url) return new FixedLeader(true, deps);
  if (!deps.node.serves) return new FixedLeader(false, deps);
  const leader = new PgLeader({ ...deps, url: deps.url });
  await leader.start();
  return leader;
}

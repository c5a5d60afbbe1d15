// A worker's side of the queue: claim host pushes (of its data centre, within its own cap and the DC's), push each
// with the same code as a single process (deploy/host-work.ts), and record the result fenced by the lease: a push
// whose lease was reaped (the worker stalled) is aborted and its result dropped, never recorded twice.
import type { Logger } from 'pino';
import * as rec from '../db/deployments.js';
import { claimHostPushes, finishHostPushFenced, releaseHostPush, type ClaimedHostPush } from '../db/work-queue.js';
import { hostWork, prepareUnit, stagingRoot, type HostWorkDeps, type UnitPrep } from '../deploy/host-work.js';
import { parseUnitKey, type Unit } from '../gitops/targets.js';
import type { SshConnections } from '../ssh/connections.js';

export interface HostExecutorOptions {
  deps: HostWorkDeps & { ssh: SshConnections };
  owner: string;
  dc: string | null;
  leaseSeconds: number;
  /** Host pushes this worker runs at once. */
  workerCap: number;
  /** Running host pushes allowed per data centre, cluster-wide (deploy.concurrency). */
  dcCap: number;
  log: Logger;
  /** A push finished here: this process may claim another, and a coordinator here may read the result (a hint). */
  onDone?: () => void;
}

interface Job { unit: Unit; commit: string; dryRun?: boolean; force?: boolean; prep: UnitPrep }
interface PrepEntry { job: Promise<Job>; users: number; idle?: NodeJS.Timeout }

/** The claimed row's deployment or commit is gone from the store (nothing to stage). */
class Unrecorded extends Error {}

const PREP_IDLE_MS = 10_000;

export class HostExecutor {
  private readonly running = new Map<number, { ctrl: AbortController; done: Promise<void> }>();
  private readonly preps = new Map<string, PrepEntry>();
  private readonly kill = new AbortController();

  constructor(private readonly o: HostExecutorOptions) {}

  get active(): number {
    return this.running.size;
  }

  /** Ids of the host pushes this worker runs (the heartbeat checks they are still ours). */
  runningIds(): number[] {
    return [...this.running.keys()];
  }

  /** Claim what fits and start it; returns how many were claimed. */
  async fill(): Promise<number> {
    const free = this.o.workerCap - this.running.size;
    if (free <= 0 || this.kill.signal.aborted) return 0;
    const rows = await claimHostPushes(this.o.deps.db, this.o.owner, this.o.leaseSeconds, {
      dc: this.o.dc, free, dcCap: this.o.dcCap, prefer: this.o.deps.ssh.warmHosts(),
    });
    for (const row of rows) this.start(row);
    return rows.length;
  }

  /** The lease of this push is gone (reaped): stop it; its result will not be recorded. */
  lost(id: number): void {
    const r = this.running.get(id);
    if (!r) return;
    this.o.log.warn({ hostPushId: id }, 'lease lost: aborting the host push');
    r.ctrl.abort(new Error('lease lost'));
  }

  /** Let running pushes finish for graceMs, then kill them (their leases expire and another worker runs them again). */
  async stop(graceMs: number): Promise<void> {
    const timer = setTimeout(() => { for (const r of this.running.values()) r.ctrl.abort(new Error('shutdown grace exceeded')); }, graceMs);
    this.kill.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    clearTimeout(timer);
    for (const [key, e] of this.preps) {
      clearTimeout(e.idle);
      this.preps.delete(key);
      await e.job.then((j) => j.prep.stage.cleanup(), () => undefined);
    }
  }

  private start(row: ClaimedHostPush): void {
    const ctrl = new AbortController();
    const done = this.push(row, ctrl.signal).catch((err: unknown) => this.o.log.error({ err, hostPushId: row.id }, 'host push failed to run'))
      .finally(() => {
        this.running.delete(row.id);
        this.o.onDone?.();
      });
    this.running.set(row.id, { ctrl, done });
  }

  /** What the host pushes of one unit in one deployment share: read and staged once, on its first host push here. */
  private async load(row: ClaimedHostPush, kill: AbortSignal, log: Logger): Promise<Job> {
    const { deps } = this.o;
    const d = await rec.getDeployment(deps.db, row.deploymentId);
    const commit = (await rec.unitResults(deps.db, row.deploymentId)).find((u) => u.unit === row.unit)?.commit ?? d?.after;
    const unit = parseUnitKey(row.unit);
    if (!d || !commit || !unit) throw new Unrecorded('the deployment or its commit is not recorded');
    const sync = d.request.kind === 'sync' ? d.request : undefined;
    const input = { deploymentId: row.deploymentId, unit, commit, dryRun: sync?.dryRun, force: sync?.force, kill, log };
    // Every host of the unit in this deployment: their records, facts and base commits are read once.
    const ips = (await deps.db.all<{ ip: string }>('SELECT ip FROM host_pushes WHERE deployment_id = ? AND unit = ?', [row.deploymentId, row.unit])).map((r) => r.ip);
    const prep = await prepareUnit(deps, input, ips, stagingRoot(deps.config, row.deploymentId, row.unit, `-w${process.pid}`));
    return { unit, commit, dryRun: input.dryRun, force: input.force, prep };
  }

  private async push(row: ClaimedHostPush, kill: AbortSignal): Promise<void> {
    const { deps } = this.o;
    const log = this.o.log.child({ deploymentId: row.deploymentId, unit: row.unit, host: row.ip, attempt: row.attempt });
    const fence = { id: row.id, owner: this.o.owner, attempt: row.attempt };
    const now = () => deps.clock().toISOString();
    const key = `${row.deploymentId}/${row.unit}`;
    let entry = this.preps.get(key);
    if (!entry) {
      entry = { job: this.load(row, kill, log), users: 0 };
      this.preps.set(key, entry);
    }
    entry.users++;
    clearTimeout(entry.idle);
    try {
      let job: Job;
      try {
        job = await entry.job;
      } catch (err) {
        if (this.preps.get(key) === entry) this.preps.delete(key);
        const reason = err instanceof Unrecorded ? err.message : `cannot stage the unit: ${(err as Error).message}`;
        await finishHostPushFenced(deps.db, fence, { status: 'failed', exitCode: null, reason, changes: [], stderrTail: null, attempts: 0, durationMs: 0 }, null, now());
        return;
      }
      // Host-push metrics are counted by the coordinator from the recorded results (a deferred host's retry once).
      const { prep, commit } = job;
      const input = { deploymentId: row.deploymentId, unit: job.unit, commit, dryRun: job.dryRun, force: job.force, kill, log };
      await hostWork(deps, prep, input, { ip: row.ip, hostname: row.hostname, port: row.port, user: row.user }, row.id, {
        start: async () => undefined, // the claim set it running
        finish: async (res, withCommit) => {
          // Cut off by this worker's shutdown: not a result of the host. Back to the queue for another worker
          // (the attempt is kept, so the next claim runs the hooks a half-done push may owe).
          if (res.status === 'aborted' && this.kill.signal.aborted) {
            if (await releaseHostPush(deps.db, fence)) log.warn('shutting down: host push returned to the queue');
            return false;
          }
          return finishHostPushFenced(deps.db, fence, res, withCommit ? { unit: row.unit, ip: row.ip, commit, deploymentId: row.deploymentId } : null, now());
        },
      });
    } finally {
      const e = entry;
      if (--e.users === 0) {
        e.idle = setTimeout(() => {
          if (this.preps.get(key) === e && e.users === 0) {
            this.preps.delete(key);
            void e.job.then((j) => j.prep.stage.cleanup(), () => undefined);
          }
        }, PREP_IDLE_MS);
        e.idle.unref();
      }
    }
  }
}

// The deployer: records intent, queues (bounded, coalescing), runs deployments with one run per unit at a time,
// recovers interrupted ones at start and drains on shutdown.
import { EventEmitter, setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { CmdbProvider } from '../cmdb/provider.js';
import type { Queryable } from '../db/connection.js';
import { QueueFullError, ValidationError } from '../errors.js';
import * as rec from '../db/deployments.js';
import { type Unit, unitKey } from '../gitops/targets.js';
import { Semaphore } from '../util/semaphore.js';
import { type Declare, UnitLocks } from './unit-locks.js';
import { runUnit, type UnitOutcome, type UnitRunDeps } from './unit-run.js';
import { planPush, planSync } from './plan.js';
import { FINAL_STATUSES, type DeployChange, type DeployRequest, type DeploymentStatus, type DeploymentView } from './types.js';
import { AUTOMATIC_TRIGGERS, type WindowGate } from './window-gate.js';
import { acquireUnitRun, finishDeploymentFenced, holdsDeployment, openDeployments, releaseUnitRun, type ClaimedDeployment } from '../db/work-queue.js';
import { clusterDispatch, HandedOver } from '../cluster/dispatch.js';
import { parseUnitKey } from '../gitops/targets.js';

/**
 * Cluster mode (README "Scale-out"): deployments are queued in the store and claimed by workers (cluster/loop.ts);
 * this process coordinates the ones it claimed and never keeps a queue of its own.
 */
export interface DeployerCluster {
  owner: string;
  leaseSeconds: number;
  dcField: string;
  pollMs: number;
  /** Wake workers: new deployments or host pushes (a hint; they poll anyway). */
  announce(what: 'deployment' | 'host', dcs?: Array<string | null>): void;
  /** Wait for a hint or ms. */
  changed(signal: AbortSignal, ms: number): Promise<void>;
}

/** windows: sync windows hold automatic deployments' units (absent: nothing is held). */
export type DeployerDeps = Omit<UnitRunDeps, 'hostSlots'> & { log: Logger; windows?: WindowGate; cluster?: DeployerCluster };

export interface Submitted { id: number; coalesced: boolean }

/** A caller's own check and record, run in the transaction that records (or joins) the deployment. */
export interface SubmitGate {
  /** First: a reason to refuse (then nothing is recorded), or null. */
  admit?(q: Queryable): Promise<string | null>;
  /** Last, with what was decided. */
  link?(q: Queryable, s: Submitted): Promise<void>;
}

/** running: its status is (being) set to running, so it no longer absorbs new requests (set once, awaited by every unit). */
interface Queued { id: number; req: DeployRequest; running?: Promise<void> }

/** A deployment this process claimed in cluster mode: aborted when it must stop coordinating it. */
interface Claimed { attempt: number; handover: AbortController; resume?: { units: string[]; commit: string; before: string | null } }

/** What the cluster's store says is waiting or running (refreshed by the cluster loop). */
export interface ClusterSnapshot { queued: number; running: number; pushes: number }

export interface DeployerEvents {
  /** A deployment reached its final status (listeners must not throw; notifications use this). */
  finished: [DeploymentView];
  /** A recorded state change of a deployment, a unit run or a host push (live views; listeners must not throw). */
  change: [DeployChange];
}

export class Deployer {
  readonly events = new EventEmitter<DeployerEvents>();
  private readonly hostSlots: Semaphore;
  private readonly unitLocks = new UnitLocks();
  /** Deployments inserted by a submit whose transaction has not yet been followed by its enqueue (queue bound). */
  private inserting = 0;
  private readonly pushQueue: Queued[] = [];
  private readonly syncWaiting: Queued[] = [];
  private pushLoop: Promise<void> | null = null;
  private readonly running = new Set<Promise<unknown>>();
  private readonly waiters = new Map<number, Array<(d: DeploymentView) => void>>();
  private readonly drain = new AbortController();
  private readonly kill = new AbortController();
  private readonly branch: string;
  private readonly coordinating = new Map<number, Claimed>();
  private snapshot: ClusterSnapshot = { queued: 0, running: 0, pushes: 0 };

  constructor(private readonly deps: DeployerDeps) {
    this.hostSlots = new Semaphore(deps.config.deploy.concurrency);
    // Every running host push listens on these two signals.
    setMaxListeners(0, this.drain.signal, this.kill.signal);
    this.branch = deps.config.repo.branch;
  }

  queueDepth(): number {
    if (this.deps.cluster) return this.snapshot.queued;
    return this.pushQueue.length + this.syncWaiting.length;
  }

  /** Active host pushes right now (for tests of the cap and for metrics). */
  activePushes(): number {
    return this.hostSlots.running;
  }

  /** The server-wide cap on host operations (pushes and drift checks share it). */
  get slots(): Semaphore {
    return this.hostSlots;
  }

  /** Run fn while no deployment of the unit runs (drift checks: every host of the unit). */
  withUnitLock<T>(unit: string, fn: () => Promise<T>): Promise<T> {
    if (this.deps.cluster) return this.withStoreUnitLock(unit, fn);
    return this.unitLocks.wholeUnit(unit, async (declare) => {
      await declare('all');
      return fn();
    });
  }

  /** Any deployment is queued or running (merge-request previews wait until none is). */
  get busy(): boolean {
    if (this.deps.cluster) return this.snapshot.queued + this.snapshot.running > 0 || this.inserting > 0;
    return this.running.size > 0 || this.pushLoop !== null || this.pushQueue.length > 0 || this.inserting > 0;
  }

  /** A push deployment is queued or running (the poller waits for it). */
  pushBusy(): boolean {
    if (this.deps.cluster) return this.snapshot.pushes > 0;
    return this.pushLoop !== null || this.pushQueue.length > 0;
  }

  get stopping(): boolean {
    return this.drain.signal.aborted;
  }

  /** Record a deployment and queue it, or join one still waiting (see submitIf). */
  async submit(req: DeployRequest): Promise<Submitted> {
    return (await this.submitIf(req, {})) as Submitted;
  }

  /**
   * Record a deployment and queue it, or join one still waiting to start: a push joins the branch's waiting push
   * (at most one follow-up), a sync an identical waiting sync. The decision and the insert are one transaction, so
   * simultaneous requests never each find the queue empty. gate.admit runs first in it and may refuse (nothing is
   * recorded), gate.link last; a throw anywhere (queue full, shutting down) rolls all of it back.
   */
  async submitIf(req: DeployRequest, gate: SubmitGate): Promise<Submitted | { refused: string }> {
    if (this.stopping) throw new QueueFullError('server is shutting down, not taking deployments');
    let inserted: Queued | undefined;
    try {
      const out = await this.deps.db.tx(async (q): Promise<Submitted | { refused: string }> => {
        const refused = gate.admit ? await gate.admit(q) : null;
        if (refused) return { refused };
        const waiting = req.kind === 'push' ? await rec.waitingPush(q, this.branch) : await rec.waitingSame(q, req);
        let s: Submitted;
        if (waiting !== undefined) {
          s = { id: waiting, coalesced: true };
        } else {
          if (this.stopping) throw new QueueFullError('server is shutting down, not taking deployments');
          if (this.queueDepth() + this.inserting >= this.deps.config.deploy.queueSize) throw new QueueFullError();
          const id = await rec.insertDeployment(q, {
            trigger: req.trigger, actor: req.actor ?? null, branch: this.branch,
            before: req.kind === 'push' ? req.before ?? null : null, after: req.kind === 'push' ? req.after ?? null : req.commit ?? null, request: req,
          }, this.now());
          inserted = { id, req };
          this.inserting++;
          s = { id, coalesced: false };
        }
        await gate.link?.(q, s);
        return s;
      });
      if (inserted && this.deps.cluster) {
        this.snapshot = { ...this.snapshot, queued: this.snapshot.queued + 1 }; // until the next read of the store
        this.deps.cluster.announce('deployment');
        this.changed({ kind: 'deployment', id: inserted.id, status: 'queued' });
      } else if (inserted) {
        this.enqueue(inserted);
        this.changed({ kind: 'deployment', id: inserted.id, status: 'queued' });
      }
      return out;
    } finally {
      if (inserted) this.inserting--;
    }
  }

  /** Resolves with the deployment once it has finished. */
  async wait(id: number): Promise<DeploymentView> {
    const d = await rec.getDeployment(this.deps.db, id);
    if (!d) throw new ValidationError(`deployment ${id} does not exist`);
    if (FINAL_STATUSES.has(d.status)) return d;
    if (this.deps.cluster) return this.pollUntilFinal(id);
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
  }

  /** At start: running deployments were cut off by a crash → interrupted and run again; queued ones are queued again. */
  async recover(): Promise<number[]> {
    // A cluster returns a dead process's work to the queue by lease expiry (cluster/loop.ts), not at start.
    if (this.deps.cluster) return [];
    const now = this.now();
    const resumed: number[] = [];
    for (const d of await rec.deploymentsWithStatus(this.deps.db, ['running', 'interrupted'])) {
      if (d.status === 'interrupted' && (await rec.resumedBy(this.deps.db, d.id))) continue;
      await this.deps.db.tx(async (q) => {
        await rec.abortOpenHostPushes(q, d.id, now);
        if (d.status === 'running') await rec.finishDeployment(q, d.id, 'interrupted', 'server stopped while the deployment was running', now);
      });
      const { id } = await this.submit({ ...d.request, resumeOf: d.id, trigger: d.request.trigger, actor: d.request.actor ?? `recovery of #${d.id}` });
      await rec.setResumedBy(this.deps.db, d.id, id);
      this.deps.log.warn({ deploymentId: d.id, resumedAs: id }, 'interrupted deployment queued again');
      resumed.push(id);
    }
    for (const d of await rec.deploymentsWithStatus(this.deps.db, ['queued'])) {
      if (![...this.pushQueue, ...this.syncWaiting].some((q) => q.id === d.id)) this.enqueue({ id: d.id, req: d.request });
    }
    return resumed;
  }

  /** Stop taking work; running host pushes may finish for graceMs, then they are killed. */
  async stop(graceMs: number): Promise<void> {
    this.drain.abort(new Error('shutting down'));
    this.pushQueue.length = 0; // still 'queued' in the database: picked up at the next start
    const timer = setTimeout(() => this.kill.abort(new Error('shutdown grace exceeded')), graceMs);
    await Promise.allSettled([...this.running]);
    clearTimeout(timer);
  }

  /** Cluster mode: the store's view of waiting/running deployments (busy, queueDepth and pushBusy read it). */
  setSnapshot(s: ClusterSnapshot): void {
    this.snapshot = s;
  }

  /** Cluster mode: read the store's view now (health and metrics answer with the current queue, not the last poll's). */
  async refreshSnapshot(): Promise<void> {
    if (this.deps.cluster) this.snapshot = await openDeployments(this.deps.db);
  }

  /** Deployments this process coordinates (the heartbeat checks it still holds them). */
  coordinatingIds(): number[] {
    return [...this.coordinating.keys()];
  }

  /** Stop coordinating a deployment: its lease was lost, or this process hands it to another at shutdown. */
  handOver(id: number): void {
    this.coordinating.get(id)?.handover.abort(new HandedOver(id));
  }

  /**
   * Coordinate a deployment claimed from the store (cluster mode): plan it (or, when a dead coordinator's claim is
   * resumed, take its recorded units and commit), run its units, write its end fenced by the lease.
   */
  async runClaimed(claim: ClaimedDeployment): Promise<void> {
    const d = await rec.getDeployment(this.deps.db, claim.id);
    if (!d) return;
    const c: Claimed = { attempt: claim.attempt, handover: new AbortController() };
    if (claim.attempt > 1 && d.after && d.units.length) c.resume = { units: d.units, commit: d.after, before: d.before };
    // Claimed again by this process (its lease was reaped, e.g. the database was out longer than the lease): the
    // earlier run stops writing (its attempt no longer holds) and leaves the unit to this one.
    this.coordinating.get(claim.id)?.handover.abort(new HandedOver(claim.id));
    this.coordinating.set(claim.id, c);
    const q: Queued = { id: claim.id, req: d.request, running: Promise.resolve() };
    const p = this.execute(q, c).finally(() => { if (this.coordinating.get(claim.id) === c) this.coordinating.delete(claim.id); });
    this.track(p);
    await p;
  }

  get coordinatingCount(): number {
    return this.coordinating.size;
  }

  private async pollUntilFinal(id: number): Promise<DeploymentView> {
    const cluster = this.deps.cluster!;
    for (;;) {
      const d = await rec.getDeployment(this.deps.db, id);
      if (d && FINAL_STATUSES.has(d.status)) return d;
      await cluster.changed(this.kill.signal, Math.min(cluster.pollMs, 250));
    }
  }

  private now(): string {
    return this.deps.clock().toISOString();
  }

  private enqueue(q: Queued): void {
    if (q.req.kind === 'push') {
      this.pushQueue.push(q);
      if (!this.pushLoop) this.pushLoop = this.runPushLoop().finally(() => { this.pushLoop = null; });
    } else {
      this.syncWaiting.push(q);
      this.track(this.execute(q).finally(() => this.leaveWaiting(q)));
    }
  }

  private leaveWaiting(q: Queued): void {
    const i = this.syncWaiting.indexOf(q);
    if (i >= 0) this.syncWaiting.splice(i, 1);
  }

  /** Status → running, once: from then on (in the database's order) new requests no longer join it. */
  private markRunning(q: Queued): Promise<void> {
    this.leaveWaiting(q);
    q.running ??= rec.markDeploymentRunning(this.deps.db, q.id, this.now()).then(() => this.changed({ kind: 'deployment', id: q.id, status: 'running' }));
    return q.running;
  }

  /**
   * Run fn under the unit's lock: a host-scoped run waits only for runs on its hosts; a whole-unit run for the
   * previous whole-unit run, and then, as the inventory answers, for runs on the hosts it names.
   */
  private withUnit<T>(unit: Unit, onlyHosts: string[] | undefined, fn: (cmdb: CmdbProvider) => Promise<T>): Promise<T> {
    const key = unitKey(unit);
    if (onlyHosts) return this.unitLocks.hosts(key, onlyHosts, () => fn(this.deps.cmdb));
    return this.unitLocks.wholeUnit(key, (declare) => fn(declaring(this.deps.cmdb, declare)));
  }

  /** Cluster mode: a drift check holds the unit in the store (deployment 0) so no deployment of it runs anywhere meanwhile. */
  private withStoreUnitLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.holdUnit(key, 0, this.kill.signal, () => (this.stopping ? new QueueFullError('server is shutting down') : undefined), () => false, fn);
  }

  /** Cluster mode: run fn holding the unit (one run of a unit at a time across processes: unit_runs' primary key). */
  private withClusterUnit<T>(unit: Unit, id: number, claimed: Claimed, fn: () => Promise<T>): Promise<T> {
    const handover = claimed.handover.signal;
    // A run that was handed over no longer holds the unit (the same deployment's next run may): it leaves it.
    return this.holdUnit(unitKey(unit), id, handover, () => (handover.aborted ? new HandedOver(id) : undefined), () => handover.aborted, fn);
  }

  /** Wait (woken by hints) until the unit is ours in the store, run fn, release it unless `keep`; `stop` ends the wait. */
  private async holdUnit<T>(key: string, id: number, wait: AbortSignal, stop: () => Error | undefined, keep: () => boolean, fn: () => Promise<T>): Promise<T> {
    const cluster = this.deps.cluster!;
    while (!(await acquireUnitRun(this.deps.db, key, id, cluster.owner, cluster.leaseSeconds))) {
      const why = stop();
      if (why) throw why;
      await cluster.changed(wait, UNIT_RETRY_MS);
    }
    try {
      return await fn();
    } finally {
      if (!keep()) {
        await releaseUnitRun(this.deps.db, key, id, cluster.owner).catch((err: unknown) => this.deps.log.warn({ err, unit: key }, 'could not release the unit (its lease will expire)'));
      }
    }
  }

  /** A change recorded elsewhere in this process (a cluster worker's host pushes): for live views. */
  noteChange(c: DeployChange): void {
    this.changed(c);
  }

  private changed(c: DeployChange): void {
    try {
      this.events.emit('change', c);
    } catch (err) {
      this.deps.log.error({ err }, 'deployment change listener failed');
    }
  }

  private track(p: Promise<unknown>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Push deployments of the branch run one after another: each diffs from where the previous one ended. */
  private async runPushLoop(): Promise<void> {
    while (this.pushQueue.length && !this.stopping) {
      const q = this.pushQueue.shift()!;
      const p = this.execute(q);
      this.track(p);
      await p;
    }
  }

  private async execute(q: Queued, claimed?: Claimed): Promise<void> {
    const { db } = this.deps;
    const log = this.deps.log.child({ deploymentId: q.id });
    let status: DeploymentStatus = 'failed';
    let error: string | null = null;
    let repeatFailure = false; // every unit that failed had failed before: its streak was reported already
    const cluster = claimed ? this.deps.cluster : undefined;
    const owner = cluster?.owner ?? '';
    let handedOver = false;
    try {
      if (this.stopping) return;
      // A push is running before it fetches: a push arriving from now on makes a follow-up, one arriving before is seen.
      if (q.req.kind === 'push') await this.markRunning(q);
      const { units, commit, before } = claimed?.resume
        ? { units: claimed.resume.units.map((u) => parseUnitKey(u)!).filter(Boolean), commit: claimed.resume.commit, before: claimed.resume.before }
        : q.req.kind === 'push' ? await planPush(this.deps, this.branch, q.req, log) : await planSync(this.deps, q.req);
      if (claimed?.resume) log.warn({ attempt: claimed.attempt }, 'resuming a deployment whose coordinator stopped');
      await rec.setDeploymentUnits(db, q.id, units.map(unitKey), { before, after: commit });
      const sync = q.req.kind === 'sync' ? q.req : undefined;
      // Units run side by side, each under its own lock; hosts share the server-wide cap. A sync is running (no longer
      // joined by identical requests) from when its first unit gets the lock.
      // Sync windows: units of automatic deployments may be held (recorded, run when the window lets them).
      const held = this.deps.windows && !sync?.dryRun && AUTOMATIC_TRIGGERS.has(q.req.trigger)
        ? await this.deps.windows.hold(q.id, q.req, units, commit) : new Map<string, string>();
      const heldOutcome: UnitOutcome = { status: 'held', hosts: [], interrupted: false, windowHeld: true };
      const fenced = cluster && claimed ? (fn: (tx: Queryable) => Promise<void>) => db.tx(async (tx) => {
        if (!(await holdsDeployment(tx, q.id, owner, claimed.attempt))) return false;
        await fn(tx);
        return true;
      }) : undefined;
      const runOne = async (unit: Unit, cmdb: CmdbProvider): Promise<UnitOutcome> => {
        await this.markRunning(q);
        if (this.stopping && !cluster) return { status: 'failed', hosts: [], interrupted: true };
        const dispatch = cluster && claimed ? clusterDispatch({
          db, dcField: cluster.dcField, pollMs: cluster.pollMs, handover: claimed.handover.signal,
          announce: (dcs) => cluster.announce('host', dcs), changed: cluster.changed,
        }) : undefined;
        return runUnit({ ...this.deps, cmdb, hostSlots: this.hostSlots, onChange: (c) => this.changed(c), dispatch, fenced }, {
          deploymentId: q.id, unit, commit, onlyHosts: sync?.hosts, dryRun: sync?.dryRun, confirmDeletions: sync?.confirmDeletions, force: sync?.force,
          // A cluster coordinator is not drained: at shutdown it hands the deployment over instead (HandedOver).
          drain: cluster ? new AbortController().signal : this.drain.signal, kill: this.kill.signal, log,
        });
      };
      const outcomes = await Promise.all(units.map((unit) => held.has(unitKey(unit)) ? heldOutcome
        : cluster && claimed ? this.withClusterUnit(unit, q.id, claimed, () => runOne(unit, this.deps.cmdb))
          : this.withUnit(unit, sync?.hosts, (cmdb) => runOne(unit, cmdb))));
      if (q.req.kind === 'push' && !outcomes.some((o) => o.interrupted)) {
        const write = (tx: Queryable) => rec.setLastSeen(tx, this.branch, commit, this.now());
        if (fenced) await fenced(write); else await write(db);
      }
      status = aggregate(outcomes);
      const bad = outcomes.filter((o) => o.status === 'failed' || o.status === 'partial');
      repeatFailure = bad.length > 0 && bad.every((o) => o.repeatFailure) && !this.stopping;
      if (status !== 'succeeded') error = summarize(outcomes, units);
    } catch (err) {
      if (err instanceof HandedOver || claimed?.handover.signal.aborted) handedOver = true;
      error = (err as Error).message;
      status = 'failed';
      if (!handedOver) log.error({ err }, 'deployment failed');
    } finally {
      if (this.stopping && !cluster && status !== 'succeeded' && status !== 'held') status = 'interrupted';
      if (cluster) {
        // Only the lease holder writes the end; a process that lost it leaves the deployment to its new coordinator.
        const wrote = !handedOver && await finishDeploymentFenced(db, q.id, owner, status, error, this.now(), claimed?.attempt).catch((err) => { log.error({ err }, 'cannot record deployment end'); return false; });
        if (!wrote) {
          log.warn('deployment handed over: its end is left to the process that holds it now');
          return;
        }
      } else await rec.finishDeployment(db, q.id, status, error, this.now()).catch((err) => log.error({ err }, 'cannot record deployment end'));
      this.changed({ kind: 'deployment', id: q.id, status });
      this.deps.metrics.deployments.inc({ status, trigger: q.req.trigger });
      log.info({ status, error }, 'deployment finished');
      const d = await rec.getDeployment(db, q.id);
      for (const resolve of this.waiters.get(q.id) ?? []) resolve(d!);
      this.waiters.delete(q.id);
      if (d) {
        try {
          this.events.emit('finished', { ...d, unitResults: await rec.unitResults(db, q.id), hosts: await rec.hostPushes(db, q.id), repeatFailure });
        } catch (err) {
          log.error({ err }, 'deployment finished listener failed');
        }
      }
    }
  }
}

/** How long a coordinator waits between tries for a unit another deployment runs. */
const UNIT_RETRY_MS = 250;

/** The inventory as a whole-unit run sees it: its answer also declares the hosts the run will push to. */
function declaring(cmdb: CmdbProvider, declare: Declare): CmdbProvider {
  return {
    id: cmdb.id,
    invalidate: cmdb.invalidate?.bind(cmdb),
    async resolveHosts(query, signal) {
      const found = await cmdb.resolveHosts(query, signal);
      // runUnit asks once, before any host is touched (its only lookup); it then waits here for runs on those hosts.
      await declare(found.map((h) => h.ip));
      return found;
    },
  };
}

function aggregate(all: UnitOutcome[]): DeploymentStatus {
  // Units a sync window holds run later (their own deployment): the rest decides, and all-fine-but-held is 'held'.
  const outcomes = all.filter((o) => !o.windowHeld);
  if (outcomes.length < all.length && outcomes.every((o) => o.status === 'succeeded')) return 'held';
  if (outcomes.length === 0) return 'succeeded';
  const ok = outcomes.filter((o) => o.status === 'succeeded').length;
  return ok === outcomes.length ? 'succeeded' : ok === 0 && !outcomes.some((o) => o.status === 'partial') ? 'failed' : 'partial';
}

function summarize(outcomes: UnitOutcome[], units: Unit[]): string {
  return outcomes.map((o, i) => ({ o, u: unitKey(units[i]!) })).filter(({ o }) => o.status !== 'succeeded').map(({ o, u }) => `${u}: ${o.status}`).join('; ');
}

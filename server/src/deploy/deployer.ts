// The deployer: records intent, queues (bounded, coalescing), runs deployments with one run per unit at a time,
// recovers interrupted ones at start and drains on shutdown.
import { EventEmitter, setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { QueueFullError, ValidationError } from '../errors.js';
import * as rec from '../db/deployments.js';
import { type Unit, unitKey } from '../gitops/targets.js';
import { KeyedLock, Semaphore } from '../util/semaphore.js';
import { runUnit, type UnitOutcome, type UnitRunDeps } from './unit-run.js';
import { planPush, planSync } from './plan.js';
import { FINAL_STATUSES, type DeployRequest, type DeploymentStatus, type DeploymentView } from './types.js';

export type DeployerDeps = Omit<UnitRunDeps, 'hostSlots'> & { log: Logger };

export interface Submitted { id: number; coalesced: boolean }

/** started: it took its first unit lock; from then on it no longer absorbs identical requests. */
interface Queued { id: number; req: DeployRequest; started?: boolean }

export interface DeployerEvents {
  /** A deployment reached its final status (listeners must not throw; notifications use this). */
  finished: [DeploymentView];
}

export class Deployer {
  readonly events = new EventEmitter<DeployerEvents>();
  private readonly hostSlots: Semaphore;
  private readonly unitLocks = new KeyedLock();
  private readonly pushQueue: Queued[] = [];
  private readonly syncWaiting: Queued[] = [];
  private pushLoop: Promise<void> | null = null;
  private readonly running = new Set<Promise<unknown>>();
  private readonly waiters = new Map<number, Array<(d: DeploymentView) => void>>();
  private readonly drain = new AbortController();
  private readonly kill = new AbortController();
  private readonly branch: string;

  constructor(private readonly deps: DeployerDeps) {
    this.hostSlots = new Semaphore(deps.config.deploy.concurrency);
    // Every running host push listens on these two signals.
    setMaxListeners(0, this.drain.signal, this.kill.signal);
    this.branch = deps.config.repo.branch;
  }

  queueDepth(): number {
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

  /** Run fn while no deployment of the unit runs (drift checks). */
  withUnitLock<T>(unit: string, fn: () => Promise<T>): Promise<T> {
    return this.unitLocks.run(unit, fn);
  }

  /** A push deployment is queued or running (the poller waits for it). */
  pushBusy(): boolean {
    return this.pushLoop !== null || this.pushQueue.length > 0;
  }

  get stopping(): boolean {
    return this.drain.signal.aborted;
  }

  /** Record a deployment and queue it; coalesces with an identical one still waiting. */
  async submit(req: DeployRequest): Promise<Submitted> {
    if (this.stopping) throw new QueueFullError('server is shutting down, not taking deployments');
    if (req.kind === 'push') {
      const waiting = this.pushQueue[this.pushQueue.length - 1];
      if (waiting) return { id: waiting.id, coalesced: true };
    } else {
      const same = this.syncWaiting.find((q) => !q.started && JSON.stringify(q.req) === JSON.stringify(req));
      if (same) return { id: same.id, coalesced: true };
    }
    if (this.queueDepth() >= this.deps.config.deploy.queueSize) throw new QueueFullError();
    const id = await rec.insertDeployment(this.deps.db, {
      trigger: req.trigger, actor: req.actor ?? null, branch: this.branch,
      before: req.kind === 'push' ? req.before ?? null : null, after: req.kind === 'push' ? req.after ?? null : req.commit ?? null, request: req,
    }, this.now());
    this.enqueue({ id, req });
    return { id, coalesced: false };
  }

  /** Resolves with the deployment once it has finished. */
  async wait(id: number): Promise<DeploymentView> {
    const d = await rec.getDeployment(this.deps.db, id);
    if (!d) throw new ValidationError(`deployment ${id} does not exist`);
    if (FINAL_STATUSES.has(d.status)) return d;
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
  }

  /** At start: running deployments were cut off by a crash → interrupted and run again; queued ones are queued again. */
  async recover(): Promise<number[]> {
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

  private now(): string {
    return this.deps.clock().toISOString();
  }

  private enqueue(q: Queued): void {
    if (q.req.kind === 'push') {
      this.pushQueue.push(q);
      if (!this.pushLoop) this.pushLoop = this.runPushLoop().finally(() => { this.pushLoop = null; });
    } else {
      this.syncWaiting.push(q);
      this.track(this.execute(q).finally(() => this.markStarted(q)));
    }
  }

  private markStarted(q: Queued): void {
    q.started = true;
    const i = this.syncWaiting.indexOf(q);
    if (i >= 0) this.syncWaiting.splice(i, 1);
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

  private async execute(q: Queued): Promise<void> {
    const { db } = this.deps;
    const log = this.deps.log.child({ deploymentId: q.id });
    let status: DeploymentStatus = 'failed';
    let error: string | null = null;
    let repeatFailure = false; // every unit that failed had failed before: its streak was reported already
    try {
      if (this.stopping) return;
      await rec.markDeploymentRunning(db, q.id, this.now());
      const { units, commit, before } = q.req.kind === 'push' ? await planPush(this.deps, this.branch, q.req, log) : await planSync(this.deps, q.req);
      await rec.setDeploymentUnits(db, q.id, units.map(unitKey), { before, after: commit });
      const sync = q.req.kind === 'sync' ? q.req : undefined;
      // Units run side by side, each under its own lock; hosts share the server-wide cap.
      const outcomes = await Promise.all(units.map((unit) => this.unitLocks.run(unitKey(unit), (): Promise<UnitOutcome> => {
        this.markStarted(q);
        if (this.stopping) return Promise.resolve({ status: 'failed', hosts: [], interrupted: true });
        return runUnit({ ...this.deps, hostSlots: this.hostSlots }, {
          deploymentId: q.id, unit, commit, onlyHosts: sync?.hosts, dryRun: sync?.dryRun, confirmDeletions: sync?.confirmDeletions, force: sync?.force,
          drain: this.drain.signal, kill: this.kill.signal, log,
        });
      })));
      if (q.req.kind === 'push' && !outcomes.some((o) => o.interrupted)) await rec.setLastSeen(db, this.branch, commit, this.now());
      status = aggregate(outcomes);
      const bad = outcomes.filter((o) => o.status === 'failed' || o.status === 'partial');
      repeatFailure = bad.length > 0 && bad.every((o) => o.repeatFailure) && !this.stopping;
      if (status !== 'succeeded') error = summarize(outcomes, units);
    } catch (err) {
      error = (err as Error).message;
      status = 'failed';
      log.error({ err }, 'deployment failed');
    } finally {
      if (this.stopping && status !== 'succeeded') status = 'interrupted';
      await rec.finishDeployment(db, q.id, status, error, this.now()).catch((err) => log.error({ err }, 'cannot record deployment end'));
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

function aggregate(outcomes: UnitOutcome[]): DeploymentStatus {
  if (outcomes.length === 0) return 'succeeded';
  const ok = outcomes.filter((o) => o.status === 'succeeded').length;
  return ok === outcomes.length ? 'succeeded' : ok === 0 && !outcomes.some((o) => o.status === 'partial') ? 'failed' : 'partial';
}

function summarize(outcomes: UnitOutcome[], units: Unit[]): string {
  return outcomes.map((o, i) => ({ o, u: unitKey(units[i]!) })).filter(({ o }) => o.status !== 'succeeded').map(({ o, u }) => `${u}: ${o.status}`).join('; ');
}

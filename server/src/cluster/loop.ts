// The cluster loop of one process (README "Scale-out"): heartbeat (extend its leases; stop work whose lease was
// reaped), the reaper (expired leases back to the queue; on the leader only when there is one), claims (deployments
// to coordinate, host pushes to run: workers only), and the store's view of the queue for busy/queue depth.
import type { Logger } from 'pino';
import type { Db } from '../db/connection.js';
import { claimDeployment, handBack, heartbeat, openDeployments, queueDepth, reapExpired } from '../db/work-queue.js';
import type { Deployer } from '../deploy/deployer.js';
import type { Metrics } from '../metrics.js';
import type { ClusterNode } from './node.js';
import type { HostExecutor } from './host-executor.js';
import type { Hints } from './hints.js';
import { sleep } from '../util/sleep.js';

/** The shortest time between two claim rounds of one process. */
const MIN_TICK_MS = 25;

export interface ClusterLoopOptions {
  db: Db;
  node: ClusterNode;
  deployer: Deployer;
  /** Present on workers (role worker or all). */
  executor?: HostExecutor;
  log: Logger;
  metrics: Metrics;
  hints: Hints;
  leaseSeconds: number;
  pollMs: number;
  workerDeployments: number;
  /** Whether this process runs the reaper now (the leader; absent: every process, which is safe, only redundant). */
  leads?: () => boolean;
}

export class ClusterLoop {
  private stopped = false;
  private readonly stopCtrl = new AbortController();
  private timers: NodeJS.Timeout[] = [];
  private loop: Promise<void> | null = null;
  private lastSnapshot = 0;

  constructor(private readonly o: ClusterLoopOptions) {}

  start(): void {
    const beat = Math.max(500, Math.floor((this.o.leaseSeconds * 1000) / 3));
    this.timers.push(setInterval(() => void this.beat(), beat), setInterval(() => void this.reap(), beat));
    for (const t of this.timers) t.unref();
    void this.beat();
    this.loop = this.run();
  }

  /** Stop claiming; running host pushes may finish for graceMs; coordinated deployments are handed to other processes. */
  async stop(graceMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopCtrl.abort();
    for (const t of this.timers) clearInterval(t);
    await this.loop;
    await this.o.executor?.stop(graceMs);
    // Hand over what this process coordinates: back to the queue at once (no lease expiry to wait for).
    const ids = this.o.deployer.coordinatingIds();
    for (const id of ids) this.o.deployer.handOver(id);
    if (ids.length) {
      await handBack(this.o.db, this.o.node.id).catch((err: unknown) => this.o.log.warn({ err }, 'could not hand over deployments (their leases will expire)'));
      this.o.hints.emit();
      this.o.log.info({ deployments: ids }, 'handed over the deployments this process coordinated');
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const t0 = Date.now();
      try {
        await this.tick();
      } catch (err) {
        this.o.log.warn({ err }, 'cluster loop: claim failed; retrying');
      }
      await this.o.hints.wait(this.stopCtrl.signal, this.o.pollMs);
      // A burst of hints (every finished host push is one) makes one claim round per MIN_TICK_MS, not one each.
      const gap = MIN_TICK_MS - (Date.now() - t0);
      if (gap > 0) await sleep(gap, this.stopCtrl.signal);
    }
  }

  private async tick(): Promise<void> {
    const { db, node, deployer, executor } = this.o;
    if (node.works) {
      while (!this.stopped && deployer.coordinatingCount < this.o.workerDeployments) {
        const claim = await claimDeployment(db, node.id, this.o.leaseSeconds);
        if (!claim) break;
        this.o.log.info({ deploymentId: claim.id, attempt: claim.attempt }, 'claimed a deployment');
        void deployer.runClaimed(claim).catch((err: unknown) => this.o.log.error({ err, deploymentId: claim.id }, 'coordinating a deployment failed'));
      }
      // Claim until nothing more fits or is queued (a batch of 5,000 hosts is not taken one poll at a time).
      while (!this.stopped && executor && (await executor.fill()) > 0) { /* keep filling */ }
    }
    // The store's view of the queue (busy, queue depth, metrics): once per poll interval, not on every hint.
    if (Date.now() - this.lastSnapshot < this.o.pollMs) return;
    this.lastSnapshot = Date.now();
    deployer.setSnapshot(await openDeployments(db));
    const depth = await queueDepth(db);
    this.o.metrics.hostQueueDepth.reset();
    for (const [dc, n] of depth) this.o.metrics.hostQueueDepth.set({ dc }, n);
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      const held = await heartbeat(this.o.db, this.o.node, this.o.leaseSeconds);
      for (const id of this.o.executor?.runningIds() ?? []) if (!held.hosts.has(id)) this.o.executor!.lost(id);
      for (const id of this.o.deployer.coordinatingIds()) {
        if (!held.deployments.has(id)) {
          this.o.log.warn({ deploymentId: id }, 'lease lost: another process coordinates this deployment now');
          this.o.deployer.handOver(id);
        }
      }
    } catch (err) {
      this.o.log.warn({ err }, 'heartbeat failed (leases expire if this lasts)');
    }
  }

  private async reap(): Promise<void> {
    if (this.stopped || (this.o.leads && !this.o.leads())) return;
    try {
      const r = await reapExpired(this.o.db);
      for (const h of r.hosts) this.o.metrics.leaseExpiries.inc({ kind: 'host_push', dc: h.dc ?? '' });
      for (const _ of r.deployments) this.o.metrics.leaseExpiries.inc({ kind: 'deployment', dc: '' });
      if (r.hosts.length || r.deployments.length) {
        this.o.log.warn({ hostPushes: r.hosts.map((h) => h.id), deployments: r.deployments }, 'expired leases returned to the queue');
        this.o.hints.emit();
      }
    } catch (err) {
      this.o.log.warn({ err }, 'reaper failed; retrying');
    }
  }
}

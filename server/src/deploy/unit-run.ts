// One unit of a deployment: ask the CMDB for hosts, stage the unit at the commit, apply the deletion breaker,
// roll out in batches (rsync, then owners/hooks), record everything. Who pushes a batch's hosts is the dispatch's
// business: this process under the server-wide cap (localDispatch), or the cluster's workers (cluster/dispatch.ts).
import type { Logger } from 'pino';
import type { Queryable } from '../db/connection.js';
import * as rec from '../db/deployments.js';
import { clearUnitFailure, recordUnitFailure } from '../db/unit-failures.js';
import type { CmdbProvider, TargetHost } from '../cmdb/provider.js';
import { type Unit, unitKey } from '../gitops/targets.js';
import type { Semaphore } from '../util/semaphore.js';
import { sleep } from '../util/sleep.js';
import { failureLimit, planBatches } from './rollout.js';
import { deletionHold, type FileListInfo } from './stage.js';
import { removedCount } from './transfer-plan.js';
import type { HostPushStatus, UnitStatus } from './types.js';
import { hostWork, inventoryEnv, prepareUnit, stagingRoot, type HostDone, type HostWorkDeps, type HostWorkInput, type UnitPrep } from './host-work.js';

export { inventoryEnv, stageOptions, unitOwnership } from './host-work.js';

export interface UnitRunDeps extends HostWorkDeps {
  cmdb: CmdbProvider;
  hostSlots: Semaphore;
  /** Who pushes the hosts of a batch (default: this process, under hostSlots). */
  dispatch?: Dispatch;
  /** Writes that only the deployment's current owner may make (a cluster fences them by its lease); default: a transaction. */
  fenced?: (fn: (q: Queryable) => Promise<void>) => Promise<boolean>;
}

/** Runs a unit's host pushes batch by batch; `skip` records a host the rollout stopped before. */
export interface BatchRunner {
  run(batch: TargetHost[]): Promise<HostDone[]>;
  skip(t: TargetHost, reason: string): Promise<void>;
}
export type Dispatch = (o: { deps: UnitRunDeps; prep: UnitPrep; work: HostWorkInput; targets: TargetHost[]; drain: AbortSignal }) => Promise<BatchRunner>;

/** This process pushes every host itself, under the server-wide cap (the single-process default). */
export const localDispatch: Dispatch = async ({ deps, prep, work, targets, drain }) => {
  const { db } = deps;
  const now = () => deps.clock().toISOString();
  const ids = await rec.insertHostPushes(db, work.deploymentId, prep.key, targets);
  const rows = new Map(targets.map((t, i) => [t.ip, ids[i]!]));
  const one = async (t: TargetHost): Promise<HostDone> => {
    const rowId = rows.get(t.ip)!;
    try {
      return await deps.hostSlots.run(() => hostWork(deps, prep, work, t, rowId, {
        start: () => rec.startHostPush(db, rowId, now()),
        finish: async (res, commit) => {
          await rec.finishHostPush(db, rowId, res, now());
          if (commit) await rec.setHostCommit(db, prep.key, t.ip, work.commit, work.deploymentId, now());
          return true;
        },
      }), drain);
    } catch {
      // Never started: the server is draining. The deployment is re-run at the next start.
      await rec.finishHostPush(db, rowId, { status: 'aborted', exitCode: null, reason: 'not started: the server was shutting down', changes: [], stderrTail: null, attempts: 0, durationMs: 0 }, now());
      deps.onChange?.({ kind: 'host', deploymentId: work.deploymentId, unit: prep.key, ip: t.ip, status: 'aborted' });
      return { ip: t.ip, status: 'aborted', transient: false, seconds: -1, recorded: true };
    }
  };
  return {
    run: (batch) => Promise.all(batch.map(one)),
    skip: (t, reason) => rec.finishHostPush(db, rows.get(t.ip)!, { status: 'skipped', exitCode: null, reason, changes: [], stderrTail: null, attempts: 0, durationMs: 0 }, now()),
  };
};

export interface UnitRunInput {
  deploymentId: number;
  unit: Unit;
  commit: string;
  /** Only these IPs (converge of a new host, self-heal of drifted hosts). */
  onlyHosts?: string[];
  dryRun?: boolean;
  confirmDeletions?: boolean;
  /** No probe and no shell writes: rsync compares every file (an operator's full, rebuilt push). */
  force?: boolean;
  /** Stops new host pushes from starting (shutdown drain). */
  drain: AbortSignal;
  /** Kills running pushes (shutdown grace exceeded). */
  kill: AbortSignal;
  log: Logger;
}

export interface UnitOutcome {
  status: UnitStatus; hosts: Array<{ ip: string; status: HostPushStatus }>; interrupted: boolean;
  /** The unit failed in its previous run too (its streak was already reported): notify once, not on every push. */
  repeatFailure?: boolean;
  /** Held by a sync window (not run; its held work runs when the window lets it). */
  windowHeld?: boolean;
}

const CMDB_TIMEOUT_MS = 30_000;

export async function resolveTargets(deps: Pick<UnitRunDeps, 'cmdb' | 'config'>, unit: Unit, onlyHosts?: string[]): Promise<TargetHost[]> {
  const found = await deps.cmdb.resolveHosts({ env: inventoryEnv(deps.config, unit.env), app: unit.app }, AbortSignal.timeout(CMDB_TIMEOUT_MS));
  const all = [...new Map(found.map((h) => [h.ip, h])).values()].sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }));
  return onlyHosts ? all.filter((h) => onlyHosts.includes(h.ip)) : all;
}

/**
 * Run the unit and keep its failure streak: a failed or partial run extends it, a full success ends it
 * (`gitfleet_unit_failing_runs`, `/api/v1/units`). Dry runs, held units and units with no hosts leave it alone.
 */
export async function runUnit(deps: UnitRunDeps, input: UnitRunInput): Promise<UnitOutcome> {
  let reason: string | null = null;
  const out = await runUnitOnce(deps, input, (r) => { reason = r; });
  const key = unitKey(input.unit);
  if (input.dryRun || out.interrupted) return out;
  try {
    if (out.status === 'failed' || out.status === 'partial') {
      const streak = await recordUnitFailure(deps.db, key, input.deploymentId, reason, deps.clock().toISOString());
      deps.metrics.unitFailing.set({ unit: key }, streak);
      return { ...out, repeatFailure: streak > 1 };
    }
    if (out.status === 'succeeded' && !input.onlyHosts && (await clearUnitFailure(deps.db, key))) deps.metrics.unitFailing.set({ unit: key }, 0);
  } catch (err) {
    input.log.warn({ err, unit: key }, 'could not record the unit failure streak');
  }
  return out;
}

async function runUnitOnce(deps: UnitRunDeps, input: UnitRunInput, lastReason: (r: string | null) => void): Promise<UnitOutcome> {
  const { db, clock, config } = deps;
  const key = unitKey(input.unit);
  const log = input.log.child({ unit: key });
  const now = () => clock().toISOString();
  const record = (status: UnitStatus, reason: string | null, hostCount = 0) => {
    lastReason(reason);
    return rec.upsertDeploymentUnit(db, input.deploymentId, { unit: key, commit: input.commit, status, reason, hostCount }, now())
      .then(() => deps.onChange?.({ kind: 'unit', deploymentId: input.deploymentId, unit: key, status }));
  };
  const hostChanged = (ip: string, status: HostPushStatus | 'running') => deps.onChange?.({ kind: 'host', deploymentId: input.deploymentId, unit: key, ip, status });
  await record('running', null);

  let targets: TargetHost[];
  try {
    targets = await resolveTargets(deps, input.unit, input.onlyHosts);
  } catch (err) {
    log.warn({ err }, 'inventory lookup failed');
    await record('failed', `inventory lookup failed: ${(err as Error).message}`);
    return { status: 'failed', hosts: [], interrupted: false };
  }
  if (targets.length === 0) {
    await record('no_hosts', `no hosts in the inventory for env ${inventoryEnv(config, input.unit.env)}, app ${input.unit.app}`);
    return { status: 'no_hosts', hosts: [], interrupted: false };
  }

  let prep: UnitPrep;
  const work = { deploymentId: input.deploymentId, unit: input.unit, commit: input.commit, dryRun: input.dryRun, force: input.force, kill: input.kill, log };
  try {
    prep = await prepareUnit(deps, work, targets.map((t) => t.ip), stagingRoot(config, input.deploymentId, key));
  } catch (err) {
    await record('failed', `cannot stage the unit: ${(err as Error).message}`, targets.length);
    return { status: 'failed', hosts: [], interrupted: false };
  }
  const stage = prep.stage;
  try {
    const lists = new Map<string, FileListInfo>();
    for (const t of targets) lists.set(t.ip, await prep.list(t.ip));

    // Deletion circuit breaker: hold the whole unit rather than remove more than allowed.
    const limits = { ...config.deploy.deletion, ...(stage.meta.deletion ?? {}) };
    const hold = [...new Set(lists.values())].map((l) => deletionHold(removedCount(l.plan), l.previousCount, limits)).find(Boolean);
    if (hold && !input.confirmDeletions && !input.dryRun) {
      await record('held', `held by the deletion circuit breaker: ${hold}; confirm with POST /api/v1/deployments/${input.deploymentId}/confirm`, targets.length);
      log.warn({ hold }, 'unit held by the deletion circuit breaker');
      return { status: 'held', hosts: [], interrupted: false };
    }
    await record('running', hold && input.dryRun ? `would be held: ${hold}` : null, targets.length);

    // What the probes compare with, worked out while the host pushes start (they would all wait for it).
    if (!stage.rendering?.perHost) for (const l of new Set(targets.filter((t) => prep.mayProbe(t.ip, lists.get(t.ip)!)).map((t) => lists.get(t.ip)!))) l.expected().catch(() => undefined);
    const dispatch = deps.dispatch ?? localDispatch;
    const batchRunner = await dispatch({ deps, prep, work, targets, drain: input.drain });
    let interrupted = false;

    const finals = new Map<string, { status: HostPushStatus; seconds: number }>();
    const runBatch = async (batch: TargetHost[]): Promise<Array<{ ip: string; status: HostPushStatus; transient: boolean }>> => {
      const done = await batchRunner.run(batch);
      for (const d of done) {
        if (d.status === 'aborted') interrupted = true;
        if (d.seconds >= 0) finals.set(d.ip, { status: d.status, seconds: d.seconds }); // a deferred host's retry replaces its first try
      }
      return done;
    };

    // Canary first, then batches; stop when failures pass the limit; unreachable hosts may wait for the end.
    const rollout = stage.meta.rollout;
    const batches = planBatches(targets, rollout);
    const limit = failureLimit(rollout, targets.length);
    const results = new Map<string, HostPushStatus>();
    const deferred: TargetHost[] = [];
    let failures = 0;
    let stoppedAt = -1;
    for (const [i, batch] of batches.entries()) {
      const out = await runBatch(batch);
      for (const [j, r] of out.entries()) {
        if (r.status === 'failed' && r.transient && rollout?.skipUnreachable) { deferred.push(batch[j]!); continue; }
        results.set(r.ip, r.status);
        if (r.status === 'failed') failures++;
      }
      if (failures > limit) { stoppedAt = i; break; }
      if (i < batches.length - 1 && rollout?.bakeSeconds) await sleep(rollout.bakeSeconds * 1000, input.drain);
      if (input.drain.aborted) { stoppedAt = i; interrupted = true; break; }
    }
    const notAttempted = stoppedAt >= 0 ? batches.slice(stoppedAt + 1).flat() : [];
    const why = input.drain.aborted ? 'not attempted: the server was shutting down' : `not attempted: rollout stopped after ${failures} failed host(s) (limit ${limit})`;
    for (const t of notAttempted) {
      await batchRunner.skip(t, why);
      hostChanged(t.ip, 'skipped');
      results.set(t.ip, 'skipped');
    }
    if (deferred.length) {
      log.info({ hosts: deferred.map((t) => t.ip) }, 'retrying unreachable hosts at the end of the rollout');
      const again = stoppedAt >= 0
        ? deferred.map((t) => ({ ip: t.ip, status: 'failed' as HostPushStatus }))
        : await runBatch(deferred);
      for (const r of again) results.set(r.ip, r.status);
    }

    if (stage.rendering?.perHost) log.info(stage.rendering.stats(), 'templates rendered'); // renders, copies staged, hosts that shared one
    for (const f of finals.values()) {
      deps.metrics.hostPushes.inc({ status: f.status });
      deps.metrics.pushDuration.observe({ status: f.status }, f.seconds);
    }
    const statuses = targets.map((t) => results.get(t.ip) ?? 'failed');
    const ok = statuses.filter((x) => x === 'succeeded').length;
    const status: UnitStatus = ok === statuses.length ? 'succeeded' : ok === 0 ? 'failed' : 'partial';
    if (status === 'succeeded' && !input.dryRun && !input.onlyHosts) {
      const write = (q: Queryable) => rec.setUnitState(q, key, input.commit, input.deploymentId, now());
      if (!(await (deps.fenced ?? ((fn) => db.tx(fn).then(() => true)))(write))) log.warn('lease lost: the unit state is left to the deployment\'s new owner');
    }
    const reason = status === 'succeeded' ? (input.dryRun && hold ? `would be held: ${hold}` : null)
      : `${statuses.length - ok} of ${statuses.length} hosts not deployed${notAttempted.length ? ` (${notAttempted.length} not attempted: rollout stopped)` : ''}`;
    await record(status, reason, targets.length);
    return { status, hosts: targets.map((t) => ({ ip: t.ip, status: results.get(t.ip) ?? 'failed' })), interrupted };
  } finally {
    await stage.cleanup();
  }
}

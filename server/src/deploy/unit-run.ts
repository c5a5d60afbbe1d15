// One unit of a deployment: ask the CMDB for hosts, stage the unit at the commit, apply the deletion breaker,
// roll out in batches under the server-wide cap (rsync, then owners/hooks), record everything.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import * as rec from '../db/deployments.js';
import { hostRsyncByIp, setHostRsync } from '../db/host-rsync.js';
import { clearUnitFailure, recordUnitFailure } from '../db/unit-failures.js';
import { clearPending, markPending, pendingHooks } from '../db/host-pending.js';
import { addCreatedDirs, createdDirs, forgetCreatedDirs } from '../db/host-dirs.js';
import type { CmdbProvider, TargetHost } from '../cmdb/provider.js';
import type { ConfigRepo } from '../gitops/repo.js';
import { type Unit, unitKey } from '../gitops/targets.js';
import type { Metrics } from '../metrics.js';
import type { SshConnections } from '../ssh/connections.js';
import type { Semaphore } from '../util/semaphore.js';
import type { Launcher } from '../util/launcher.js';
import { sleep } from '../util/sleep.js';
import { pushHost } from './host-push.js';
import { capHostDiff, hostDiff } from './host-diff.js';
import { saveHostDiff } from '../db/host-diffs.js';
import { afterTransfer, prunePrefix } from './host-steps.js';
import { ownerPasses } from './owner-passes.js';
import { SHELL_WRITE_MAX_OPS } from './shell-write.js';
import { rsyncProblem, sudoOf } from './host-prepare.js';
import { failureLimit, planBatches } from './rollout.js';
import { deletionHold, stageUnit, type Stage } from './stage.js';
import { removedCount } from './transfer-plan.js';
import type { DeployChange, HostPushStatus, UnitStatus } from './types.js';
import { hostInfoByIp } from '../db/host-facts.js';
import { setHostPushRender } from '../db/host-render.js';
import { identityFileOf, openSecretBox, type SecretBox } from '../templating/secrets.js';
import type { HostStage } from '../templating/unit-render.js';

export interface UnitRunDeps {
  config: Config; db: Db; clock: () => Date; metrics: Metrics; cmdb: CmdbProvider; ssh: SshConnections; repo: ConfigRepo;
  hostSlots: Semaphore;
  /** Starts the per-host rsync processes (cheaper than forking the server). */
  launcher: Launcher;
  /** Told after each recorded unit or host push change (live views); must not throw. */
  onChange?: (c: DeployChange) => void;
}

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
const RSYNC_RECHECK_MS = 24 * 3600 * 1000;
const TRANSIENT = new Set(['unreachable', 'connection_refused', 'connection_reset', 'timeout']);

/** The inventory env for a repo env (env aliases apply to the lookup, not to the source path). */
export const inventoryEnv = (config: Config, env: string): string => config.inventory.envAliases[env] ?? env;

export async function resolveTargets(deps: Pick<UnitRunDeps, 'cmdb' | 'config'>, unit: Unit, onlyHosts?: string[]): Promise<TargetHost[]> {
  const found = await deps.cmdb.resolveHosts({ env: inventoryEnv(deps.config, unit.env), app: unit.app }, AbortSignal.timeout(CMDB_TIMEOUT_MS));
  const all = [...new Map(found.map((h) => [h.ip, h])).values()].sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }));
  return onlyHosts ? all.filter((h) => onlyHosts.includes(h.ip)) : all;
}

/** How a unit is staged: the server's age identity (opened on first use) and the unit's inventory env. */
export function stageOptions(config: Config, env: string): { secrets: () => SecretBox; inventoryEnv: string } {
  let box: SecretBox | undefined;
  return { secrets: () => (box ??= openSecretBox(identityFileOf(config))), inventoryEnv: inventoryEnv(config, env) };
}

/** Owner/group for rsync --chown: unit metadata, then deploy.units, then deploy.owner/group. */
export function unitOwnership(config: Config, key: string, stage: Pick<Stage, 'meta'>): { owner?: string; group?: string } {
  const o = config.deploy.units[key] ?? {};
  return { owner: stage.meta.owner ?? o.owner ?? config.deploy.owner, group: stage.meta.group ?? o.group ?? config.deploy.group };
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

  const known = await rec.hostCommits(db, key);
  const rsyncs = await hostRsyncByIp(db, targets.map((t) => t.ip));
  const owed = input.dryRun ? new Map<string, number>() : await pendingHooks(db, key);
  const made = await createdDirs(db, key);
  const rsyncPath = config.deploy.ssh.rsyncPath;
  let stage: Stage;
  try {
    const root = join(config.dataDir, 'staging', `${input.deploymentId}-${key.replaceAll('/', '~')}`);
    stage = await stageUnit(deps.repo, root, input.unit, input.commit, targets.map((t) => known.get(t.ip)), stageOptions(config, input.unit.env));
  } catch (err) {
    await record('failed', `cannot stage the unit: ${(err as Error).message}`, targets.length);
    return { status: 'failed', hosts: [], interrupted: false };
  }
  try {
    const lists = new Map<string, Awaited<ReturnType<Stage['listFor']>>>();
    for (const t of targets) lists.set(t.ip, await stage.listFor(known.get(t.ip)));

    // Deletion circuit breaker: hold the whole unit rather than remove more than allowed.
    const limits = { ...config.deploy.deletion, ...(stage.meta.deletion ?? {}) };
    const hold = [...new Set(lists.values())].map((l) => deletionHold(removedCount(l.plan), l.previousCount, limits)).find(Boolean);
    if (hold && !input.confirmDeletions && !input.dryRun) {
      await record('held', `held by the deletion circuit breaker: ${hold}; confirm with POST /api/v1/deployments/${input.deploymentId}/confirm`, targets.length);
      log.warn({ hold }, 'unit held by the deletion circuit breaker');
      return { status: 'held', hosts: [], interrupted: false };
    }
    await record('running', hold && input.dryRun ? `would be held: ${hold}` : null, targets.length);

    // Probe hosts that already hold this commit (re-syncs, self-heal: most need nothing; on a cold host the
    // probe's ssh opens the master), and, when the shell may write, warm hosts behind it by a few files: those
    // then cost no rsync at all. A cold host behind gets rsync straight away (it has something to receive, and
    // rsync opens the master), and so does a host behind by more files than the shell writes (the probe would
    // only add to rsync's work). Whether a host is warm is known once its connection is leased.
    const mayProbe = (ip: string) => !input.force && config.deploy.ssh.probe && (known.get(ip) === input.commit
      || (config.deploy.ssh.shellWrites && (lists.get(ip)!.changedFiles ?? Infinity) <= SHELL_WRITE_MAX_OPS));
    // What the probes compare with, worked out while the host pushes start (they would all wait for it).
    const perHost = !!stage.rendering?.perHost;
    if (!perHost) for (const l of new Set(targets.filter((t) => mayProbe(t.ip)).map((t) => lists.get(t.ip)!))) l.expected().catch(() => undefined);
    // Templates read the inventory's facts of each host (README "Templates and secrets").
    const infos = perHost ? await hostInfoByIp(db, targets.map((t) => t.ip)) : new Map();
    const { owner, group } = unitOwnership(config, key, stage);
    const backups = config.deploy.backups.enabled && !input.dryRun;
    const backupParent = `${config.deploy.backups.dir}/${key.replaceAll('/', '~')}`;
    const ids = await rec.insertHostPushes(db, input.deploymentId, key, targets);
    const rows = new Map(targets.map((t, i) => [t.ip, ids[i]!]));
    let interrupted = false;

    const finals = new Map<string, { status: HostPushStatus; seconds: number }>();
    const pushOne = async (t: TargetHost): Promise<{ ip: string; status: HostPushStatus; transient: boolean }> => {
      const rowId = rows.get(t.ip)!;
      const hlog = log.child({ host: t.ip });
      const list = lists.get(t.ip)!;
      let hs: HostStage | undefined; // this host's staged copy, released when its push is done
      try {
        return await deps.hostSlots.run(async () => {
          await rec.startHostPush(db, rowId, now());
          hostChanged(t.ip, 'running');
          const started = Date.now();
          // This host's own staged copy (templates rendered with its facts); a template or secret that fails
          // fails this host only, before anything is sent.
          try {
            hs = await stage.forHost(infos.get(t.ip) ?? { ip: t.ip, hostname: t.hostname ?? null });
          } catch (err) {
            const reason = stage.redactor.mask(`${(err as Error).message}; nothing was pushed to this host`);
            await rec.finishHostPush(db, rowId, { status: 'failed', exitCode: null, reason, changes: [], stderrTail: null, attempts: 0, durationMs: Date.now() - started }, now());
            finals.set(t.ip, { status: 'failed', seconds: (Date.now() - started) / 1000 });
            hlog.warn({ reason }, 'host not staged');
            return { ip: t.ip, status: 'failed' as HostPushStatus, transient: false };
          }
          if (hs) await setHostPushRender(db, rowId, hs.renderHash);
          const own = hs;
          const probe = mayProbe(t.ip)
            ? { expected: own ? () => own.expected(list.plan.entries) : list.expected, cold: known.get(t.ip) === input.commit, shellWrites: config.deploy.ssh.shellWrites, metrics: deps.metrics }
            : undefined;
          // Write-ahead: files may land from here on; until the hooks ran, the host owes them (a crash keeps this).
          // A unit without hooks owes nothing (two database writes a host saved).
          const owedFrom = owed.get(t.ip);
          const hooked = !input.dryRun && !!(stage.meta.hooks.validate || stage.meta.hooks.reload);
          if (hooked) await markPending(db, key, t.ip, input.deploymentId, now());
          const res = await pushHost({
            ssh: deps.ssh, launcher: deps.launcher, target: t, log: hlog, signal: input.kill,
            plan: {
              sourceDir: hs?.dir ?? stage.unitDir, passes: ownerPasses(stage.meta, list.plan.entries, owner, group), dryRun: input.dryRun,
              ioTimeoutSeconds: Math.min(config.deploy.hostTimeout, 60), backupDir: backups ? `${backupParent}/${input.deploymentId}` : undefined,
              // Every `keep` deployments (so at most 2×keep−1 backups stay), riding on the push's own session.
              remotePrefix: backups && input.deploymentId % config.deploy.backups.keep === 0 ? prunePrefix(backupParent, config.deploy.backups.keep) : undefined,
            },
            timeoutSeconds: config.deploy.hostTimeout, retries: config.deploy.retries, backoffSeconds: config.deploy.retryBackoff,
            probe,
            transfer: list.plan,
            dirs: {
              // gitfleet's own directories that git no longer holds: removed when empty.
              prune: (made.get(t.ip) ?? []).filter((d) => !list.plan.dirs.includes(d)),
              onCreated: (paths) => void addCreatedDirs(db, key, t.ip, paths, now()).catch((err: unknown) => hlog.warn({ err }, 'could not record created directories')),
              onPruned: (paths) => void forgetCreatedDirs(db, key, t.ip, paths).catch((err: unknown) => hlog.warn({ err }, 'could not forget pruned directories')),
            },
            rsync: {
              // Asked on first contact and again daily: an exec of rsync on every cold host cost ~3% of a cold push.
              path: rsyncPath, askVersion: !rsyncs.has(t.ip) || Date.now() - Date.parse(rsyncs.get(t.ip)!.checkedAt) > RSYNC_RECHECK_MS,
              onVersion: (line) => {
                const problem = rsyncProblem(line, rsyncPath);
                if (rsyncs.get(t.ip)?.versionLine !== line) hlog.info({ rsync: line, problem }, 'host rsync');
                void setHostRsync(db, t.ip, line, problem, now()).catch((err: unknown) => hlog.warn({ err }, 'could not record the host rsync version'));
              },
            },
          });
          const hooksRan = res.status === 'succeeded' && !input.dryRun; // validate/reload run (whatever they say)
          if (hooksRan) {
            const fail = await afterTransfer({
              ssh: deps.ssh, target: t, meta: stage.meta, signal: input.kill, log: hlog,
              backupDir: backups ? `${backupParent}/${input.deploymentId}` : undefined, sudo: sudoOf(rsyncPath),
              owed: owedFrom === undefined ? undefined : { deploymentId: owedFrom, backupDir: backups ? `${backupParent}/${owedFrom}` : undefined },
            }, res.changes);
            if (fail) Object.assign(res, { status: 'failed', reason: fail.reason, stderrTail: fail.output || res.stderrTail, exitCode: fail.exitCode });
          }
          // Hooks done, or nothing landed and nothing was owed: the host owes nothing.
          if ((hooked || owedFrom !== undefined) && (hooksRan || (res.changes.length === 0 && owedFrom === undefined))) await clearPending(db, key, t.ip);
          // A dry run shows what each changed file would become (read-only; failures only lose the diff).
          if (input.dryRun && res.status === 'succeeded' && res.changes.length && config.dryRunDiff.enabled) {
            const d = await hostDiff({
              ssh: deps.ssh, target: t, log: hlog, signal: input.kill, unitDir: hs?.dir ?? stage.unitDir, changes: res.changes,
              limits: config.dryRunDiff, redact: stage.redactor.redact.bind(stage.redactor),
              timeoutMs: config.deploy.hostTimeout * 1000,
            }).catch((err: unknown) => { hlog.warn({ err }, 'host diff failed'); return undefined; });
            if (d) await saveHostDiff(db, rowId, capHostDiff(d, config.dryRunDiff.maxStoredBytes));
          }
          res.durationMs = Date.now() - started; // the hooks included: they are part of the host's push
          // A hook may print a rendered secret (`nginx -t` quoting a line): never into a record or a log.
          if (stage.rendering) Object.assign(res, { reason: res.reason && stage.redactor.mask(res.reason), stderrTail: res.stderrTail && stage.redactor.mask(res.stderrTail) });
          await rec.finishHostPush(db, rowId, res, now());
          hostChanged(t.ip, res.status);
          if (res.status === 'succeeded' && !input.dryRun) await rec.setHostCommit(db, key, t.ip, input.commit, input.deploymentId, now());
          if (res.status === 'aborted') interrupted = true;
          finals.set(t.ip, { status: res.status, seconds: res.durationMs / 1000 }); // a deferred host's retry replaces its first try
          hlog.info({ status: res.status, reason: res.reason, changes: res.changes.length, attempts: res.attempts, ms: res.durationMs }, 'host push finished');
          return { ip: t.ip, status: res.status, transient: res.status === 'failed' && TRANSIENT.has(res.failureKind ?? '') };
        }, input.drain);
      } catch {
        // Never started: the server is draining. The deployment is re-run at the next start.
        interrupted = true;
        await rec.finishHostPush(db, rowId, { status: 'aborted', exitCode: null, reason: 'not started: the server was shutting down', changes: [], stderrTail: null, attempts: 0, durationMs: 0 }, now());
        hostChanged(t.ip, 'aborted');
        return { ip: t.ip, status: 'aborted', transient: false };
      } finally {
        hs?.release();
      }
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
      const out = await Promise.all(batch.map(pushOne));
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
      await rec.finishHostPush(db, rows.get(t.ip)!, { status: 'skipped', exitCode: null, reason: why, changes: [], stderrTail: null, attempts: 0, durationMs: 0 }, now());
      hostChanged(t.ip, 'skipped');
      results.set(t.ip, 'skipped');
    }
    if (deferred.length) {
      log.info({ hosts: deferred.map((t) => t.ip) }, 'retrying unreachable hosts at the end of the rollout');
      const again = stoppedAt >= 0
        ? deferred.map((t) => ({ ip: t.ip, status: 'failed' as HostPushStatus }))
        : await Promise.all(deferred.map(pushOne));
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
    if (status === 'succeeded' && !input.dryRun && !input.onlyHosts) await rec.setUnitState(db, key, input.commit, input.deploymentId, now());
    const reason = status === 'succeeded' ? (input.dryRun && hold ? `would be held: ${hold}` : null)
      : `${statuses.length - ok} of ${statuses.length} hosts not deployed${notAttempted.length ? ` (${notAttempted.length} not attempted: rollout stopped)` : ''}`;
    await record(status, reason, targets.length);
    return { status, hosts: targets.map((t) => ({ ip: t.ip, status: results.get(t.ip) ?? 'failed' })), interrupted };
  } finally {
    await stage.cleanup();
  }
}

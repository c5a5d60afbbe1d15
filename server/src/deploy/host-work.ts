// One host's push inside a unit run: its staged copy, the transfer, hooks, dry-run diff and the records. The unit
// run (unit-run.ts) calls it directly on one process; a cluster worker (cluster/host-executor.ts) calls it for
// the host pushes it claimed, with records fenced by its lease.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import * as rec from '../db/deployments.js';
import { hostRsyncByIp, setHostRsync } from '../db/host-rsync.js';
import { markPending, clearPending, pendingHooks } from '../db/host-pending.js';
import { addCreatedDirs, createdDirs, forgetCreatedDirs } from '../db/host-dirs.js';
import { hostInfoByIp } from '../db/host-facts.js';
import { setHostPushRender } from '../db/host-render.js';
import { saveHostDiff } from '../db/host-diffs.js';
import type { TargetHost } from '../cmdb/provider.js';
import type { ConfigRepo } from '../gitops/repo.js';
import { type Unit, unitKey } from '../gitops/targets.js';
import type { Metrics } from '../metrics.js';
import type { SshConnections } from '../ssh/connections.js';
import type { Launcher } from '../util/launcher.js';
import type { HostInfo } from '../templating/vars.js';
import type { HostStage } from '../templating/unit-render.js';
import { identityFileOf, openSecretBox, type SecretBox } from '../templating/secrets.js';
import { pushHost } from './host-push.js';
import { capHostDiff, hostDiff } from './host-diff.js';
import { afterTransfer, prunePrefix } from './host-steps.js';
import { ownerPasses } from './owner-passes.js';
import { SHELL_WRITE_MAX_OPS } from './shell-write.js';
import { rsyncProblem, sudoOf } from './host-prepare.js';
import { stageUnit, type FileListInfo, type Stage } from './stage.js';
import type { DeployChange, HostPushStatus } from './types.js';

export interface HostWorkDeps {
  config: Config; db: Db; clock: () => Date; metrics: Metrics; ssh: SshConnections; repo: ConfigRepo; launcher: Launcher;
  onChange?: (c: DeployChange) => void;
}

/** What a host push of the unit needs to know beside the host: the deployment, the commit, the flags. */
export interface HostWorkInput {
  deploymentId: number; unit: Unit; commit: string; dryRun?: boolean; force?: boolean;
  /** Kills the running push (shutdown grace exceeded, or a lost lease). */
  kill: AbortSignal;
  log: Logger;
}

/** The unit staged at the commit and what the store knows of its hosts, shared by its host pushes. */
export interface UnitPrep {
  key: string;
  stage: Stage;
  known: Map<string, string>;
  owed: Map<string, number>;
  made: Map<string, string[]>;
  rsyncs: Awaited<ReturnType<typeof hostRsyncByIp>>;
  infos: Map<string, HostInfo>;
  owner?: string; group?: string;
  backups: boolean; backupParent: string; rsyncPath: string;
  /** The host's file list against the commit it holds (worked out once per base commit). */
  list(ip: string): Promise<FileListInfo>;
  mayProbe(ip: string, list: FileListInfo): boolean;
}

export interface HostDone { ip: string; status: HostPushStatus; transient: boolean; seconds: number; recorded: boolean }

/** How a host push's result is written: directly (one process) or fenced by a worker's lease. */
export interface HostRecords {
  start(): Promise<void>;
  /** The result, and the host's commit when `commit`; false: the lease was lost and nothing was written. */
  finish(res: rec.HostPushResult & { failureKind?: string }, commit: boolean): Promise<boolean>;
}

const RSYNC_RECHECK_MS = 24 * 3600 * 1000;
/** Failure kinds worth a retry at the end of the rollout (a host that may be back by then). */
export const TRANSIENT = new Set(['unreachable', 'connection_refused', 'connection_reset', 'timeout']);

/** The inventory env for a repo env (env aliases apply to the lookup, not to the source path). */
export const inventoryEnv = (config: Config, env: string): string => config.inventory.envAliases[env] ?? env;

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
 * Stage the unit at the commit for these hosts (ips: whose records and facts to read). `root` is the staging
 * directory (one per deployment, unit and process). Throws when the unit cannot be staged.
 */
export async function prepareUnit(deps: HostWorkDeps, input: HostWorkInput, ips: string[], root: string): Promise<UnitPrep> {
  const { db, config } = deps;
  const key = unitKey(input.unit);
  // Another process planned this deployment (a cluster): this one's clone may not have the commit yet.
  if (!(await deps.repo.hasCommit(input.commit))) await deps.repo.fetch();
  const known = await rec.hostCommits(db, key);
  const rsyncs = await hostRsyncByIp(db, ips);
  const owed = input.dryRun ? new Map<string, number>() : await pendingHooks(db, key);
  const made = await createdDirs(db, key);
  const stage = await stageUnit(deps.repo, root, input.unit, input.commit, ips.map((ip) => known.get(ip)), stageOptions(config, input.unit.env));
  const lists = new Map<string | undefined, Promise<FileListInfo>>();
  const list = (ip: string) => {
    const base = known.get(ip);
    let l = lists.get(base);
    if (!l) lists.set(base, (l = stage.listFor(base)));
    return l;
  };
  // Probe hosts that already hold this commit (re-syncs, self-heal: most need nothing; on a cold host the
  // probe's ssh opens the master), and, when the shell may write, warm hosts behind it by a few files: those
  // then cost no rsync at all. A cold host behind gets rsync straight away (it has something to receive, and
  // rsync opens the master), and so does a host behind by more files than the shell writes (the probe would
  // only add to rsync's work). Whether a host is warm is known once its connection is leased.
  const mayProbe = (ip: string, l: FileListInfo) => !input.force && config.deploy.ssh.probe && (known.get(ip) === input.commit
    || (config.deploy.ssh.shellWrites && (l.changedFiles ?? Infinity) <= SHELL_WRITE_MAX_OPS));
  // Templates read the inventory's facts of each host (README "Templates and secrets").
  const infos = stage.rendering?.perHost ? await hostInfoByIp(db, ips) : new Map<string, HostInfo>();
  const { owner, group } = unitOwnership(config, key, stage);
  return {
    key, stage, known, owed, made, rsyncs, infos, owner, group, list, mayProbe,
    backups: config.deploy.backups.enabled && !input.dryRun,
    backupParent: `${config.deploy.backups.dir}/${key.replaceAll('/', '~')}`,
    rsyncPath: config.deploy.ssh.rsyncPath,
  };
}

/** The staging directory of a unit in a deployment (`tag` tells apart processes that stage the same unit). */
export function stagingRoot(config: Config, deploymentId: number, key: string, tag = ''): string {
  return join(config.dataDir, 'staging', `${deploymentId}-${key.replaceAll('/', '~')}${tag}`);
}

/** Push one host: render, transfer, hooks, diff (dry run), records. Never throws for a failed push. */
export async function hostWork(deps: HostWorkDeps, prep: UnitPrep, input: HostWorkInput, t: TargetHost, rowId: number, recs: HostRecords): Promise<HostDone> {
  const { db, config } = deps;
  const key = prep.key;
  const now = () => deps.clock().toISOString();
  const hlog = input.log.child({ host: t.ip });
  const hostChanged = (status: HostPushStatus | 'running') => deps.onChange?.({ kind: 'host', deploymentId: input.deploymentId, unit: key, ip: t.ip, status });
  const list = await prep.list(t.ip);
  let hs: HostStage | undefined; // this host's staged copy, released when its push is done
  try {
    await recs.start();
    hostChanged('running');
    const started = Date.now();
    // This host's own staged copy (templates rendered with its facts); a template or secret that fails
    // fails this host only, before anything is sent.
    try {
      hs = await prep.stage.forHost(prep.infos.get(t.ip) ?? { ip: t.ip, hostname: t.hostname ?? null });
    } catch (err) {
      const reason = prep.stage.redactor.mask(`${(err as Error).message}; nothing was pushed to this host`);
      const recorded = await recs.finish({ status: 'failed', exitCode: null, reason, changes: [], stderrTail: null, attempts: 0, durationMs: Date.now() - started }, false);
      if (recorded) hostChanged('failed');
      hlog.warn({ reason }, 'host not staged');
      return { ip: t.ip, status: 'failed', transient: false, seconds: (Date.now() - started) / 1000, recorded };
    }
    if (hs) await setHostPushRender(db, rowId, hs.renderHash);
    const own = hs;
    const probe = prep.mayProbe(t.ip, list)
      ? { expected: own ? () => own.expected(list.plan.entries) : list.expected, cold: prep.known.get(t.ip) === input.commit, shellWrites: config.deploy.ssh.shellWrites, metrics: deps.metrics }
      : undefined;
    // Write-ahead: files may land from here on; until the hooks ran, the host owes them (a crash keeps this).
    // A unit without hooks owes nothing (two database writes a host saved).
    const owedFrom = prep.owed.get(t.ip);
    const hooked = !input.dryRun && !!(prep.stage.meta.hooks.validate || prep.stage.meta.hooks.reload);
    if (hooked) await markPending(db, key, t.ip, input.deploymentId, now());
    const res = await pushHost({
      ssh: deps.ssh, launcher: deps.launcher, target: t, log: hlog, signal: input.kill,
      plan: {
        sourceDir: hs?.dir ?? prep.stage.unitDir, passes: ownerPasses(prep.stage.meta, list.plan.entries, prep.owner, prep.group), dryRun: input.dryRun,
        ioTimeoutSeconds: Math.min(config.deploy.hostTimeout, 60), backupDir: prep.backups ? `${prep.backupParent}/${input.deploymentId}` : undefined,
        // Every `keep` deployments (so at most 2×keep−1 backups stay), riding on the push's own session.
        remotePrefix: prep.backups && input.deploymentId % config.deploy.backups.keep === 0 ? prunePrefix(prep.backupParent, config.deploy.backups.keep) : undefined,
      },
      timeoutSeconds: config.deploy.hostTimeout, retries: config.deploy.retries, backoffSeconds: config.deploy.retryBackoff,
      probe,
      transfer: list.plan,
      dirs: {
        // gitfleet's own directories that git no longer holds: removed when empty.
        prune: (prep.made.get(t.ip) ?? []).filter((d) => !list.plan.dirs.includes(d)),
        onCreated: (paths) => void addCreatedDirs(db, key, t.ip, paths, now()).catch((err: unknown) => hlog.warn({ err }, 'could not record created directories')),
        onPruned: (paths) => void forgetCreatedDirs(db, key, t.ip, paths).catch((err: unknown) => hlog.warn({ err }, 'could not forget pruned directories')),
      },
      rsync: {
        // Asked on first contact and again daily: an exec of rsync on every cold host cost ~3% of a cold push.
        path: prep.rsyncPath, askVersion: !prep.rsyncs.has(t.ip) || Date.now() - Date.parse(prep.rsyncs.get(t.ip)!.checkedAt) > RSYNC_RECHECK_MS,
        onVersion: (line) => {
          const problem = rsyncProblem(line, prep.rsyncPath);
          if (prep.rsyncs.get(t.ip)?.versionLine !== line) hlog.info({ rsync: line, problem }, 'host rsync');
          void setHostRsync(db, t.ip, line, problem, now()).catch((err: unknown) => hlog.warn({ err }, 'could not record the host rsync version'));
        },
      },
    });
    const hooksRan = res.status === 'succeeded' && !input.dryRun; // validate/reload run (whatever they say)
    if (hooksRan) {
      const fail = await afterTransfer({
        ssh: deps.ssh, target: t, meta: prep.stage.meta, signal: input.kill, log: hlog,
        backupDir: prep.backups ? `${prep.backupParent}/${input.deploymentId}` : undefined, sudo: sudoOf(prep.rsyncPath),
        owed: owedFrom === undefined ? undefined : { deploymentId: owedFrom, backupDir: prep.backups ? `${prep.backupParent}/${owedFrom}` : undefined },
      }, res.changes);
      if (fail) Object.assign(res, { status: 'failed', reason: fail.reason, stderrTail: fail.output || res.stderrTail, exitCode: fail.exitCode });
    }
    // Hooks done, or nothing landed and nothing was owed: the host owes nothing.
    if ((hooked || owedFrom !== undefined) && (hooksRan || (res.changes.length === 0 && owedFrom === undefined))) await clearPending(db, key, t.ip);
    // A dry run shows what each changed file would become (read-only; failures only lose the diff).
    if (input.dryRun && res.status === 'succeeded' && res.changes.length && config.dryRunDiff.enabled) {
      const d = await hostDiff({
        ssh: deps.ssh, target: t, log: hlog, signal: input.kill, unitDir: hs?.dir ?? prep.stage.unitDir, changes: res.changes,
        limits: config.dryRunDiff, redact: prep.stage.redactor.redact.bind(prep.stage.redactor),
        timeoutMs: config.deploy.hostTimeout * 1000,
      }).catch((err: unknown) => { hlog.warn({ err }, 'host diff failed'); return undefined; });
      if (d) await saveHostDiff(db, rowId, capHostDiff(d, config.dryRunDiff.maxStoredBytes));
    }
    res.durationMs = Date.now() - started; // the hooks included: they are part of the host's push
    // A hook may print a rendered secret (`nginx -t` quoting a line): never into a record or a log.
    if (prep.stage.rendering) Object.assign(res, { reason: res.reason && prep.stage.redactor.mask(res.reason), stderrTail: res.stderrTail && prep.stage.redactor.mask(res.stderrTail) });
    // The host's commit is written with its result (one transaction when a lease fences it).
    const recorded = await recs.finish(res, res.status === 'succeeded' && !input.dryRun);
    if (!recorded) {
      hlog.warn({ status: res.status }, 'lease lost: another worker took this host push over; its result is not recorded');
      return { ip: t.ip, status: res.status, transient: false, seconds: res.durationMs / 1000, recorded };
    }
    hostChanged(res.status);
    hlog.info({ status: res.status, reason: res.reason, changes: res.changes.length, attempts: res.attempts, ms: res.durationMs }, 'host push finished');
    return { ip: t.ip, status: res.status, transient: res.status === 'failed' && TRANSIENT.has(res.failureKind ?? ''), seconds: res.durationMs / 1000, recorded };
  } finally {
    hs?.release();
  }
}

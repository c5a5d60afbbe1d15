// One preview: fetch the merge request's head, diff it against the merge base with the deployed branch → units,
// hosts per unit (a sample), and a read-only dry run of the head's content on each sampled host with the
// content diff. Nothing is written on any host and no deployment record is made (the unit's deployed commit,
// failure streak, pending hooks and backups are untouched): like a drift check, not like a deployment.
import { join } from 'node:path';
import type { Logger } from 'pino';
import * as rec from '../db/deployments.js';
import { changedUnits, type Unit, unitKey } from '../gitops/targets.js';
import { capHostDiff, hostDiff, type HostDiff, type Redact } from '../deploy/host-diff.js';
import { pushHost } from '../deploy/host-push.js';
import { ownerPasses } from '../deploy/owner-passes.js';
import { deletionHold, stageUnit, type Stage } from '../deploy/stage.js';
import { removedCount } from '../deploy/transfer-plan.js';
import { resolveTargets, stageOptions, unitOwnership, type UnitRunDeps } from '../deploy/unit-run.js';
import { hostInfoByIp } from '../db/host-facts.js';
import type { HostInfo } from '../templating/vars.js';
import type { HostStage } from '../templating/unit-render.js';
import type { Semaphore } from '../util/semaphore.js';
import { headRef, type PreviewEvent } from './events.js';

const UNREACHABLE = new Set(['unreachable', 'connection_refused', 'connection_reset', 'timeout', 'dns']);

export type HostState = 'changed' | 'unchanged' | 'unreachable' | 'error';

export interface HostPreview { ip: string; hostname: string | null; state: HostState; changes: string[]; reason: string | null; deletions: number; diff?: HostDiff }

export interface UnitPreview {
  unit: string;
  /** Every host the unit would reach; `hosts` holds the dry-run sample. */
  hostCount: number;
  hosts: HostPreview[];
  /** Most files a sampled host would lose. */
  deletions: number;
  /** The deletion circuit breaker would hold the unit (the reason). */
  breaker: string | null;
  /** Sync windows that would hold the unit's deployment if it were merged now. */
  syncWindowConflicts: string[];
  error: string | null;
}

/** The event does not match the config repo's merge request: no preview, and no comment. */
export class ForeignEventError extends Error {}

export interface PreviewResult {
  head: string; base: string;
  /** The branch head the merge request was compared with. */
  target: string;
  /** merge: hosts compared with the merge of head into target; head: with the head itself (the merge conflicts). */
  content: 'merge' | 'head';
  units: UnitPreview[]; finishedAt: string;
}

export interface PreviewDeps extends Omit<UnitRunDeps, 'hostSlots'> {
  log: Logger;
  /** The server-wide cap on host operations (shared with deployments). */
  slots: Semaphore;
  /** Resolves when no deployment is queued or running: called before each host (previews yield to deployments). */
  idle(signal: AbortSignal): Promise<void>;
  maxHostsPerUnit: number;
  /** Sync windows that would hold this unit's deployment now (names), for the comment's conflicts column. */
  windowConflicts?: (unit: Unit) => string[];
}

/** Compute the preview of a merge request (throws when git cannot give its head or a merge base). */
export async function computePreview(deps: PreviewDeps, e: PreviewEvent, signal: AbortSignal): Promise<PreviewResult> {
  const { repo, config } = deps;
  const target = await repo.fetch();
  // The server's own fetch decides what the head is (the payload's sha may already be outdated).
  const head = await repo.fetchPreviewRef(headRef(e));
  // The event's commit must be that head or behind it (a newer push): otherwise the event is of another
  // project (a group webhook) or the ref is not what the event speaks of, and nothing is said on it.
  if (head !== e.headSha && !(await repo.inHistory(e.headSha, head))) {
    throw new ForeignEventError(`the config repo's ${headRef(e)} is at ${head.slice(0, 12)}, which does not contain the event's commit ${e.headSha.slice(0, 12)}`);
  }
  const base = await repo.mergeBase(target, head);
  if (!base) throw new Error(`the merge request shares no history with ${config.repo.branch}`);
  // The units are what the merge request changes; the content is what hosts get once it is merged into the
  // branch as it is now (so changes made on the branch since it forked are not shown as reverted). On a
  // conflict, the head as it is.
  const units = changedUnits(await repo.diff(base, head));
  const merged = units.length ? await repo.previewMerge(target, head) : undefined;
  const out: UnitPreview[] = [];
  for (const unit of units) {
    if (signal.aborted) throw new Error('aborted: the server is shutting down');
    out.push(await previewUnit(deps, e, unit, merged ?? head, signal));
  }
  return { head, base, target, content: merged ? 'merge' : 'head', units: out, finishedAt: deps.clock().toISOString() };
}

async function previewUnit(deps: PreviewDeps, e: PreviewEvent, unit: Unit, head: string, signal: AbortSignal): Promise<UnitPreview> {
  const { config, db } = deps;
  const key = unitKey(unit);
  const log = deps.log.child({ unit: key });
  const syncWindowConflicts = deps.windowConflicts?.(unit) ?? [];
  const result: UnitPreview = { unit: key, hostCount: 0, hosts: [], deletions: 0, breaker: null, syncWindowConflicts, error: null };
  let targets;
  try {
    targets = await resolveTargets(deps, unit);
  } catch (err) {
    return { ...result, error: `inventory lookup failed: ${(err as Error).message}` };
  }
  result.hostCount = targets.length;
  const sample = targets.slice(0, deps.maxHostsPerUnit);
  if (sample.length === 0) return result;
  const known = await rec.hostCommits(db, key);
  let stage: Stage;
  try {
    const root = join(config.dataDir, 'staging', `preview-${e.source}-${e.number}-${key.replaceAll('/', '~')}`);
    stage = await stageUnit(deps.repo, root, unit, head, sample.map((t) => known.get(t.ip)), stageOptions(config, unit.env));
  } catch (err) {
    return { ...result, error: `cannot stage the unit: ${(err as Error).message}` };
  }
  try {
    const { owner, group } = unitOwnership(config, key, stage);
    const limits = { ...config.deploy.deletion, ...(stage.meta.deletion ?? {}) };
    // Templates render with each host's facts; the diff shows the rendered text, secrets masked by the stage.
    const infos = stage.rendering?.perHost ? await hostInfoByIp(db, sample.map((t) => t.ip)) : new Map<string, HostInfo>();
    const redact: Redact = (p, text) => stage.redactor.redact(p, text);
    for (const t of sample) {
      await deps.idle(signal);
      const list = await stage.listFor(known.get(t.ip));
      const deletions = removedCount(list.plan);
      result.breaker ??= deletionHold(deletions, list.previousCount, limits) ?? null;
      result.deletions = Math.max(result.deletions, deletions);
      const hlog = log.child({ host: t.ip });
      const host = await deps.slots.run(async (): Promise<HostPreview> => {
        let hs: HostStage | undefined;
        try {
          hs = await stage.forHost(infos.get(t.ip) ?? { ip: t.ip, hostname: t.hostname ?? null });
        } catch (err) {
          return { ip: t.ip, hostname: t.hostname ?? null, changes: [], reason: stage.redactor.mask((err as Error).message), deletions, state: 'error' };
        }
        try {
          const res = await pushHost({
            ssh: deps.ssh, launcher: deps.launcher, target: t, log: hlog, signal,
            // A dry run: no backups, no prefix on the host, no hooks, no directory bookkeeping.
            plan: { sourceDir: hs?.dir ?? stage.unitDir, passes: ownerPasses(stage.meta, list.plan.entries, owner, group), dryRun: true, ioTimeoutSeconds: Math.min(config.deploy.hostTimeout, 60) },
            timeoutSeconds: config.deploy.hostTimeout, retries: 0, backoffSeconds: 0,
            probe: config.deploy.ssh.probe ? { expected: hs ? () => hs!.expected(list.plan.entries) : list.expected, cold: true, shellWrites: false, metrics: deps.metrics } : undefined,
            transfer: list.plan, rsync: { path: config.deploy.ssh.rsyncPath, askVersion: false },
          });
          const base = { ip: t.ip, hostname: t.hostname ?? null, changes: res.changes, reason: res.reason && stage.redactor.mask(res.reason), deletions };
          if (res.status !== 'succeeded') return { ...base, state: UNREACHABLE.has(res.failureKind ?? '') ? 'unreachable' : 'error' };
          if (res.changes.length === 0) return { ...base, state: 'unchanged' };
          const diff = await hostDiff({
            ssh: deps.ssh, target: t, log: hlog, signal, unitDir: hs?.dir ?? stage.unitDir, changes: res.changes,
            limits: config.dryRunDiff, redact, timeoutMs: config.deploy.hostTimeout * 1000,
          }).catch((err: unknown) => { hlog.warn({ err }, 'host diff failed'); return undefined; });
          return { ...base, state: 'changed', diff: diff && capHostDiff(diff, config.dryRunDiff.maxStoredBytes) };
        } finally {
          hs?.release();
        }
      }, signal);
      result.hosts.push(host);
    }
    return result;
  } finally {
    await stage.cleanup();
  }
}

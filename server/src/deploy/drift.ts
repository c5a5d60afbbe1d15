// Drift detection: compare every host of a deployed unit with what git says it received (rsync dry run,
// nothing changed); record in_sync / drifted (with files) / unreachable, and optionally heal.
import { join } from 'node:path';
import type { Logger } from 'pino';
import * as rec from '../db/deployments.js';
import { replaceUnitDrift, type DriftRow } from '../db/drift.js';
import { deployedUnits } from '../db/units.js';
import { listHeld } from '../db/sync-windows.js';
import { parseUnitKey } from '../gitops/targets.js';
import { pushHost } from './host-push.js';
import { ownerPasses } from './owner-passes.js';
import type { LiveBus } from '../events/live-bus.js';
import { resolveTargets, stageOptions, unitOwnership, type UnitRunDeps } from './unit-run.js';
import { hostInfoByIp } from '../db/host-facts.js';
import { stageUnit, type Stage } from './stage.js';
import type { Deployer } from './deployer.js';
import type { Leader } from '../cluster/leader.js';

const UNREACHABLE = new Set(['unreachable', 'connection_refused', 'connection_reset', 'timeout', 'dns']);

export interface DriftDeps extends Omit<UnitRunDeps, 'hostSlots'> { deployer: Deployer; log: Logger; live?: LiveBus; leader?: Leader }

/** heldAlready: drifted hosts whose self-heal a sync window holds already (no new deployment for them). */
export interface UnitDriftResult { unit: string; commit: string | null; rows: DriftRow[]; healed?: number; heldAlready?: number; skipped?: string }

/** Check one unit against its hosts (under the unit's lock, so never during its deployment). */
export async function checkUnitDrift(deps: DriftDeps, key: string, signal: AbortSignal): Promise<UnitDriftResult> {
  const unit = parseUnitKey(key);
  if (!unit) throw new Error(`not a unit: ${key}`);
  // A unit that only ever reached some hosts (new-host converge, a deployment limited to hosts) has no unit-wide
  // commit, but each of those hosts has its own: they are checked against it.
  const state = await rec.getUnitState(deps.db, key);
  if (!state && (await rec.hostCommits(deps.db, key)).size === 0) return { unit: key, commit: null, rows: [], skipped: 'never deployed' };
  return deps.deployer.withUnitLock(key, async () => {
    const known = await rec.hostCommits(deps.db, key);
    const targets = (await resolveTargets(deps, unit)).filter((t) => state || known.has(t.ip));
    const stages = new Map<string, Promise<Stage>>();
    const now = () => deps.clock().toISOString();
    const root = join(deps.config.dataDir, 'staging', `drift-${key.replaceAll('/', '~')}`);
    try {
      const rows = await Promise.all(targets.map((t) => deps.deployer.slots.run(async (): Promise<DriftRow> => {
        const commit = known.get(t.ip) ?? state!.lastCommit;
        if (!stages.has(commit)) stages.set(commit, stageUnit(deps.repo, `${root}-${stages.size}`, unit, commit, [], stageOptions(deps.config, unit.env)));
        const stage = await stages.get(commit)!;
        const { owner, group } = unitOwnership(deps.config, key, stage);
        const list = await stage.listFor(commit);
        // Compared with what this host's templates render to (its own staged copy), not with the templates.
        let hs;
        try {
          hs = await stage.forHost((stage.rendering?.perHost ? (await hostInfoByIp(deps.db, [t.ip])).get(t.ip) : undefined) ?? { ip: t.ip, hostname: t.hostname ?? null });
        } catch (err) {
          return { unit: key, ip: t.ip, state: 'error', files: [], reason: stage.redactor.mask((err as Error).message), commit, checkedAt: now() };
        }
        const own = hs;
        const res = await pushHost({
          ssh: deps.ssh, launcher: deps.launcher, target: t, log: deps.log.child({ unit: key, host: t.ip }), signal,
          plan: { sourceDir: hs?.dir ?? stage.unitDir, passes: ownerPasses(stage.meta, list.plan.entries, owner, group), dryRun: true, ioTimeoutSeconds: Math.min(deps.config.deploy.hostTimeout, 60) },
          timeoutSeconds: deps.config.deploy.hostTimeout, retries: 0, backoffSeconds: 0,
          probe: deps.config.deploy.ssh.probe ? { expected: own ? () => own.expected(list.plan.entries) : list.expected, cold: true, shellWrites: false, metrics: deps.metrics } : undefined,
          transfer: list.plan, rsync: { path: deps.config.deploy.ssh.rsyncPath, askVersion: false },
        }).finally(() => own?.release());
        if (res.status !== 'succeeded') {
          return { unit: key, ip: t.ip, state: UNREACHABLE.has(res.failureKind ?? '') ? 'unreachable' : 'error', files: [], reason: res.reason && stage.redactor.mask(res.reason), commit, checkedAt: now() };
        }
        // Per-path owner rules have their own rsync pass: an owner they put there is not reported as a change.
        return { unit: key, ip: t.ip, state: res.changes.length ? 'drifted' : 'in_sync', files: res.changes, reason: null, commit, checkedAt: now() };
      }, signal)));
      await replaceUnitDrift(deps.db, key, rows);
      deps.live?.publish('drift', { unit: key, drifted: rows.filter((r) => r.state === 'drifted').length, hosts: rows.length });
      for (const s of ['in_sync', 'drifted', 'unreachable', 'error'] as const) {
        deps.metrics.unitDrift.set({ unit: key, state: s }, rows.filter((r) => r.state === s).length);
      }
      const result: UnitDriftResult = { unit: key, commit: state?.lastCommit ?? null, rows };
      const drifted = rows.filter((r) => r.state === 'drifted');
      const first = (state && stages.get(state.lastCommit)) ?? [...stages.values()][0];
      const heal = (first ? (await first).meta.selfHeal : undefined) ?? deps.config.drift.selfHeal;
      if (heal && drifted.length) {
        // Heal to what the unit last deployed (not the branch head): drift repair is not a release. Without a
        // unit-wide commit, each host goes back to the commit it last received.
        const byCommit = new Map<string, string[]>();
        for (const r of drifted) {
          const c = state?.lastCommit ?? r.commit!;
          byCommit.set(c, [...(byCommit.get(c) ?? []), r.ip]);
        }
        // Held already by a sync window (an earlier check's self-heal, or a push): no new deployment every interval.
        const held = (await listHeld(deps.db)).filter((h) => h.unit === key);
        const covered = (commit: string, hosts: string[]) => held.some((h) => (h.commit === null && h.hosts === null) || (h.commit === commit && h.hosts !== null && hosts.every((ip) => h.hosts!.includes(ip))));
        let healed = 0;
        for (const [commit, hosts] of byCommit) {
          if (covered(commit, hosts)) continue;
          await deps.deployer.submit({ kind: 'sync', trigger: 'self-heal', actor: 'drift', units: [key], hosts, commit });
          healed += hosts.length;
        }
        if (healed < drifted.length) result.heldAlready = drifted.length - healed;
        if (healed) result.healed = healed;
      }
      return result;
    } finally {
      for (const s of await Promise.allSettled(stages.values())) if (s.status === 'fulfilled') await s.value.cleanup();
    }
  });
}

/** Check every deployed unit (also those only converged to some hosts), one unit at a time (hosts in parallel under the server-wide cap). */
export async function checkAllDrift(deps: DriftDeps, signal: AbortSignal): Promise<UnitDriftResult[]> {
  const out: UnitDriftResult[] = [];
  for (const s of await deployedUnits(deps.db)) {
    if (signal.aborted) break;
    try {
      out.push(await checkUnitDrift(deps, s.unit, signal));
    } catch (err) {
      deps.log.warn({ err, unit: s.unit }, 'drift check failed');
    }
  }
  return out;
}

/** Run checkAllDrift every drift.interval seconds (never two at once). */
export function startDriftSchedule(deps: DriftDeps, signal: AbortSignal): { stop(): void; running(): boolean } {
  let active: Promise<unknown> | null = null;
  const secs = deps.config.drift.interval;
  const timer = secs > 0 ? setInterval(() => {
    if (active || signal.aborted || !(deps.leader?.isLeader ?? true)) return; // the leader's duty
    active = checkAllDrift(deps, signal).catch((err) => deps.log.warn({ err }, 'drift check run failed')).finally(() => { active = null; });
  }, secs * 1000) : undefined;
  timer?.unref();
  return { stop: () => timer && clearInterval(timer), running: () => active !== null };
}

// Staging a unit at a commit: its files exported locally (modes from the metadata applied), the metadata,
// and per-host-commit transfer plans (every file, plus what git removed or changed in type since).
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigRepo } from '../gitops/repo.js';
import { type Unit, unitKey } from '../gitops/targets.js';
import { METADATA_FILE, attributesFor, deployableFiles, parseMetadata, type UnitMetadata } from './metadata.js';
import { planTransfer, type TransferPlan } from './transfer-plan.js';
import { expectedState, type Expected } from './probe.js';

export interface FileListInfo {
  /** Every file of the unit at the commit (`plan.entries`: what rsync and the probe are given), the removals,
   * type changes and the directories to check on the host (host-prepare.ts). */
  plan: TransferPlan;
  previousCount: number | null;
  /**
   * Files of the unit git changed since the base (undefined: base unknown, or the base itself); a change of the
   * metadata file counts as every file (it may change any file's mode or owner).
   */
  changedFiles: number | undefined;
  /** What each entry must be on a host (computed once, for the probe). */
  expected(): Promise<Map<string, Expected>>;
}

export interface Stage {
  unitDir: string;
  meta: UnitMetadata;
  /** Deployable files at the commit (relative to the unit dir). */
  files: string[];
  /** The rsync file list for hosts last deployed at `base` (undefined = unknown: nothing is removed). */
  listFor(base: string | undefined): Promise<FileListInfo>;
  cleanup(): Promise<void>;
}

/**
 * Export the unit; throws with a clear message when its metadata is invalid. The file lists for `bases` (the
 * commits the hosts were last deployed at) are worked out while the export runs: both are git work.
 */
export async function stageUnit(repo: ConfigRepo, root: string, unit: Unit, commit: string, bases: Iterable<string | undefined> = []): Promise<Stage> {
  const key = unitKey(unit);
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const cleanup = () => rm(root, { recursive: true, force: true });
  try {
    const all = await repo.listUnitFiles(commit, unit);
    const meta = parseMetadata(all.includes(METADATA_FILE) ? (await repo.readFile(commit, `${key}/${METADATA_FILE}`)).toString('utf8') : undefined);
    const files = deployableFiles(meta, all);
    const unitDir = join(root, key);
    const exported = (async () => {
      // A unit removed whole from git still runs: its files are deleted on the hosts.
      if (all.length) await repo.exportUnit(commit, unit, root);
      await mkdir(unitDir, { recursive: true });
      await rm(join(unitDir, METADATA_FILE), { force: true });
      for (const f of files) {
        const m = attributesFor(meta, f).mode;
        if (m) await chmod(join(unitDir, f), parseInt(m, 8));
      }
    })();
    const lists = new Map<string, Promise<FileListInfo>>();
    const makeList = async (base: string | undefined): Promise<FileListInfo> => {
      const known = base !== undefined && base !== commit && (await repo.hasCommit(base));
      const [changed, baseFiles] = known ? await Promise.all([repo.diff(base, commit, [`${key}/`]), repo.listUnitFiles(base, unit)]) : [];
      const previous = baseFiles ? deployableFiles(meta, baseFiles) : undefined;
      const changedFiles = changed?.some((c) => c.path === `${key}/${METADATA_FILE}` || c.from === `${key}/${METADATA_FILE}`) ? files.length + (previous?.length ?? 0) : changed?.reduce((n, c) => n + (c.from ? 2 : 1), 0);
      const plan = planTransfer(files, previous);
      await exported;
      let expected: Promise<Map<string, Expected>> | undefined;
      return {
        plan, previousCount: previous ? previous.length : null, changedFiles,
        expected: () => (expected ??= expectedState(unitDir, plan.entries)),
      };
    };
    const listFor = (base: string | undefined): Promise<FileListInfo> => {
      const k = base ?? '-';
      let info = lists.get(k);
      if (!info) lists.set(k, info = makeList(base));
      return info;
    };
    const early = [...new Set(bases)].map((b) => listFor(b));
    // Settled, not all: the cleanup below must not race an export still writing.
    const failed = (await Promise.allSettled([exported, ...early])).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return { unitDir, meta, files, listFor, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** PURE: the circuit breaker. A reason when a push would remove more than allowed, else undefined. */
export function deletionHold(removed: number, previousCount: number | null, limits: { maxFiles?: number; maxPercent?: number }): string | undefined {
  if (removed === 0) return undefined;
  if (limits.maxFiles !== undefined && removed > limits.maxFiles) return `${removed} files would be removed (limit ${limits.maxFiles} files)`;
  if (limits.maxPercent !== undefined && previousCount && removed >= 2) {
    const pct = (removed / previousCount) * 100;
    if (pct > limits.maxPercent) return `${removed} of ${previousCount} files (${pct.toFixed(0)}%) would be removed (limit ${limits.maxPercent}%)`;
  }
  return undefined;
}

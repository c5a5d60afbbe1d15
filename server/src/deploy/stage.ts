// Staging a unit at a commit: its files exported locally (modes from the metadata applied), the metadata,
// and per-host-commit transfer plans (every file, plus what git removed or changed in type since).
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigRepo } from '../gitops/repo.js';
import { type Unit, unitKey } from '../gitops/targets.js';
import { METADATA_FILE, attributesFor, parseMetadata, type UnitMetadata } from './metadata.js';
import { hostPathsOf, needsRendering, unitFileKinds } from '../templating/names.js';
import { prepareRendering, type HostStage, type UnitRendering } from '../templating/unit-render.js';
import { NO_SECRETS, type Redactor } from '../templating/redact.js';
import type { SecretBox } from '../templating/secrets.js';
import type { HostInfo } from '../templating/vars.js';
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
  /**
   * Templates and secrets (README "Templates and secrets"): undefined for a unit without any (every host reads
   * `unitDir`). `forHost` rejects with the reason that host fails with (a template or decryption error).
   */
  rendering?: UnitRendering;
  /** What a host gets: its own staged copy when the unit has templates, else the shared export. */
  forHost(host: HostInfo): Promise<HostStage | undefined>;
  /** Masks secret values and decrypted files (dry-run diffs, reasons, hook output). */
  redactor: Redactor;
  cleanup(): Promise<void>;
}

export interface StageOptions {
  /** The server's age decrypter (opened on first use: units without secrets never read the identity). */
  secrets?: () => SecretBox;
  /** The inventory env of the unit (after env aliases), as `unit.inventory_env` in templates. */
  inventoryEnv?: string;
}

/**
 * Export the unit; throws with a clear message when its metadata is invalid. The file lists for `bases` (the
 * commits the hosts were last deployed at) are worked out while the export runs: both are git work.
 */
export async function stageUnit(repo: ConfigRepo, root: string, unit: Unit, commit: string, bases: Iterable<string | undefined> = [], opts: StageOptions = {}): Promise<Stage> {
  const key = unitKey(unit);
  await rm(root, { recursive: true, force: true });
  // 0700: decrypted secrets and rendered templates sit below it while the unit deploys.
  await mkdir(root, { recursive: true, mode: 0o700 });
  const cleanup = () => rm(root, { recursive: true, force: true });
  try {
    const all = await repo.listUnitFiles(commit, unit);
    const meta = parseMetadata(all.includes(METADATA_FILE) ? (await repo.readFile(commit, `${key}/${METADATA_FILE}`)).toString('utf8') : undefined);
    const kinds = unitFileKinds(meta, all);
    const files = kinds.map((k) => k.hostPath);
    const unitDir = join(root, key);
    let rendering: UnitRendering | undefined;
    let renderError: Error | undefined;
    const exported = (async () => {
      // A unit removed whole from git still runs: its files are deleted on the hosts.
      if (all.length) await repo.exportUnit(commit, unit, root);
      await mkdir(unitDir, { recursive: true });
      await rm(join(unitDir, METADATA_FILE), { force: true });
      for (const k of kinds) {
        const m = attributesFor(meta, k.hostPath).mode;
        if (m && !k.template && !k.secret) await chmod(join(unitDir, k.source), parseInt(m, 8));
      }
      if (!needsRendering(kinds)) return;
      try {
        rendering = await prepareRendering({
          repo, unit, commit, meta, kinds, all, unitDir, copiesDir: join(root, '.hosts'), inventoryEnv: opts.inventoryEnv ?? unit.env,
          box: opts.secrets ?? (() => { throw new Error('secrets are not available here'); }),
        });
      } catch (err) {
        // Fails every host with the reason (a decryption or syntax error): no host gets a half-rendered unit.
        renderError = err as Error;
      }
    })();
    const lists = new Map<string, Promise<FileListInfo>>();
    const makeList = async (base: string | undefined): Promise<FileListInfo> => {
      const known = base !== undefined && base !== commit && (await repo.hasCommit(base));
      const [changed, baseFiles] = known ? await Promise.all([repo.diff(base, commit, [`${key}/`]), repo.listUnitFiles(base, unit)]) : [];
      const previous = baseFiles ? hostPathsOf(meta, baseFiles) : undefined;
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
    return {
      unitDir, meta, files, listFor, cleanup, rendering,
      redactor: rendering?.redactor ?? NO_SECRETS,
      forHost: async (host) => {
        if (renderError) throw renderError;
        return rendering?.perHost ? rendering.forHost(host) : undefined;
      },
    };
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

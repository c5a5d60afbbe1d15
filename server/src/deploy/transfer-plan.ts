// PURE: what a push must do on a host besides sending the unit's files, from git's file lists at the host's
// last commit and at the new one. It names every path whose type or presence git changed, so that neither
// transport (the shell or rsync) has to guess: files git removed, links or files git turned into directories,
// directories git turned into files or links, and every directory a write or a removal goes through (each must
// be a real directory on the host, never a symlink that would carry the write elsewhere).

export interface TransferPlan {
  /** Every file (or symlink) of the unit at the new commit, sorted: what rsync and the probe are given. */
  entries: string[];
  /** Files and links git removed (and that are not now directories): removed on the host, deepest first. */
  removals: string[];
  /** Files or links git held at the base that are directories now: replaced by a directory if the host still has them. */
  replace: string[];
  /** Directories at the base that are files or links now (or lie under one): emptied of git's files, then removed, deepest first. */
  clear: string[];
  /**
   * Directories a write or removal goes through, parents first: each must be a real directory (or absent) on
   * the host. The `clear` paths are not among them: git's own new file or link may already sit there (a push
   * that failed after rsync), and what lies under a file or link there is not git's to remove.
   */
  checkDirs: string[];
  /** The directories the unit's entries sit in, parents first: created on the host when absent (and remembered as gitfleet's). */
  dirs: string[];
}

/** Every proper ancestor directory of a relative path ("a/b/c" → "a", "a/b"). */
export function ancestors(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

const dirsOf = (files: Iterable<string>): Set<string> => {
  const out = new Set<string>();
  for (const f of files) for (const d of ancestors(f)) out.add(d);
  return out;
};

/** Component-wise order ("a/b" < "a/b/c" < "a/b.d"): a directory's contents follow it directly. */
export function byComponents(a: string, b: string): number {
  const x = a.split('/'), y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return x.length - y.length;
}

const deepestFirst = (a: string, b: string) => b.split('/').length - a.split('/').length || (a < b ? -1 : a > b ? 1 : 0);

/**
 * `previous` undefined: the host's last commit is unknown, so nothing is removed or replaced (gitfleet cannot
 * claim it put anything there); the directories the new files go through are still checked.
 */
export function planTransfer(current: string[], previous: string[] | undefined): TransferPlan {
  const entries = [...new Set(current)].sort();
  const now = new Set(entries);
  const curDirs = dirsOf(entries);
  const dirs = [...curDirs].sort(byComponents);
  if (!previous) return { entries, removals: [], replace: [], clear: [], checkDirs: dirs, dirs };
  const prev = new Set(previous);
  const prevDirs = dirsOf(prev);
  const gone = [...prev].filter((p) => !now.has(p));
  const replace = gone.filter((p) => curDirs.has(p)).sort(byComponents);
  const removals = gone.filter((p) => !curDirs.has(p)).sort(deepestFirst);
  // A former directory that is now a file or link, or lies under one: it has to go for the new entry to land.
  const underFile = (d: string) => now.has(d) || ancestors(d).some((a) => now.has(a));
  const clear = [...prevDirs].filter((d) => !curDirs.has(d) && underFile(d)).sort(deepestFirst);
  const checkDirs = new Set(curDirs);
  for (const p of [...removals, ...clear, ...replace]) for (const d of ancestors(p)) checkDirs.add(d);
  for (const d of clear) checkDirs.delete(d);
  return { entries, removals, replace, clear, checkDirs: [...checkDirs].sort(byComponents), dirs };
}

/** How many paths git removed or replaced (what the deletion breaker counts). */
export const removedCount = (p: TransferPlan): number => p.removals.length + p.replace.length;

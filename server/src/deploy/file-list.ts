// PURE: per-host file lists — every file of the unit at the target commit, plus the files git removed since that host's commit.
export interface StagePlan {
  /** Paths (relative to the unit dir) to list for rsync; removed ones are absent locally so rsync deletes them on the host. */
  list: string[];
  removed: string[];
  /** Parent directories of removed files that must exist locally so rsync can express the deletion. */
  parentsToCreate: string[];
}

export function planFileList(current: string[], previous: string[] | undefined): StagePlan {
  const now = new Set(current);
  const removed = previous ? previous.filter((p) => !now.has(p)).sort() : [];
  const dirsNow = new Set<string>();
  for (const p of current) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirsNow.add(parts.slice(0, i).join('/'));
  }
  const parents = new Set<string>();
  for (const p of removed) {
    const i = p.lastIndexOf('/');
    if (i > 0 && !dirsNow.has(p.slice(0, i))) parents.add(p.slice(0, i));
  }
  // A path removed as a file but now a directory (or the reverse) is left to the content listing.
  const removedSafe = removed.filter((p) => !dirsNow.has(p));
  return { list: [...[...current].sort(), ...removedSafe], removed: removedSafe, parentsToCreate: [...parents].sort() };
}

/** NUL-separated list as rsync --from0 reads it. */
export const toNulList = (paths: string[]): string => paths.map((p) => `${p}\0`).join('');

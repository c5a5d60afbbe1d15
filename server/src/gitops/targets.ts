// PURE: repo paths → units (<mod>/<env>/<app>) and the path on the host.
import { isSafeRelativePath, isSegment } from '../util/validate.js';

export interface Unit { mod: string; env: string; app: string }

/** "mod/env/app": the key a unit is stored and locked under. */
export const unitKey = (u: Unit): string => `${u.mod}/${u.env}/${u.app}`;

export function parseUnitKey(key: string): Unit | undefined {
  const parts = key.split('/');
  if (parts.length !== 3 || !parts.every(isSegment)) return undefined;
  return { mod: parts[0]!, env: parts[1]!, app: parts[2]! };
}

/** The unit a repo path belongs to and the path on the host, or undefined for paths that are not deployable. */
export function pathToUnit(path: string): { unit: Unit; hostPath: string } | undefined {
  if (!isSafeRelativePath(path)) return undefined;
  const parts = path.split('/');
  if (parts.length < 4) return undefined; // README.md, nginx/prod/x: not inside a unit
  const [mod, env, app] = parts as [string, string, string];
  if (![mod, env, app].every(isSegment)) return undefined;
  return { unit: { mod, env, app }, hostPath: parts.slice(3).join('/') };
}

export type ChangeKind = 'added' | 'modified' | 'removed' | 'renamed' | 'copied' | 'type-changed';
export interface FileChange { kind: ChangeKind; path: string; from?: string }

/** Units touched by a list of changes (both sides of a rename), sorted by key. */
export function changedUnits(changes: FileChange[]): Unit[] {
  const seen = new Map<string, Unit>();
  for (const c of changes) {
    for (const p of c.from ? [c.path, c.from] : [c.path]) {
      const t = pathToUnit(p);
      if (t) seen.set(unitKey(t.unit), t.unit);
    }
  }
  return [...seen.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, u]) => u);
}

/** Units present in a file listing of the whole repo. */
export function unitsOfFiles(paths: string[]): Unit[] {
  return changedUnits(paths.map((path) => ({ kind: 'added' as const, path })));
}

/** Parse `git diff --name-status -z -M` output. */
export function parseNameStatus(out: string): FileChange[] {
  const tokens = out.split('\0');
  const changes: FileChange[] = [];
  for (let i = 0; i < tokens.length; ) {
    const status = tokens[i++];
    if (!status) continue;
    const letter = status[0];
    if (letter === 'R' || letter === 'C') {
      const from = tokens[i++]!;
      const path = tokens[i++]!;
      changes.push({ kind: letter === 'R' ? 'renamed' : 'copied', path, from });
    } else {
      const path = tokens[i++]!;
      const kind: ChangeKind = letter === 'A' ? 'added' : letter === 'D' ? 'removed' : letter === 'T' ? 'type-changed' : 'modified';
      changes.push({ kind, path });
    }
  }
  return changes;
}

/** Which env/app/mod units a manual sync request covers, from a listing of the repo's units. */
export function selectUnits(all: Unit[], sel: { env: string; app: string; mod?: string }): Unit[] {
  return all.filter((u) => u.env === sel.env && u.app === sel.app && (sel.mod === undefined || u.mod === sel.mod));
}

// Per-host content diff of a dry run: for the files the dry run says would change, read the host's current
// content read-only through the host's long-lived shell (same SSH master; one constant script, paths as
// arguments) and diff it against the staged content. Used by dry runs (stored with the host's record) and by
// merge-request previews; anything written nowhere.
import { readFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TargetHost } from '../cmdb/provider.js';
import type { SshConnections } from '../ssh/connections.js';
import { isBinary, unifiedDiff } from './line-diff.js';

/** Hides secret values in a file's text before it is diffed (templates with secrets plug in here). */
export type Redact = (path: string, text: string) => string;
export const noRedaction: Redact = (_path, text) => text;

export type FileDiffKind = 'modified' | 'added' | 'removed' | 'attributes' | 'binary' | 'too_large' | 'not_read';

export interface FileDiff {
  /** Host path (absolute). */
  path: string;
  kind: FileDiffKind;
  /** Unified diff (host → git) for text files. */
  diff?: string;
  /** Sizes in bytes, where known (binary and too large files say only this). */
  hostBytes?: number;
  newBytes?: number;
  /** Why there is no diff (not_read: a link on the host, unreadable, the host did not answer). */
  note?: string;
}

export interface HostDiffLimits { maxFiles: number; maxFileBytes: number }

export interface HostDiff { files: FileDiff[]; /** Changed files beyond maxFiles (listed nowhere). */ omitted: number }

/**
 * The one script the host runs, per file ($1 = bytes to read at most, $2 = the path relative to /). It never
 * follows a link (the last component, or any directory on the way: readlink -f must give the path back) and
 * reads only regular files. Answer: one letter (A absent, L link, O not a regular file, U unreadable), or
 * `F<size>\n` then at most $1 bytes of the content.
 */
export const READ_SCRIPT = [
  'cd / || exit 3',
  'm=$1; f=$2',
  '[ -L "$f" ] && { printf L; exit 0; }',
  '[ -e "$f" ] || { printf A; exit 0; }',
  '[ -f "$f" ] || { printf O; exit 0; }',
  '[ "$(readlink -f -- "$f")" = "/$f" ] || { printf L; exit 0; }',
  '[ -r "$f" ] || { printf U; exit 0; }',
  's=$(wc -c < "$f") || exit 4',
  'printf "F%s\\n" $s',
  'exec head -c "$m" -- "$f"',
].join('\n');

export type HostFile = { kind: 'file'; size: number; content: Buffer } | { kind: 'absent' } | { kind: 'not_read'; note: string };

/** PURE: the READ_SCRIPT answer. */
export function parseRead(exitCode: number, out: Buffer): HostFile {
  if (exitCode !== 0) return { kind: 'not_read', note: `the host could not read it (exit ${exitCode})` };
  const first = out.subarray(0, 1).toString();
  if (first === 'A' && out.length === 1) return { kind: 'absent' };
  if (first === 'L' && out.length === 1) return { kind: 'not_read', note: 'a link on the host (not followed)' };
  if (first === 'O' && out.length === 1) return { kind: 'not_read', note: 'not a regular file on the host' };
  if (first === 'U' && out.length === 1) return { kind: 'not_read', note: 'not readable by the deploy user' };
  const nl = out.indexOf(0x0a);
  const m = first === 'F' && nl > 0 ? /^F(\d+)$/.exec(out.subarray(0, nl).toString()) : null;
  if (!m) return { kind: 'not_read', note: 'unexpected answer from the host' };
  return { kind: 'file', size: Number(m[1]), content: out.subarray(nl + 1) };
}

/** PURE: one file's entry from the host's and git's content (undefined content: absent on that side). */
export function fileDiff(path: string, host: HostFile, staged: { size: number; content: Buffer } | undefined, maxBytes: number, redact: Redact): FileDiff {
  const abs = `/${path}`;
  if (host.kind === 'not_read') return { path: abs, kind: 'not_read', note: host.note, newBytes: staged?.size };
  const hostFile = host.kind === 'file' ? host : undefined;
  if (!hostFile && !staged) return { path: abs, kind: 'not_read', note: 'absent on both sides' };
  const sizes = { hostBytes: hostFile?.size, newBytes: staged?.size };
  if ((hostFile && hostFile.size > maxBytes) || (staged && staged.size > maxBytes)) return { path: abs, kind: 'too_large', ...sizes };
  if ((hostFile && isBinary(hostFile.content)) || (staged && isBinary(staged.content))) return { path: abs, kind: 'binary', ...sizes };
  const before = hostFile ? redact(abs, hostFile.content.toString('utf8')) : '';
  const after = staged ? redact(abs, staged.content.toString('utf8')) : '';
  const kind: FileDiffKind = !hostFile ? 'added' : !staged ? 'removed' : 'modified';
  if (hostFile && staged && before === after) {
    // Same text once masked: either only the mode/owner differ, or only secret values (never shown).
    return hostFile.content.equals(staged.content) ? { path: abs, kind: 'attributes', ...sizes } : { path: abs, kind, note: 'only masked values differ', ...sizes };
  }
  const diff = unifiedDiff(before, after, { oldName: hostFile ? `host${abs}` : '/dev/null', newName: staged ? `git${abs}` : '/dev/null' });
  return { path: abs, kind, diff, ...sizes };
}

/** The staged file (a regular file under the unit dir), or undefined when git does not have it. */
async function stagedFile(unitDir: string, path: string, maxBytes: number): Promise<{ size: number; content: Buffer } | undefined> {
  const p = join(unitDir, path);
  const st = await lstat(p).catch(() => undefined);
  if (!st || !st.isFile()) return undefined;
  return { size: st.size, content: st.size > maxBytes ? Buffer.alloc(0) : await readFile(p) };
}

export interface HostDiffOptions {
  ssh: SshConnections; target: TargetHost; log: Logger; signal?: AbortSignal;
  /** The staged unit (mirrors the host's /). */
  unitDir: string;
  /** The dry run's changes (`+path` would be written, `-path` removed, `~path` attributes). */
  changes: string[];
  limits: HostDiffLimits;
  redact?: Redact;
  timeoutMs: number;
}

/** Diff the files a dry run says would change on one host (at most limits.maxFiles; the rest counted). */
export async function hostDiff(o: HostDiffOptions): Promise<HostDiff> {
  const redact = o.redact ?? noRedaction;
  const wanted = o.changes.filter((c) => /^[+~-]./.test(c));
  const picked = wanted.slice(0, o.limits.maxFiles);
  const files: FileDiff[] = [];
  if (picked.length === 0) return { files, omitted: 0 };
  const deadline = Date.now() + o.timeoutMs;
  let lease;
  try {
    lease = await o.ssh.lease(o.target, o.log, o.signal);
  } catch (err) {
    o.log.warn({ err }, 'host diff: no connection to the host');
    return { files: picked.map((c) => ({ path: `/${c.slice(1)}`, kind: 'not_read' as const, note: 'no connection to the host' })), omitted: wanted.length - picked.length };
  }
  try {
    const shell = o.ssh.shells.get(lease.dest, lease.sshArgs);
    for (const c of picked) {
      const path = c.slice(1);
      if (c[0] === '~') { files.push({ path: `/${path}`, kind: 'attributes' }); continue; }
      const staged = c[0] === '-' ? undefined : await stagedFile(o.unitDir, path, o.limits.maxFileBytes);
      const a = await shell.run(READ_SCRIPT, [String(o.limits.maxFileBytes + 1), path], Math.max(1000, deadline - Date.now()), o.signal);
      const host: HostFile = a.ok ? parseRead(a.exitCode, a.stdout) : { kind: 'not_read', note: `the host did not answer (${a.reason})` };
      files.push(fileDiff(path, host, staged, o.limits.maxFileBytes, redact));
    }
  } finally {
    lease.release();
  }
  return { files, omitted: wanted.length - picked.length };
}

/** PURE: keep a host diff under maxBytes of diff text (later files lose their diff text, with a note). */
export function capHostDiff(d: HostDiff, maxBytes: number): HostDiff {
  let used = 0;
  const files = d.files.map((f) => {
    if (!f.diff) return f;
    used += Buffer.byteLength(f.diff);
    return used <= maxBytes ? f : { ...f, diff: undefined, note: 'diff left out: the stored diff reached its size cap' };
  });
  return { files, omitted: d.omitted };
}

// Writing a few small differing files through a host's open probe shell instead of starting rsync: on a warm
// host a one-file change costs a handful of short programs there (mkdir, ln, mv) rather than two
// rsync start-ups, an ssh session and rsync checking the whole unit again. It does what rsync --checksum
// --perms [--chown] --backup-dir would do to those paths, and only when the probe saw nothing it cannot judge:
// a regular file or nothing where a file goes, a regular file or symlink where git removed one. Anything else,
// or more than a few files, is left to rsync. The script is a constant; paths, modes, owners and file contents
// travel as quoted arguments (contents escaped for the shell's printf %b, so it writes them without a program).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Expected, Observed } from './probe.js';

/** Above this, rsync (one start-up for any number of files, delta transfer) is the cheaper tool. */
export const SHELL_WRITE_MAX_OPS = 8;
export const SHELL_WRITE_MAX_BYTES = 256 * 1024;

export type WriteOp =
  | { op: 'put'; path: string; mode: number; size: number; chown: string } // content differs or the file is missing
  | { op: 'attrs'; path: string; mode: number; chown: string }             // same content, mode or owner differ
  | { op: 'drop'; path: string };                                          // git removed it

/** A differing path and the ownership its pass asks for. */
export interface Differing { path: string; owner?: string; group?: string }

const chownSpec = (owner?: string, group?: string) => (owner ?? '') + (group ? `:${group}` : '');

/** PURE: the operations for these differing paths, or undefined when rsync should handle them (see above). */
export function planShellWrite(differing: Differing[], expected: Map<string, Expected>, observed: Map<string, Observed>): WriteOp[] | undefined {
  if (differing.length === 0 || differing.length > SHELL_WRITE_MAX_OPS) return undefined;
  const ops: WriteOp[] = [];
  let bytes = 0;
  for (const { path, owner, group } of differing) {
    const want = expected.get(path);
    const got = observed.get(path);
    const regular = got?.type.startsWith('regular') ?? false;
    if (!want || want.kind === 'other') return undefined;
    if (want.kind === 'absent') {
      if (!got || !(regular || got.type === 'symbolic link')) return undefined;
      ops.push({ op: 'drop', path });
      continue;
    }
    if (got && !regular) return undefined;
    const chown = chownSpec(owner, group);
    if (got && got.size === want.size && got.md5 === want.md5) { ops.push({ op: 'attrs', path, mode: want.mode, chown }); continue; }
    bytes += want.size;
    if (bytes > SHELL_WRITE_MAX_BYTES) return undefined;
    ops.push({ op: 'put', path, mode: want.mode, size: want.size, chown });
  }
  return ops;
}

// $1 = backup dir ('' = none), $2 = a random tag for temporary names; then one call per operation, each
// consuming its arguments with shift. A step that fails before a path is replaced leaves that path as it was
// and stops with 10 (the caller hands the rest to rsync); every finished operation prints +path, ~path or
// -path (NUL-terminated), like rsync's itemized changes.
// - keep: the old file goes to the backup dir in rsync's --backup-dir layout, as a hard link (a copy across
//   file systems), so the live path is never missing; a backup this deployment already made is kept.
// - put: a temporary file next to the target (mode set by the umask at creation, O_EXCL), written by the
//   shell's printf, owned and moded, then renamed over the target (atomic). Missing parent directories are
//   created with default permissions, as rsync does. No checksum afterwards: the content is exactly the
//   argument (SSH protects it in transit) and a short write fails printf.
/** keep PATH: the old file or link at /PATH into the backup dir $b (rsync's --backup-dir layout); also used by host-prepare.ts. */
export const KEEP_FN = [
  'keep() {',
  '  [ -n "$b" ] || return 0',
  '  { [ -e "$b/$1" ] || [ -L "$b/$1" ]; } && return 0',
  '  case $1 in */*) bd=$b/${1%/*} ;; *) bd=$b ;; esac',
  '  [ -d "$bd" ] || mkdir -p -- "$bd" || return 1',
  '  ln -P -- "/$1" "$b/$1" 2>/dev/null || cp -pP -- "/$1" "$b/$1"',
  '}',
];
const SCRIPT_HEAD = [
  'b=$1; tag=$2; shift 2; t=',
  'fail() { [ -z "$t" ] || rm -f -- "$t"; exit 10; }',
  ...KEEP_FN,
  // $1 path, $2 umask at creation, $3 mode for chmod ('' = the umask gave it), $4 owner[:group] ('' = none), $5 content (printf %b)
  'put() {',
  '  p=/$1; d=${p%/*}; d=${d:-/}',
  '  [ -d "$d" ] || mkdir -p -- "$d" || return 1',
  '  n=$d/.${p##*/}.$tag',
  '  (umask "$2"; set -C; : >"$n") || return 1',
  '  t=$n; printf %b "$5" >"$t" || return 1',
  '  [ -z "$4" ] || chown -- "$4" "$t" || return 1',
  '  [ -z "$3" ] || chmod -- "$3" "$t" || return 1',
  '  if [ -e "$p" ] || [ -L "$p" ]; then keep "$1" || return 1; fi',
  '  mv -fT -- "$t" "$p" || return 1',
  "  t=; printf '%s\\0' \"+$1\"",
  '}',
  // $1 path, $2 mode, $3 owner[:group]
  "attrs() { { [ -z \"$3\" ] || chown -- \"$3\" \"/$1\"; } && chmod -- \"$2\" \"/$1\" && printf '%s\\0' \"~$1\"; }",
  // $1 path: kept in the backup dir (hard link), then removed
  "drop() { keep \"$1\" && rm -f -- \"/$1\" && printf '%s\\0' \"-$1\"; }",
];

/**
 * PURE: bytes as an argument for printf %b: printable ASCII as is (backslash doubled), newline and tab as is,
 * every other byte as \0ooo. The script travels as UTF-8 text, so no byte above 0x7e may go raw.
 */
export function printfEscape(b: Buffer): string {
  let out = '';
  for (const c of b) {
    if (c === 0x5c) out += '\\\\';
    else if ((c >= 0x20 && c < 0x7f) || c === 0x0a || c === 0x09) out += String.fromCharCode(c);
    else out += `\\0${c.toString(8).padStart(3, '0')}`;
  }
  return out;
}
const octal = (n: number) => `0${n.toString(8)}`;

/** Modes a fresh file gets from the umask alone (0666 & ~umask): no execute or special bits. */
const umaskFor = (mode: number) => ((mode & ~0o666) === 0 ? { umask: octal(0o777 & ~mode), chmod: '' } : { umask: '0077', chmod: octal(mode) });

/** The script and its arguments for RemoteShell.run; file contents are read from the staged unit. */
export async function shellWriteScript(ops: WriteOp[], o: { sourceDir: string; backupDir?: string; tag: string; prefix?: string }): Promise<{ script: string; args: string[] }> {
  const lines = o.prefix ? [o.prefix, ...SCRIPT_HEAD] : [...SCRIPT_HEAD];
  const args = [o.backupDir ?? '', o.tag];
  for (const w of ops) {
    if (w.op === 'drop') {
      lines.push('drop "$1" || fail; shift');
      args.push(w.path);
    } else if (w.op === 'attrs') {
      lines.push('attrs "$1" "$2" "$3" || fail; shift 3');
      args.push(w.path, octal(w.mode), w.chown);
    } else {
      const content = await readFile(join(o.sourceDir, w.path));
      const { umask, chmod } = umaskFor(w.mode);
      lines.push('put "$1" "$2" "$3" "$4" "$5" || fail; shift 5');
      args.push(w.path, umask, chmod, w.chown, printfEscape(content));
    }
  }
  lines.push('exit 0');
  return { script: lines.join('\n'), args };
}

/** PURE: the changes the script reports (+path, ~path, -path), in the order made. */
export function parseShellWrite(stdout: Buffer): string[] {
  return stdout.toString('utf8').split('\0').filter((r) => /^[+~-]./s.test(r));
}

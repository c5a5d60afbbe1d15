// Before any file of a push lands on a host: one request through the host's shell that (1) checks every
// directory the push writes or removes through is a real directory there, not a symlink or a file that would
// carry the write somewhere else, (2) removes what git removed and clears what git changed from one type to
// another, and (3) on request, says which rsync the host runs. It runs for both transports (shell writes and
// rsync), so neither relies on what a given rsync version refuses to follow, and removals never depend on the
// receiver's --delete-missing-args (rejected by 3.2.7 with the 2025 CVE fixes and 3.4.0–3.4.3).
// The script is a constant; paths travel as arguments, with a tag each:
//   D path  must be a real directory or absent, else the host is refused (nothing changed)
//   R path  git held a file or link here, now a directory: a file or link here is gitfleet's, so it is replaced
//   X path  git removed this file or link: removed (kept in the backup dir first)
//   C path  git turned this directory into a file or link: looked at like R (a file or link there, git's own
//           from a push that failed after rsync, is left to rsync, and nothing under it is touched)
//   E path  the same directory, after the removals: removed once empty, refused if it holds other files
//   M path  the replacement of an R path (after the removals)
//   N path  a directory the new files go into: checked like D, created when absent (last: never under a link)
//   P path  a directory gitfleet created that git no longer holds: removed if empty and its parents are real
// Records (NUL-terminated): Vversion, !path + why (refused), -path (removed or replaced), /path (a directory
// created), _path (a directory pruned).
import { shCommand, shellQuote } from '../util/shell-quote.js';
import { KEEP_FN } from './shell-write.js';
import { byComponents, type TransferPlan } from './transfer-plan.js';

// Phase 1 only looks; phase 2 changes. Under a path found to be a link or file nothing is looked at (the test
// would follow it). `what` runs readlink only for a refusal.
export const PREPARE_SCRIPT = [
  'b=$1; dry=$2; rv=$3; shift 3',
  'cd / || exit 3',
  ...KEEP_FN,
  'odd() { [ -L "$1" ] || { [ -e "$1" ] && [ ! -d "$1" ]; }; }',
  // Every parent of $1 is a real directory (P paths are not among the checked ones).
  'inside() { q=$1; while :; do case $q in */*) q=${q%/*}; { [ -d "$q" ] && [ ! -L "$q" ]; } || return 1 ;; *) return 0 ;; esac; done; }',
  'what() { if [ -L "$1" ]; then printf "a symlink to %s" "$(readlink -- "$1")"; else printf "a file, not a directory"; fi; }',
  // rsync 3.1.0 or newer (--chown), else stop before anything changes (the server says why: rsyncProblem).
  'if [ -n "$rv" ]; then v=$($rv --version </dev/null 2>/dev/null); printf "V%s\\0" "$v"',
  '  case $v in *"version "[4-9]*|*"version "3.[1-9]*|*"version v"[4-9]*|*"version v3."[1-9]*) ;; *) exit 22 ;; esac; fi',
  'bad=; skip=; k=',
  'for a; do',
  '  if [ -z "$k" ]; then k=$a; continue; fi',
  '  p=$a; t=$k; k=',
  '  if [ -n "$skip" ]; then case $p in "$skip"/*) continue ;; esac; fi',
  '  case $t in',
  '    D|N) if odd "$p"; then printf "!%s\\0%s\\0" "$p" "$(what "$p")"; bad=1; skip=$p; fi ;;',
  '    R|C) if odd "$p"; then skip=$p; fi ;;',
  '  esac',
  'done',
  '[ -z "$bad" ] || exit 20',
  'k=',
  'for a; do',
  '  if [ -z "$k" ]; then k=$a; continue; fi',
  '  p=$a; t=$k; k=',
  '  case $t in',
  '    X) if inside "$p" && odd "$p"; then',
  '         [ -n "$dry" ] || { keep "$p" && rm -f -- "$p"; } || { printf "!%s\\0%s\\0" "$p" "could not be removed"; exit 21; }',
  '         printf "%s\\0" "-$p"; fi ;;',
  '    E) if [ -z "$dry" ] && [ -d "$p" ] && [ ! -L "$p" ] && inside "$p"; then',
  '         rmdir -- "$p" 2>/dev/null || { printf "!%s\\0%s\\0" "$p" "a directory holding files git does not manage"; exit 21; }; fi ;;',
  '    M) if inside "$p" && odd "$p"; then',
  '         [ -n "$dry" ] || { keep "$p" && rm -f -- "$p" && mkdir -- "$p"; } || { printf "!%s\\0%s\\0" "$p" "could not be replaced by a directory"; exit 21; }',
  '         printf "%s\\0" "-$p"; [ -n "$dry" ] || printf "/%s\\0" "$p"; fi ;;',
  // Gone already, or no longer a directory (not ours any more): forgotten; a real one goes once empty.
  '    P) [ -z "$dry" ] || continue',
  '       if odd "$p" || [ ! -e "$p" ] || { inside "$p" && rmdir -- "$p" 2>/dev/null; }; then printf "_%s\\0" "$p"; fi ;;',
  '  esac',
  'done',
  '[ -z "$dry" ] || exit 0',
  // Last, once every link in the way is gone: the directories the new files go into.
  'k=',
  'for a; do',
  '  if [ -z "$k" ]; then k=$a; continue; fi',
  '  p=$a; t=$k; k=',
  // A directory another push made meanwhile (two units of this host into one new directory) is taken as it is,
  // not recorded as this unit's: only a real directory, never a link put there.
  '  if [ "$t" = N ] && [ ! -d "$p" ]; then',
  '    if mkdir -- "$p" 2>/dev/null; then printf "/%s\\0" "$p"',
  '    elif [ ! -d "$p" ] || [ -L "$p" ]; then printf "!%s\\0%s\\0" "$p" "could not be created"; exit 21; fi',
  '  fi',
  'done',
  'exit 0',
].join('\n');

const RIDE_START = '@gitfleet-check@';
const RIDE_END = /\n@gitfleet-check-end (\d+)@\n/;

/**
 * PURE: the check as a prefix of rsync's remote command (rsync --rsync-path): its records go to stderr between
 * two marker lines (stdout is rsync's protocol stream), and rsync starts only when it passed.
 */
export function checkPrefix(args: string[], sudo?: string): string {
  return `{ printf '${RIDE_START}\\n'; ${sudo ? `${sudo} ` : ''}${shCommand(PREPARE_SCRIPT, args)} 2>/dev/null; c=$?; printf '\\n@gitfleet-check-end %s@\\n' "$c"; } 1>&2; [ "$c" = 0 ] || exit "$c";`;
}

/**
 * PURE: the words that make the host's rsync run as another user (`sudo rsync`, `sudo -u deploy /usr/bin/rsync`
 * → `sudo -n`, `sudo -u deploy -n`): the check, which removes and creates what rsync would, runs under them too.
 * undefined when rsync runs as the SSH user.
 */
export function sudoOf(rsyncPath: string): string | undefined {
  const words = rsyncPath.split(' ');
  return /(^|\/)sudo$/.test(words[0]!) && words.length > 1 ? [...words.slice(0, -1), '-n'].join(' ') : undefined;
}

/** PURE: the script for the host's long-lived shell: as is, or handed to sudo with its arguments. */
export const shellCheckScript = (sudo?: string): string => (sudo ? `exec ${sudo} sh -c ${shellQuote(PREPARE_SCRIPT)} sh "$@"` : PREPARE_SCRIPT);

/** PURE: the check's answer out of rsync's stderr (undefined: it never ran), and the rest of stderr. */
export function splitCheck(stderr: string): { answer?: PrepareAnswer; exitCode: number; rest: string } {
  const at = stderr.indexOf(`${RIDE_START}\n`);
  if (at < 0) return { exitCode: -1, rest: stderr };
  const end = RIDE_END.exec(stderr.slice(at));
  // Cut off (the connection dropped during the check): what it reported before is kept, exit -2.
  if (!end) return { answer: parsePrepare(Buffer.from(stderr.slice(at + RIDE_START.length + 1), 'utf8')), exitCode: -2, rest: stderr.slice(0, at) };
  const body = stderr.slice(at + RIDE_START.length + 1, at + end.index);
  const rest = stderr.slice(0, at) + stderr.slice(at + end.index + end[0].length);
  return { answer: parsePrepare(Buffer.from(body, 'utf8')), exitCode: Number(end[1]), rest };
}

/** PURE: the script's arguments for one host push. rsyncVersionOf: the host's rsync command, when its version is asked. */
export function prepareArgs(plan: TransferPlan, o: { backupDir?: string; dryRun?: boolean; rsyncVersionOf?: string; prune?: string[] }): string[] {
  const replace = new Set(plan.replace);
  const dirs = new Set(plan.dirs);
  const looks: Array<[string, string]> = [
    ...plan.checkDirs.filter((d) => !replace.has(d)).map((d): [string, string] => [dirs.has(d) ? 'N' : 'D', d]),
    ...plan.replace.map((d): [string, string] => ['R', d]),
    ...plan.clear.map((d): [string, string] => ['C', d]),
  ].sort((a, b) => byComponents(a[1], b[1]));
  const args = [o.backupDir ?? '', o.dryRun ? '1' : '', o.rsyncVersionOf ?? ''];
  for (const [t, p] of looks) args.push(t, p);
  for (const p of plan.removals) args.push('X', p);
  for (const p of plan.clear) args.push('E', p);
  for (const p of plan.replace) args.push('M', p);
  const deepestFirst = [...(o.prune ?? [])].filter((d) => !dirs.has(d)).sort((x, y) => y.split('/').length - x.split('/').length);
  for (const p of deepestFirst) args.push('P', p);
  return args;
}

/** Does this plan need the script at all (anything to look at or change)? */
export const prepareNeeded = (plan: TransferPlan, prune: string[] = []): boolean => plan.checkDirs.length + plan.removals.length + plan.replace.length + plan.clear.length + prune.length > 0;

export interface PrepareAnswer {
  /** The first line of `rsync --version` on the host ('' = it did not run: not installed); undefined = not asked. */
  rsyncVersion?: string;
  /** Paths removed or replaced (-path), in the order made. */
  changes: string[];
  /** Paths refused, and why: nothing was written (exit 20) or the script stopped there (exit 21). */
  refused: Array<{ path: string; why: string }>;
  /** Directories this push created on the host (gitfleet's to remove once git no longer holds them). */
  created: string[];
  /** Directories of gitfleet's removed because git no longer holds them and they were empty. */
  pruned: string[];
}

/** PURE: the script's NUL-separated records. */
export function parsePrepare(stdout: Buffer): PrepareAnswer {
  const recs = stdout.toString('utf8').split('\0');
  recs.pop();
  const out: PrepareAnswer = { changes: [], refused: [], created: [], pruned: [] };
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i]!;
    if (r.startsWith('V')) out.rsyncVersion = r.slice(1).split('\n')[0]!.trim();
    else if (r.startsWith('!')) out.refused.push({ path: r.slice(1), why: recs[++i] ?? '' });
    else if (r.startsWith('-') && r.length > 1) out.changes.push(r);
    else if (r.startsWith('/') && r.length > 1) out.created.push(r.slice(1));
    else if (r.startsWith('_') && r.length > 1) out.pruned.push(r.slice(1));
  }
  return out;
}

/** PURE: a refusal as a reason a human understands (the host paths are absolute). */
export function refusalReason(refused: PrepareAnswer['refused'], complete: boolean): string {
  const shown = refused.slice(0, 3).map((r) => `/${r.path} is ${r.why} (not managed by git): refused`);
  const more = refused.length > 3 ? ` (and ${refused.length - 3} more)` : '';
  return `${shown.join('; ')}${more}${complete ? '; nothing was written on this host' : ''}`;
}

/** rsync on hosts: 3.1.0 brought --chown; older receivers are refused with that reason. */
export const MIN_RSYNC = [3, 1, 0] as const;

/** PURE: "rsync  version 3.2.7  protocol version 31" → [3, 2, 7]; undefined when it is not that shape. */
export function rsyncVersionOf(line: string): [number, number, number] | undefined {
  const m = /rsync\s+version\s+v?(\d+)\.(\d+)\.(\d+)/.exec(line);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** PURE: why a host's rsync cannot be used, or undefined when it can. */
export function rsyncProblem(line: string, command: string): string | undefined {
  if (!line) return `rsync is not installed on the host (\`${command} --version\` did not run; see deploy.ssh.rsyncPath)`;
  const v = rsyncVersionOf(line);
  if (!v) return `the host's rsync answered \`${line.slice(0, 80)}\`, not a version gitfleet knows`;
  const old = v[0] !== MIN_RSYNC[0] ? v[0] < MIN_RSYNC[0] : v[1] !== MIN_RSYNC[1] ? v[1] < MIN_RSYNC[1] : v[2] < MIN_RSYNC[2];
  return old ? `the host's rsync ${v.join('.')} is too old (gitfleet needs ${MIN_RSYNC.join('.')} or newer)` : undefined;
}

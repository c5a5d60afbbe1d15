// What happens on a host after rsync changed files: the validate hook (restore from the backup when it fails),
// the reload hook, and backup retention. Constant scripts; paths travel as arguments.
import type { Logger } from 'pino';
import type { SshConnections } from '../ssh/connections.js';
import type { SshTarget } from '../ssh/options.js';
import { runRemote } from '../ssh/remote.js';
import { shCommand } from '../util/shell-quote.js';
import { tailText as tail } from '../util/exec.js';
import type { UnitMetadata } from './metadata.js';

export interface StepContext {
  ssh: SshConnections;
  target: SshTarget;
  meta: UnitMetadata;
  backupDir?: string;
  /** The sudo words the host's rsync runs under (host-prepare.ts sudoOf): the restore puts back what rsync wrote. */
  sudo?: string;
  /** An earlier push to this host (cut off by a crash or a failure) may have changed files without its hooks. */
  owed?: { deploymentId: number; backupDir?: string };
  signal: AbortSignal;
  log: Logger;
}

export interface StepFailure { reason: string; output: string; exitCode: number | null }

// Put back what the push changed. $2 = how many of the paths were written (deepest first; the rest were removed
// or replaced, shallowest first). Nothing is followed through a link, on the host or in the backup dir: a path
// is touched only when every directory above it is a real one (or absent: then created), and a backup counts
// only when it is a file or link whose directories in the backup dir are real ones (a link kept there is a
// backup of a link, never a way into it). A path with a backup is moved back over what the push put there (a
// directory that replaced a link goes first, once its empty subdirectories have); a written path with no
// backup was new and goes. Paths that could not be put back are printed (NUL-terminated), exit status 1.
const RESTORE = [
  'b=$1; nw=$2; shift 2; i=0; bad=0',
  // every directory above $2 (relative) under the root $1 is a real directory or absent
  'clear_above() { q=$2; while :; do case $q in */*) q=${q%/*}; if [ -L "$1/$q" ] || { [ -e "$1/$q" ] && [ ! -d "$1/$q" ]; }; then return 1; fi ;; *) return 0 ;; esac; done; }',
  'kept() { { [ -L "$b/$1" ] || [ -f "$b/$1" ]; } && clear_above "$b" "$1"; }',
  'for f; do',
  '  i=$((i + 1)); p=/$f; d=${p%/*}; d=${d:-/}',
  '  if ! clear_above "" "$f"; then false',
  '  elif kept "$f"; then',
  '    if [ -d "$p" ] && [ ! -L "$p" ]; then find "$p" -depth -mindepth 1 -type d -empty -delete; rmdir -- "$p"; fi &&',
  '    { [ -d "$d" ] || mkdir -p -- "$d"; } && mv -fT -- "$b/$f" "$p"',
  '  elif [ "$i" -le "$nw" ]; then',
  '    if [ -d "$p" ] && [ ! -L "$p" ]; then rmdir -- "$p"; else rm -f -- "$p"; fi',
  '  else false; fi 2>/dev/null || { bad=1; printf "%s\\0" "$f"; }',
  'done',
  'exit $bad',
].join('\n');
// Keep the newest N deployment backups (numeric names) of this unit. Shell builtins only, one rm when there is
// something to remove: it rides on one push in `keep`, on every host, and a pipeline (ls|grep|sort|head) of five
// processes cost a quarter of a warm push's CPU there.
const PRUNE = [
  'cd "$1" 2>/dev/null || exit 0',
  'n=0; for d in *; do case $d in ""|*[!0-9]*) ;; *) n=$((n + 1)) ;; esac; done',
  'x=$((n - $2)); last=-1; set --',
  // The x oldest, smallest first: each round takes the smallest id above the last one taken.
  'while [ "$x" -gt 0 ]; do m=""; for d in *; do case $d in ""|*[!0-9]*) continue ;; esac;' +
    ' if [ "$d" -gt "$last" ] && { [ -z "$m" ] || [ "$d" -lt "$m" ]; }; then m=$d; fi; done;' +
    ' set -- "$@" "$m"; last=$m; x=$((x - 1)); done',
  '[ $# -eq 0 ] || rm -rf -- "$@"',
].join('; ');

/**
 * Backup retention as a prefix of the push's own remote rsync command (rsync --rsync-path), so it costs no SSH
 * session of its own. It runs before this push's backup exists, so it keeps keep−1 older ones; silent, because
 * the command's output is rsync's protocol stream.
 */
export function prunePrefix(backupParent: string, keep: number): string {
  return `${shCommand(PRUNE, [backupParent, String(Math.max(0, keep - 1))])} </dev/null >/dev/null 2>&1;`;
}

async function remote(c: StepContext, command: string, timeoutSeconds: number) {
  return runRemote(c.ssh, c.target, command, { timeoutSeconds, signal: c.signal, log: c.log });
}

/** Paths (relative to /) the push wrote or removed, from the recorded changes (+path, -path, ~path). */
export function touchedPaths(changes: string[]): { written: string[]; removed: string[] } {
  return {
    written: changes.filter((c) => c.startsWith('+')).map((c) => c.slice(1)),
    removed: changes.filter((c) => c.startsWith('-')).map((c) => c.slice(1)),
  };
}


/** Put the previous files back after a failed validate; says what it did and whether all of it worked. */
async function restore(c: StepContext, written: string[], removed: string[]): Promise<string> {
  const depth = (p: string) => p.split('/').length;
  const w = [...written].sort((a, b) => depth(b) - depth(a));
  const r = [...removed].sort((a, b) => depth(a) - depth(b));
  const res = await remote(c, `${c.sudo ? `${c.sudo} ` : ''}${shCommand(RESTORE, [c.backupDir!, String(w.length), ...w, ...r])}`, 120);
  const total = w.length + r.length;
  if (res.ok) return `previous files restored (${w.length} written and ${r.length} removed path(s) put back)`;
  const failed = res.res?.exitCode === 1 ? res.res.stdout.split('\0').filter(Boolean) : [];
  if (failed.length === 0) return `restoring the previous files FAILED: ${res.failure?.reason}`;
  return `restore INCOMPLETE: ${failed.length} of ${total} path(s) could not be put back (${failed.slice(0, 3).map((f) => `/${f}`).join(', ')}${failed.length > 3 ? ', …' : ''}); the others were`;
}

/** Run the steps; a StepFailure means the host failed (and, for validate, its previous files are back). */
export async function afterTransfer(c: StepContext, changes: string[]): Promise<StepFailure | undefined> {
  const { written, removed } = touchedPaths(changes);
  if (written.length + removed.length === 0 && !c.owed) return undefined; // nothing changed, nothing owed: no hooks
  const hooks = c.meta.hooks;
  if (hooks.validate) {
    const v = await remote(c, shCommand(hooks.validate), hooks.timeout);
    if (!v.ok) {
      const output = tail(`${v.res?.stdout ?? ''}${v.res?.stderr ?? ''}`.trim());
      let restored = 'no backup to restore from (deploy.backups.enabled is false)';
      if (c.backupDir && written.length + removed.length) restored = await restore(c, written, removed);
      else if (c.backupDir) restored = 'nothing changed by this push';
      // What the cut-off push changed is not known path by path: its backup stays for a hand restore.
      if (c.owed) restored += `; the files of interrupted deployment #${c.owed.deploymentId} stay in place${c.owed.backupDir ? ` (what they replaced is in ${c.owed.backupDir} on the host)` : ''}`;
      return { reason: `validate hook failed (${v.failure?.reason}); ${restored}`, output, exitCode: v.res?.exitCode ?? null };
    }
  }
  if (hooks.reload) {
    const r = await remote(c, shCommand(hooks.reload), hooks.timeout);
    if (!r.ok) return { reason: `reload hook failed (${r.failure?.reason}); the new files stay in place`, output: tail(`${r.res?.stdout ?? ''}${r.res?.stderr ?? ''}`.trim()), exitCode: r.res?.exitCode ?? null };
  }
  return undefined;
}

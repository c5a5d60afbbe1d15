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
  signal: AbortSignal;
  log: Logger;
}

export interface StepFailure { reason: string; output: string; exitCode: number | null }

// Put back what the push changed: a file with a backup is moved back, a file the push created is removed.
const RESTORE = 'b=$1; shift; for f in "$@"; do if [ -e "$b/$f" ] || [ -L "$b/$f" ]; then mkdir -p "$(dirname "/$f")" && mv -f "$b/$f" "/$f"; else rm -f "/$f"; fi; done';
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


/** Run the steps; a StepFailure means the host failed (and, for validate, its previous files are back). */
export async function afterTransfer(c: StepContext, changes: string[]): Promise<StepFailure | undefined> {
  const { written, removed } = touchedPaths(changes);
  if (written.length + removed.length === 0) return undefined; // nothing changed: no hooks
  const hooks = c.meta.hooks;
  if (hooks.validate) {
    const v = await remote(c, shCommand(hooks.validate), hooks.timeout);
    if (!v.ok) {
      const output = tail(`${v.res?.stdout ?? ''}${v.res?.stderr ?? ''}`.trim());
      let restored = 'no backup to restore from (deploy.backups.enabled is false)';
      if (c.backupDir) {
        const r = await remote(c, shCommand(RESTORE, [c.backupDir, ...written, ...removed]), 120);
        restored = r.ok ? 'previous files restored' : `restoring the previous files FAILED: ${r.failure?.reason}`;
      }
      return { reason: `validate hook failed (${v.failure?.reason}); ${restored}`, output, exitCode: v.res?.exitCode ?? null };
    }
  }
  if (hooks.reload) {
    const r = await remote(c, shCommand(hooks.reload), hooks.timeout);
    if (!r.ok) return { reason: `reload hook failed (${r.failure?.reason}); the new files stay in place`, output: tail(`${r.res?.stdout ?? ''}${r.res?.stderr ?? ''}`.trim()), exitCode: r.res?.exitCode ?? null };
  }
  return undefined;
}

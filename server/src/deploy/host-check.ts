// The host check of one push (host-prepare.ts's script): through the host's shell, or riding on rsync's own
// session for a cold host, and what its answer means for the attempt.
import type { Lease } from '../ssh/connections.js';
import type { Failure } from '../ssh/failure.js';
import { checkPrefix, shellCheckScript, sudoOf, parsePrepare, prepareArgs, prepareNeeded, refusalReason, rsyncProblem, type PrepareAnswer } from './host-prepare.js';
import { left, shellTrouble, timeoutFailure, type Attempt, type HostPushOptions } from './host-attempt.js';

/** The check riding on rsync's command line stays well under Linux's 128 KiB limit for one argument. */
const RIDE_MAX_BYTES = 96 * 1024;

/**
 * Check the directories the push goes through, make the removals and type changes, and ask the rsync version
 * (host-prepare.ts). Nothing is written on a host that this did not clear: when it cannot run, the attempt fails.
 */
export async function prepareHost(o: HostPushOptions, lease: Lease, deadline: number, always = false): Promise<{ changes: string[] } | { done: Attempt }> {
  const ask = asksVersion(o);
  const prune = o.dirs?.prune ?? [];
  if (!ask && !always && !prepareNeeded(o.transfer, prune)) return { changes: [] };
  const shell = o.ssh.shells.get(lease.dest, lease.sshArgs);
  const args = prepareArgs(o.transfer, { backupDir: o.plan.backupDir, dryRun: o.plan.dryRun, rsyncVersionOf: ask ? o.rsync.path : undefined, prune });
  const a = await shell.run(shellCheckScript(sudoOf(o.rsync.path)), args, left(deadline), o.signal);
  if (!a.ok) {
    const t = shellTrouble(shell, a.reason);
    if (t.kind === 'timeout') return { done: { failure: timeoutFailure(o), stderr: '' } };
    if (t.kind === 'failed') return { done: { failure: t.failure, stderr: t.stderr } };
    return { done: { failure: { kind: 'connection_reset', reason: 'the host\'s shell closed before the push could check its directories', transient: true }, stderr: shell.ended.stderr } };
  }
  return checkOutcome(o, parsePrepare(a.stdout), a.exitCode);
}

/** What the host check's answer means for the attempt: go on (with its changes), or stop with a failure. */
export function checkOutcome(o: HostPushOptions, answer: PrepareAnswer, exitCode: number): { changes: string[] } | { done: Attempt } {
  if (answer.rsyncVersion !== undefined) o.rsync.onVersion?.(answer.rsyncVersion);
  if (answer.created.length) o.dirs?.onCreated(answer.created);
  if (answer.pruned.length) o.dirs?.onPruned(answer.pruned);
  const refused = (complete: boolean): Failure => ({ kind: 'refused', reason: refusalReason(answer.refused, complete), transient: false });
  // 22: the script stopped before changing anything, the host's rsync being missing or too old.
  if (exitCode === 22) {
    const why = rsyncProblem(answer.rsyncVersion ?? '', o.rsync.path) ?? `the host's rsync (${answer.rsyncVersion}) is not one gitfleet can use`;
    return { done: { failure: { kind: 'rsync_missing', reason: why, transient: false }, stderr: '' } };
  }
  // -2: the connection dropped while the check ran (riding on rsync): what it did is kept, and it may be retried.
  if (exitCode === -2) return { done: { failure: { kind: 'connection_reset', reason: 'connection lost while the host was being checked', transient: true }, changes: answer.changes, stderr: '' } };
  if (exitCode === 20) return { done: { failure: refused(true), stderr: '' } };
  if (exitCode === 21) return { done: { failure: refused(false), changes: answer.changes, stderr: '' } };
  if (exitCode !== 0) return { done: { failure: { kind: 'unknown', reason: `the check of the host's directories failed (exit ${exitCode})`, transient: false }, stderr: '' } };
  return { changes: answer.changes };
}

/**
 * The host check as a prefix of rsync's own remote command (a cold host: no extra session and no extra round
 * trip); undefined when it would make the command line too long (the shell's request is used instead).
 */
export function checkRide(o: HostPushOptions): string | undefined {
  const ask = asksVersion(o);
  const args = prepareArgs(o.transfer, { backupDir: o.plan.backupDir, dryRun: o.plan.dryRun, rsyncVersionOf: ask ? o.rsync.path : undefined, prune: o.dirs?.prune ?? [] });
  const ride = checkPrefix(args, sudoOf(o.rsync.path));
  return Buffer.byteLength(ride) <= RIDE_MAX_BYTES ? ride : undefined;
}


/** The host's rsync version is asked when unit-run says so (not known yet, or not checked for a day). */
export const asksVersion = (o: HostPushOptions) => o.rsync.onVersion !== undefined && o.rsync.askVersion;

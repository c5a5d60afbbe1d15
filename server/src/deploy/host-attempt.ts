// What one host push is given and what one attempt of it yields, and the deadline and shell-failure helpers that
// the push (host-push.ts) and the host check (host-check.ts) share.
import type { Logger } from 'pino';
import type { RunResult } from '../util/exec.js';
import type { SshConnections } from '../ssh/connections.js';
import { classifySsh, type Failure } from '../ssh/failure.js';
import type { Metrics } from '../metrics.js';
import type { OwnerPass } from './owner-passes.js';
import type { Launcher } from '../util/launcher.js';
import type { Expected } from './probe.js';
import type { SshTarget } from '../ssh/options.js';
import type { RsyncPlan } from './rsync.js';
import type { TransferPlan } from './transfer-plan.js';

export interface HostPushOptions {
  ssh: SshConnections;
  /** Starts rsync (see util/launcher.ts). */
  launcher: Launcher;
  target: SshTarget;
  /** rsync settings, and the list split in passes by owner/group (owner-passes.ts). */
  plan: Omit<RsyncPlan, 'sshArgs' | 'user' | 'host' | 'fileList' | 'owner' | 'group' | 'rsyncPath'> & { passes: OwnerPass[] };
  /** Removals, type changes and directory checks done through the host's shell before anything is written (host-prepare.ts). */
  transfer: TransferPlan;
  /**
   * Directories gitfleet created on this host that git no longer holds (removed when empty), and where to report
   * the directories a push creates or removes (unit-run.ts records them per unit and host).
   */
  dirs?: { prune: string[]; onCreated(paths: string[]): void; onPruned(paths: string[]): void };
  /**
   * The host's rsync command (deploy.ssh.rsyncPath). Its version is asked when `askVersion` (not known yet, or
   * last asked more than a day ago: an upgrade shows within a day); `onVersion` records the answer.
   */
  rsync: { path: string; askVersion: boolean; onVersion?: (line: string) => void };
  timeoutSeconds: number;
  retries: number;
  backoffSeconds: number;
  signal: AbortSignal;
  log: Logger;
  /**
   * Probe the host first (see probe.ts): what each listed path must be. A host with an open connection is
   * always probed; one without only when `cold` (a host that holds the commit: most likely nothing to do).
   * `shellWrites`: a few small differing files are written through the probe shell (shell-write.ts).
   */
  probe?: { expected(): Promise<Map<string, Expected>>; cold: boolean; shellWrites: boolean; metrics?: Metrics };
}

/** changes: made through the host check and the probe shell (+path, ~path, -path), before any rsync of this attempt. */
export interface Attempt { failure?: Failure; res?: RunResult; changes?: string[]; stderr: string }

/** A request to the host's shell that got no answer: the connection's failure, a timeout, or "use rsync". */
export type ShellTrouble = { kind: 'timeout' } | { kind: 'failed'; failure: Failure; stderr: string } | { kind: 'unknown' };

/** What a request to the host's shell that did not answer means: the connection's failure, a timeout, or "use rsync". */
export function shellTrouble(shell: { ended: { exitCode: number | null; stderr: string } }, reason: 'timeout' | 'closed' | 'too_large' | 'aborted'): ShellTrouble {
  if (reason === 'timeout') return { kind: 'timeout' };
  if (reason === 'aborted') return { kind: 'failed', failure: { kind: 'aborted', reason: 'aborted: the server is shutting down', transient: false }, stderr: '' };
  if (reason !== 'closed') return { kind: 'unknown' };
  const { exitCode, stderr } = shell.ended;
  const failure = exitCode === 255 ? classifySsh({ exitCode, stderr, timedOut: false }) : undefined;
  return failure ? { kind: 'failed', failure, stderr } : { kind: 'unknown' };
}

/** Time left before a deadline, at least a second (a request is never sent with no time at all). */
export const left = (deadline: number) => Math.max(1000, deadline - Date.now());

export const timeoutFailure = (o: HostPushOptions): Failure => ({ kind: 'timeout', reason: `timeout: the host did not answer within ${o.timeoutSeconds} s`, transient: true });

// Run a command on a host over the deploy path's SSH (the same master connection, key and known_hosts), started
// from the launcher like the push's rsync (hooks run on every host of a deployment).
import type { Logger } from 'pino';
import type { RunResult } from '../util/exec.js';
import { SshConnectionError, type SshConnections } from './connections.js';
import { classifySsh, type Failure } from './failure.js';
import { sshHost, type SshTarget } from './options.js';

export interface RemoteResult { ok: boolean; failure?: Failure; res?: RunResult }

/** `command` is one shell command line (build it with shCommand); judged by its exit code. */
export async function runRemote(ssh: SshConnections, target: SshTarget, command: string, o: { timeoutSeconds: number; signal?: AbortSignal; log?: Logger; stdin?: string }): Promise<RemoteResult> {
  let lease;
  try {
    lease = await ssh.lease(target, o.log, o.signal);
  } catch (err) {
    if (err instanceof SshConnectionError) return { ok: false, failure: err.failure };
    throw err;
  }
  try {
    const res = await ssh.launcher.run('ssh', [...lease.sshArgs, sshHost(lease.dest), '--', command], { timeoutMs: o.timeoutSeconds * 1000, signal: o.signal, log: o.log, stdin: o.stdin });
    const failure = classifySsh(res, o.timeoutSeconds);
    return { ok: !failure, failure, res };
  } finally {
    lease.release();
  }
}

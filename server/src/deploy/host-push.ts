// One host push: lease an SSH connection, run rsync with a timeout that kills the process group, retry transient failures.
import type { Logger } from 'pino';
import { runCommand, type RunResult } from '../util/exec.js';
import { SshConnectionError, type SshConnections } from '../ssh/connections.js';
import { classifyRsync, type Failure } from '../ssh/failure.js';
import type { SshTarget } from '../ssh/options.js';
import type { HostPushResult } from '../db/deployments.js';
import { buildRsyncArgs, parseItemized, type RsyncPlan } from './rsync.js';

export interface HostPushOptions {
  ssh: SshConnections;
  target: SshTarget;
  plan: Omit<RsyncPlan, 'sshArgs' | 'user' | 'host'>;
  timeoutSeconds: number;
  retries: number;
  backoffSeconds: number;
  signal: AbortSignal;
  log: Logger;
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

const tail = (s: string, n = 2000) => (s.length > n ? s.slice(-n) : s);

interface Attempt { failure?: Failure; res?: RunResult; stderr: string }

async function attempt(o: HostPushOptions): Promise<Attempt> {
  let lease;
  try {
    lease = await o.ssh.lease(o.target, o.log, o.signal);
  } catch (err) {
    if (err instanceof SshConnectionError) return { failure: err.failure, stderr: err.stderr };
    throw err;
  }
  try {
    const args = buildRsyncArgs({ ...o.plan, sshArgs: lease.sshArgs, user: lease.dest.user, host: lease.dest.host });
    const res = await runCommand('rsync', args, { timeoutMs: o.timeoutSeconds * 1000, signal: o.signal, log: o.log });
    return { res, failure: classifyRsync(res, o.timeoutSeconds), stderr: res.stderr };
  } finally {
    lease.release();
  }
}

/** Push to one host; never throws for a failed push (that is a recorded result). */
export async function pushHost(o: HostPushOptions): Promise<HostPushResult & { failureKind?: string }> {
  const started = Date.now();
  let last: Attempt = { stderr: '' };
  let attempts = 0;
  for (let i = 0; i <= o.retries; i++) {
    if (o.signal.aborted) break;
    attempts++;
    last = await attempt(o);
    if (!last.failure || !last.failure.transient || i === o.retries) break;
    o.log.warn({ attempt: attempts, kind: last.failure.kind }, 'host push failed, retrying');
    await sleep(o.backoffSeconds * 1000 * 2 ** i, o.signal);
  }
  if (o.signal.aborted && attempts === 0) {
    return { status: 'aborted', exitCode: null, reason: 'aborted: the server is shutting down', changes: [], stderrTail: null, attempts, durationMs: Date.now() - started };
  }
  const changes = last.res ? parseItemized(last.res.stdout).filter((c) => c.op !== 'dir').map((c) => `${c.op === 'deleted' ? '-' : c.op === 'attrs' ? '~' : '+'}${c.path}`) : [];
  const f = last.failure;
  return {
    failureKind: f?.kind,
    status: f ? (f.kind === 'aborted' ? 'aborted' : 'failed') : 'succeeded',
    exitCode: last.res?.exitCode ?? (f ? 255 : 0),
    reason: f?.reason ?? null,
    changes,
    stderrTail: last.stderr ? tail(last.stderr.trim()) : null,
    attempts,
    durationMs: Date.now() - started,
  };
}

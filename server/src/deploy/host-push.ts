// One host push: lease an SSH connection, run rsync with a timeout that kills the process group, retry transient failures.
import type { Logger } from 'pino';
import { runCommand, type RunResult } from '../util/exec.js';
import { SshConnectionError, type Lease, type SshConnections } from '../ssh/connections.js';
import { classifyRsync, type Failure } from '../ssh/failure.js';
import type { Metrics } from '../metrics.js';
import { toNulList } from './file-list.js';
import { PROBE_SCRIPT, differingPaths, parseProbe, probeable, type Expected } from './probe.js';
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
  /** Probe a warm host first (see probe.ts): the list's entries and what they must be. */
  probe?: { entries: string[]; expected(): Promise<Map<string, Expected>>; metrics?: Metrics };
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

const tail = (s: string, n = 2000) => (s.length > n ? s.slice(-n) : s);

interface Attempt { failure?: Failure; res?: RunResult; stderr: string }

type Verdict = { kind: 'in_sync' } | { kind: 'differs'; paths: string[] } | { kind: 'unknown' } | { kind: 'timeout' };

/** Ask a warm host's shell which listed paths differ; anything unexpected means "unknown" (rsync everything). */
async function probeHost(o: HostPushOptions, lease: Lease): Promise<Verdict> {
  const p = o.probe!;
  if (!probeable(p.entries)) return { kind: 'unknown' };
  const expected = await p.expected();
  const shell = o.ssh.shells.get(lease.dest, lease.sshArgs);
  const a = await shell.run(PROBE_SCRIPT, p.entries, o.timeoutSeconds * 1000);
  if (!a.ok) return { kind: a.reason === 'timeout' ? 'timeout' : 'unknown' };
  const observed = a.exitCode === 0 ? parseProbe(a.stdout) : undefined;
  if (!observed) return { kind: 'unknown' };
  const paths = differingPaths(expected, observed, o.plan.owner, o.plan.group);
  return paths.length ? { kind: 'differs', paths } : { kind: 'in_sync' };
}

const nothingToDo = (): RunResult => ({ exitCode: 0, signal: null, timedOut: false, aborted: false, durationMs: 0, stdout: '', stderr: '' });

async function attempt(o: HostPushOptions): Promise<Attempt> {
  let lease;
  try {
    lease = await o.ssh.lease(o.target, o.log, o.signal);
  } catch (err) {
    if (err instanceof SshConnectionError) return { failure: err.failure, stderr: err.stderr };
    throw err;
  }
  try {
    let fileList = o.plan.fileList;
    let stdin: string | undefined;
    if (o.probe && lease.warm) {
      const v = await probeHost(o, lease);
      o.probe.metrics?.probes.inc({ result: v.kind });
      o.log.debug({ probe: v.kind, paths: v.kind === 'differs' ? v.paths.length : undefined }, 'probed');
      if (v.kind === 'in_sync') return { res: nothingToDo(), stderr: '' };
      if (v.kind === 'timeout') return { failure: { kind: 'timeout', reason: `timeout: the host did not answer within ${o.timeoutSeconds} s`, transient: true }, stderr: '' };
      if (v.kind === 'differs') { fileList = '-'; stdin = toNulList(v.paths); }
    }
    const args = buildRsyncArgs({ ...o.plan, fileList, sshArgs: lease.sshArgs, user: lease.dest.user, host: lease.dest.host });
    const res = await runCommand('rsync', args, { timeoutMs: o.timeoutSeconds * 1000, signal: o.signal, log: o.log, stdin });
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

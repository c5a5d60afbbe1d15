// One host push: lease an SSH connection, probe the host (when asked), run rsync (one pass per owner) with a timeout that
// kills the process group, retry transient failures.
import type { Logger } from 'pino';
import { tailText, type RunResult } from '../util/exec.js';
import { sleep } from '../util/sleep.js';
import { SshConnectionError, type Lease, type SshConnections } from '../ssh/connections.js';
import { classifyRsync, classifySsh, type Failure } from '../ssh/failure.js';
import type { Metrics } from '../metrics.js';
import { toNulList } from './file-list.js';
import type { OwnerPass } from './owner-passes.js';
import type { Launcher } from '../util/launcher.js';
import { PROBE_SCRIPT, differingPaths, parseProbe, probeable, type Expected } from './probe.js';
import type { SshTarget } from '../ssh/options.js';
import type { HostPushResult } from '../db/deployments.js';
import { buildRsyncArgs, parseItemized, type RsyncPlan } from './rsync.js';

export interface HostPushOptions {
  ssh: SshConnections;
  /** Starts rsync (see util/launcher.ts). */
  launcher: Launcher;
  target: SshTarget;
  /** rsync settings, and the list split in passes by owner/group (owner-passes.ts). */
  plan: Omit<RsyncPlan, 'sshArgs' | 'user' | 'host' | 'fileList' | 'owner' | 'group'> & { passes: OwnerPass[] };
  timeoutSeconds: number;
  retries: number;
  backoffSeconds: number;
  signal: AbortSignal;
  log: Logger;
  /** Probe the host first (see probe.ts): what each listed path must be. */
  probe?: { expected(): Promise<Map<string, Expected>>; metrics?: Metrics };
}

interface Attempt { failure?: Failure; res?: RunResult; stderr: string }

type Verdict = { kind: 'in_sync' } | { kind: 'differs'; paths: string[] } | { kind: 'unknown' } | { kind: 'timeout' } | { kind: 'failed'; failure: Failure; stderr: string };

/**
 * Ask the host's shell which listed paths differ; anything unexpected means "unknown" (rsync everything).
 * On a cold host the shell's ssh opens the master; if that connection fails, the failure is the host's
 * (classified like any ssh failure), not a reason to try again with rsync.
 */
async function probeHost(o: HostPushOptions, lease: Lease): Promise<Verdict> {
  const entries = o.plan.passes.flatMap((p) => p.entries);
  if (!probeable(entries)) return { kind: 'unknown' };
  const expected = await o.probe!.expected();
  const shell = o.ssh.shells.get(lease.dest, lease.sshArgs);
  const a = await shell.run(PROBE_SCRIPT, entries, o.timeoutSeconds * 1000);
  if (!a.ok && a.reason === 'closed') {
    const { exitCode, stderr } = shell.ended;
    const failure = exitCode === 255 ? classifySsh({ exitCode, stderr, timedOut: false }) : undefined;
    return failure ? { kind: 'failed', failure, stderr } : { kind: 'unknown' };
  }
  if (!a.ok) return { kind: a.reason === 'timeout' ? 'timeout' : 'unknown' };
  const observed = a.exitCode === 0 ? parseProbe(a.stdout) : undefined;
  if (!observed) return { kind: 'unknown' };
  const paths = o.plan.passes.flatMap((p) => differingPaths(expected, observed, p.owner, p.group, p.entries));
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
    let passes = o.plan.passes;
    if (o.probe) {
      const v = await probeHost(o, lease);
      o.probe.metrics?.probes.inc({ result: v.kind });
      o.log.debug({ probe: v.kind, paths: v.kind === 'differs' ? v.paths.length : undefined }, 'probed');
      if (v.kind === 'in_sync') return { res: nothingToDo(), stderr: '' };
      if (v.kind === 'timeout') return { failure: { kind: 'timeout', reason: `timeout: the host did not answer within ${o.timeoutSeconds} s`, transient: true }, stderr: '' };
      if (v.kind === 'failed') return { failure: v.failure, stderr: v.stderr };
      if (v.kind === 'differs') {
        const differs = new Set(v.paths);
        passes = passes.map((p) => ({ ...p, entries: p.entries.filter((e) => differs.has(e)) }));
      }
    }
    // The unit-level pass always runs when not probed (it may be empty only when the unit is); rule passes when they list something.
    const deadline = Date.now() + o.timeoutSeconds * 1000;
    let out = '';
    let last: RunResult = nothingToDo();
    for (const [i, p] of passes.entries()) {
      if (p.entries.length === 0 && (i > 0 || passes !== o.plan.passes)) continue;
      const args = buildRsyncArgs({ ...o.plan, remotePrefix: i === 0 ? o.plan.remotePrefix : undefined, owner: p.owner, group: p.group, fileList: '-', sshArgs: lease.sshArgs, user: lease.dest.user, host: lease.dest.host });
      last = await o.launcher.run('rsync', args, { timeoutMs: Math.max(1000, deadline - Date.now()), signal: o.signal, log: o.log, stdin: toNulList(p.entries) });
      out += last.stdout;
      const failure = classifyRsync(last, o.timeoutSeconds);
      if (failure) return { res: { ...last, stdout: out }, failure, stderr: last.stderr };
    }
    return { res: { ...last, stdout: out }, stderr: last.stderr };
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
    stderrTail: last.stderr ? tailText(last.stderr.trim()) : null,
    attempts,
    durationMs: Date.now() - started,
  };
}

// One host push: lease an SSH connection, probe the host (when asked), write a few small differences through its
// shell or run rsync (one pass per owner) with a timeout that kills the process group, retry transient failures.
import { randomBytes } from 'node:crypto';
import { tailText, type RunResult } from '../util/exec.js';
import { sleep } from '../util/sleep.js';
import { SshConnectionError, type Lease } from '../ssh/connections.js';
import { classifyRsync, type Failure } from '../ssh/failure.js';
import { toNulList } from './file-list.js';
import type { OwnerPass } from './owner-passes.js';
import { PROBE_STAT_SCRIPT, PROBE_SUM_SCRIPT, addSums, differingPaths, parseStat, probeable, regularFiles, statFormat, type Expected, type Observed } from './probe.js';
import { parseShellWrite, planShellWrite, shellWriteScript, type Differing, type WriteOp } from './shell-write.js';
import type { HostPushResult } from '../db/deployments.js';
import { buildRsyncArgs, parseItemized } from './rsync.js';
import { splitCheck } from './host-prepare.js';
import { left, shellTrouble, timeoutFailure, type Attempt, type HostPushOptions } from './host-attempt.js';
import { asksVersion, checkOutcome, checkRide, prepareHost } from './host-check.js';

export type { HostPushOptions } from './host-attempt.js';

/** rsync's itemized output of a big unit (tens of bytes a file) must not be cut: it is the record of the push. */
const RSYNC_MAX_OUTPUT = 16 * 1024 * 1024;

type Verdict = { kind: 'in_sync' } | { kind: 'differs'; paths: string[]; differing: Differing[]; expected: Map<string, Expected>; observed: Map<string, Observed> }
  | { kind: 'unknown' } | { kind: 'timeout' } | { kind: 'failed'; failure: Failure; stderr: string }
  | { kind: 'unsafe' }; // a directory is not a real one (the host check says why) or is missing (it creates it)

/**
 * Ask the host's shell which listed paths differ; anything unexpected means "unknown" (rsync everything).
 * On a cold host the shell's ssh opens the master; if that connection fails, the failure is the host's
 * (classified like any ssh failure), not a reason to try again with rsync.
 */
async function probeHost(o: HostPushOptions, lease: Lease, deadline: number, dirs: string[]): Promise<Verdict> {
  const entries = o.plan.passes.flatMap((p) => p.entries);
  if (!probeable([...entries, ...dirs])) return dirs.length ? { kind: 'unsafe' } : { kind: 'unknown' };
  const expected = await o.probe!.expected();
  const shell = o.ssh.shells.get(lease.dest, lease.sshArgs);
  const names = o.plan.passes.some((p) => [p.owner, p.group].some((x) => x !== undefined && !/^\d+$/.test(x)));
  const a = await shell.run(PROBE_STAT_SCRIPT, [statFormat(names), ...entries, ...dirs], left(deadline), o.signal);
  if (!a.ok) {
    // With directories to check, "unknown" must not mean "rsync everything": the full check runs first.
    const t = shellTrouble(shell, a.reason);
    return t.kind === 'unknown' && dirs.length ? { kind: 'unsafe' } : t;
  }
  const observed = a.exitCode === 0 ? parseStat(a.stdout) : undefined;
  if (!observed) return dirs.length ? { kind: 'unsafe' } : { kind: 'unknown' };
  // stat does not follow the last component: a link or a file where a directory must be shows as such.
  if (dirs.some((d) => observed.has(d) && observed.get(d)!.type !== 'directory')) return { kind: 'unsafe' };
  const needed = new Set(o.transfer.dirs);
  if (dirs.some((d) => needed.has(d) && !observed.has(d))) return { kind: 'unsafe' };
  for (const d of dirs) observed.delete(d); // a directory is never an entry: the comparison is of entries only
  const regular = regularFiles(observed);
  if (regular.length) {
    const b = await shell.run(PROBE_SUM_SCRIPT, regular, left(deadline), o.signal);
    if (!b.ok) return shellTrouble(shell, b.reason);
    if (b.exitCode !== 0 || !addSums(observed, b.stdout)) return { kind: 'unknown' };
  }
  const differing = o.plan.passes.flatMap((p) => differingPaths(expected, observed, p.owner, p.group, p.entries).map((path) => ({ path, owner: p.owner, group: p.group })));
  return differing.length ? { kind: 'differs', paths: differing.map((d) => d.path), differing, expected, observed } : { kind: 'in_sync' };
}

type Written = { kind: 'done' | 'partial'; changes: string[] } | Extract<Verdict, { kind: 'timeout' | 'failed' | 'unknown' }>;

/** Make the probed differences through the host's shell; 'partial' and 'unknown' leave the rest to rsync. */
async function writeThroughShell(o: HostPushOptions, lease: Lease, ops: WriteOp[], deadline: number): Promise<Written> {
  const { script, args } = await shellWriteScript(ops, { sourceDir: o.plan.sourceDir, backupDir: o.plan.backupDir, tag: randomBytes(6).toString('hex'), prefix: o.plan.remotePrefix });
  const shell = o.ssh.shells.get(lease.dest, lease.sshArgs);
  const a = await shell.run(script, args, left(deadline), o.signal);
  if (!a.ok) return shellTrouble(shell, a.reason);
  return { kind: a.exitCode === 0 ? 'done' : 'partial', changes: parseShellWrite(a.stdout) };
}

const nothingToDo = (): RunResult => ({ exitCode: 0, signal: null, timedOut: false, aborted: false, durationMs: 0, stdout: '', stderr: '' });

/** What is left for rsync once the probe (and the shell) had their go; `done`: nothing, this is the attempt's result. */
type Ahead = { done: Attempt } | { passes: OwnerPass[]; changes: string[]; prefixRan: boolean };

/** dirs: the directories to check in the same question (when the host check did not run before the probe). */
async function probeAndWrite(o: HostPushOptions, probe: NonNullable<HostPushOptions['probe']>, lease: Lease, deadline: number, dirs: string[]): Promise<Ahead> {
  const v = await probeHost(o, lease, deadline, dirs);
  probe.metrics?.probes.inc({ result: v.kind });
  o.log.debug({ probe: v.kind, paths: v.kind === 'differs' ? v.paths.length : undefined }, 'probed');
  if (v.kind === 'unsafe') {
    // The host check names what is wrong and refuses (or, if it was put right meanwhile, rsync does the rest).
    const prep = await prepareHost(o, lease, deadline, true);
    return 'done' in prep ? { done: prep.done } : { passes: o.plan.passes, changes: prep.changes, prefixRan: false };
  }
  if (v.kind === 'in_sync') return { done: { res: nothingToDo(), stderr: '' } };
  if (v.kind === 'timeout') return { done: { failure: timeoutFailure(o), stderr: '' } };
  if (v.kind === 'failed') return { done: { failure: v.failure, stderr: v.stderr } };
  if (v.kind === 'unknown') return { passes: o.plan.passes, changes: [], prefixRan: false };
  let changes: string[] = [];
  let prefixRan = false;
  const ops = probe.shellWrites && !o.plan.dryRun ? planShellWrite(v.differing, v.expected, v.observed) : undefined;
  if (ops) {
    const w = await writeThroughShell(o, lease, ops, deadline);
    probe.metrics?.shellWrites.inc({ result: w.kind });
    o.log.debug({ shellWrite: w.kind, ops: ops.length }, 'wrote through the shell');
    if (w.kind === 'done') return { done: { res: nothingToDo(), changes: w.changes, stderr: '' } };
    if (w.kind === 'timeout') return { done: { failure: timeoutFailure(o), stderr: '' } };
    if (w.kind === 'failed') return { done: { failure: w.failure, stderr: w.stderr } };
    if (w.kind === 'partial') { changes = w.changes; prefixRan = true; }
  }
  const differs = new Set(v.paths);
  return { passes: o.plan.passes.map((p) => ({ ...p, entries: p.entries.filter((e) => differs.has(e)) })), changes, prefixRan };
}

async function attempt(o: HostPushOptions, deadline: number): Promise<Attempt> {
  let lease;
  try {
    lease = await o.ssh.lease(o.target, o.log, o.signal);
  } catch (err) {
    if (err instanceof SshConnectionError) return { failure: err.failure, stderr: err.stderr };
    throw err;
  }
  try {
    // deploy.hostTimeout covers the whole host push: every attempt, its connection, check, probe, shell writes and rsync passes.
    // The host check runs first, unless all it would do is look at directories and the probe can ask for
    // those in its own question (one round trip less for a warm host).
    // Not probed (a cold host): the check rides on rsync's first pass, in its session (checkRide).
    const probing = o.probe && (lease.warm || o.probe.cold);
    const t = o.transfer;
    const ride = probing ? undefined : checkRide(o);
    const checkFirst = ride === undefined && (!probing || asksVersion(o) || t.removals.length + t.replace.length + t.clear.length + (o.dirs?.prune.length ?? 0) > 0);
    const prep = checkFirst ? await prepareHost(o, lease, deadline) : { changes: [] };
    if ('done' in prep) return prep.done;
    let ahead: Ahead = { passes: o.plan.passes, changes: [], prefixRan: false };
    if (probing) ahead = await probeAndWrite(o, o.probe!, lease, deadline, checkFirst ? [] : t.checkDirs);
    if ('done' in ahead) return { ...ahead.done, changes: [...prep.changes, ...(ahead.done.changes ?? [])] };
    const { passes, prefixRan } = ahead;
    const changes = [...prep.changes, ...ahead.changes];
    // The unit-level pass always runs when not probed (it may be empty only when the unit is); rule passes when they list something.
    let out = '';
    let last: RunResult = nothingToDo();
    for (const [i, p] of passes.entries()) {
      if (p.entries.length === 0 && (i > 0 || passes !== o.plan.passes)) continue;
      const prefixes = [i === 0 && !prefixRan ? o.plan.remotePrefix : undefined, i === 0 ? ride : undefined].filter(Boolean);
      const remotePrefix = prefixes.length ? prefixes.join(' ') : undefined;
      const args = buildRsyncArgs({ ...o.plan, remotePrefix, rsyncPath: o.rsync.path, owner: p.owner, group: p.group, fileList: '-', sshArgs: lease.sshArgs, user: lease.dest.user, host: lease.dest.host });
      last = await o.launcher.run('rsync', args, { timeoutMs: left(deadline), signal: o.signal, log: o.log, stdin: toNulList(p.entries), maxOutputBytes: RSYNC_MAX_OUTPUT });
      if (i === 0 && ride !== undefined) {
        // The check's records come first on stderr; without them the connection failed before it ran.
        const checked = splitCheck(last.stderr);
        last = { ...last, stderr: checked.rest };
        if (checked.answer) {
          const outcome = checkOutcome(o, checked.answer, checked.exitCode);
          if ('done' in outcome) return { ...outcome.done, changes: [...changes, ...(outcome.done.changes ?? [])] };
          changes.unshift(...outcome.changes);
        }
      }
      out += last.stdout;
      const failure = classifyRsync(last, o.timeoutSeconds);
      if (failure) return { res: { ...last, stdout: out }, changes, failure, stderr: last.stderr };
    }
    return { res: { ...last, stdout: out }, changes, stderr: last.stderr };
  } finally {
    lease.release();
  }
}

/** What an attempt changed on the host: the shell's records, then rsync's itemized lines (+path, ~path, -path). */
function changesOf(a: Attempt): string[] {
  const byRsync = a.res ? parseItemized(a.res.stdout).filter((c) => c.op !== 'dir').map((c) => `${c.op === 'deleted' ? '-' : c.op === 'attrs' ? '~' : '+'}${c.path}`) : [];
  return [...(a.changes ?? []), ...byRsync];
}

/**
 * Push to one host; never throws for a failed push (that is a recorded result). The changes are those of
 * every attempt: an attempt that failed after changing files (a connection reset half-way) leaves them
 * changed, and its retry finds them in place; the hooks and the restore must still know them.
 */
export async function pushHost(o: HostPushOptions): Promise<HostPushResult & { failureKind?: string }> {
  const started = Date.now();
  let last: Attempt = { stderr: '' };
  let attempts = 0;
  const made = new Map<string, string>(); // path → its change; a write or removal outranks an attribute change
  const deadline = started + o.timeoutSeconds * 1000;
  for (let i = 0; i <= o.retries; i++) {
    if (o.signal.aborted) break;
    attempts++;
    last = await attempt(o, deadline);
    if (Date.now() >= deadline && last.failure?.transient) last.failure = timeoutFailure(o);
    for (const c of changesOf(last)) if (!/^[+-]/.test(made.get(c.slice(1)) ?? '')) made.set(c.slice(1), c);
    // A timeout is not retried: the deadline covers the whole push, and a host that hangs would hang again.
    if (!last.failure || !last.failure.transient || last.failure.kind === 'timeout' || i === o.retries) break;
    if (Date.now() + o.backoffSeconds * 1000 * 2 ** i >= deadline) break;
    o.log.warn({ attempt: attempts, kind: last.failure.kind, changed: made.size }, 'host push failed, retrying');
    await sleep(o.backoffSeconds * 1000 * 2 ** i, o.signal);
  }
  if (o.signal.aborted && attempts === 0) {
    return { status: 'aborted', exitCode: null, reason: 'aborted: the server is shutting down', changes: [], stderrTail: null, attempts, durationMs: Date.now() - started };
  }
  const f = last.failure;
  return {
    failureKind: f?.kind,
    status: f ? (f.kind === 'aborted' ? 'aborted' : 'failed') : 'succeeded',
    exitCode: last.res?.exitCode ?? (f ? 255 : 0),
    reason: f?.reason ?? null,
    changes: [...made.values()],
    stderrTail: last.stderr ? tailText(last.stderr.trim()) : null,
    attempts,
    durationMs: Date.now() - started,
  };
}

// Collect one host over SSH: lease the deploy path's connection (ControlMaster), run the collector with `sh -s`,
// validate what it printed. Never throws for a host problem: that is a recorded result.
import type { Logger } from 'pino';
import { SshConnectionError, type SshConnections } from '../ssh/connections.js';
import { classifySsh } from '../ssh/failure.js';
import { sshHost, type SshTarget } from '../ssh/options.js';
import { AppError } from '../errors.js';
import { parseReport, type AgentReport } from './report-schema.js';

export interface SshCollectOptions {
  ssh: SshConnections;
  target: SshTarget;
  script: string;
  timeoutSeconds: number;
  maxReportBytes: number;
  signal: AbortSignal;
  log: Logger;
}

export type SshCollectOutcome =
  | { ok: true; report: AgentReport; durationMs: number; stderrTail: string | null }
  | { ok: false; aborted: boolean; kind: string; reason: string; exitCode: number | null; stderrTail: string | null; durationMs: number };

const tail = (s: string, n = 2000) => {
  const t = s.trim();
  return t ? (t.length > n ? t.slice(-n) : t) : null;
};

export async function collectOverSsh(o: SshCollectOptions): Promise<SshCollectOutcome> {
  const started = Date.now();
  const fail = (kind: string, reason: string, exitCode: number | null = null, stderr = '', aborted = false): SshCollectOutcome =>
    ({ ok: false, aborted, kind, reason, exitCode, stderrTail: tail(stderr), durationMs: Date.now() - started });
  let lease;
  try {
    lease = await o.ssh.lease(o.target, o.log);
  } catch (err) {
    if (err instanceof SshConnectionError) return fail(err.failure.kind, err.failure.reason, 255, err.stderr);
    return fail('invalid_target', (err as Error).message);
  }
  try {
    const remaining = Math.max(1000, o.timeoutSeconds * 1000 - (Date.now() - started));
    // The remote command is a constant (and the timeout a number); the script comes on stdin, so nothing from the
    // inventory reaches a shell. timeout(1) on the host ends a hung collector there: over a shared ControlMaster
    // connection, killing our local ssh does not end the remote session, and the master keeps our stderr open.
    const remote = `sh -c 'if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 "$0" sh -s -- --via ssh; else exec sh -s -- --via ssh; fi' ${Math.ceil(remaining / 1000)}`;
    const pending = o.ssh.launcher.run('ssh', [...lease.sshArgs, sshHost(lease.dest), remote], {
      stdin: o.script, timeoutMs: remaining + 5000, signal: o.signal, maxOutputBytes: o.maxReportBytes + 1, log: o.log,
    });
    // If even that fails (a process stuck in the kernel), give up on the session after a grace: the slot is freed,
    // and the session ends when the master connection is closed (idle expiry or shutdown).
    const res = await settleWithin(pending, remaining + 10_000, o.signal);
    if (res === 'stuck') return fail('timeout', `timeout: no answer within ${o.timeoutSeconds} s and the SSH session could not be ended`, null, '', o.signal.aborted);
    if (res.exitCode === 124 || res.exitCode === 137) {
      return fail('timeout', `timeout: the collector did not finish within ${o.timeoutSeconds} s (ended on the host)`, res.exitCode, res.stderr);
    }
    const failure = classifySsh(res, o.timeoutSeconds);
    if (failure) {
      const reason = failure.kind === 'remote_command_failed' ? `the collector exited with code ${res.exitCode}` : failure.reason;
      return fail(failure.kind, reason, res.exitCode, res.stderr, failure.kind === 'aborted');
    }
    if (Buffer.byteLength(res.stdout) > o.maxReportBytes) return fail('invalid_report', `the collector printed more than agents.maxReportBytes (${o.maxReportBytes} bytes)`, 0, res.stderr);
    let json: unknown;
    try {
      json = JSON.parse(res.stdout);
    } catch (err) {
      return fail('invalid_report', `the collector did not print valid JSON: ${(err as Error).message}`, 0, res.stderr);
    }
    try {
      return { ok: true, report: parseReport(json), durationMs: Date.now() - started, stderrTail: tail(res.stderr) };
    } catch (err) {
      if (err instanceof AppError) return fail('invalid_report', err.message, 0, res.stderr);
      throw err;
    }
  } finally {
    lease.release();
  }
}

/** The promise's value, or 'stuck' once ms have passed (or 5 s after an abort). */
function settleWithin<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<T | 'stuck'> {
  return new Promise((resolve, reject) => {
    const done = () => { clearTimeout(timer); clearTimeout(abortTimer); signal.removeEventListener('abort', onAbort); };
    const timer = setTimeout(() => { done(); resolve('stuck'); }, ms);
    let abortTimer: NodeJS.Timeout | undefined;
    const onAbort = () => { abortTimer = setTimeout(() => { done(); resolve('stuck'); }, 5000); };
    if (signal.aborted) onAbort(); else signal.addEventListener('abort', onAbort, { once: true });
    p.then((v) => { done(); resolve(v); }, (e) => { done(); reject(e); });
  });
}

// runCommand: spawn without a shell, explicit env, capped output, timeout/abort → SIGTERM to the group → SIGKILL.
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Bytes of stdout/stderr kept (the tail). */
  maxOutputBytes?: number;
  stdin?: string | Buffer;
  log?: Logger;
  /** Grace between SIGTERM and SIGKILL. */
  killGraceMs?: number;
}

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
}

/** A minimal environment for child processes: no secrets of ours leak into rsync/ssh/git. */
export function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
  if (process.env.HOME) env.HOME = process.env.HOME;
  return { ...env, ...extra };
}

/** The last n characters of a text (stderr tails in records). */
export const tailText = (s: string, n = 2000): string => (s.length > n ? s.slice(-n) : s);

/** The last max bytes of some output chunks, as text. */
export function keepTail(chunks: Buffer[], max: number): string {
  const all = Buffer.concat(chunks);
  return (all.length > max ? all.subarray(all.length - max) : all).toString('utf8');
}

let execSeq = 0;

/** Resolves when the process ends (any exit code); rejects only if it cannot be spawned. */
export function runCommand(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const max = opts.maxOutputBytes ?? 64 * 1024;
  const started = Date.now();
  const execId = ++execSeq;
  opts.log?.debug({ execId, file, args }, 'exec');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      shell: false,
      // Own session and process group, so a timeout kills the whole tree. Not for ssh and rsync: they start from
      // the launcher (util/launcher.ts) in our session, as a new session is also a new scheduler autogroup on
      // Linux (50 cold handshakes each in its own: ≈12% more CPU, see README).
      detached: true,
      env: opts.env ?? baseEnv(),
      cwd: opts.cwd,
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    // Keep at most ~2×max bytes in memory: drop old chunks once over the cap.
    const push = (arr: Buffer[], chunk: Buffer, len: number): number => {
      arr.push(chunk);
      len += chunk.length;
      while (len - arr[0]!.length > max && arr.length > 1) len -= arr.shift()!.length;
      return len;
    };
    child.stdout!.on('data', (c: Buffer) => { outLen = push(out, c, outLen); });
    child.stderr!.on('data', (c: Buffer) => { errLen = push(err, c, errLen); });
    if (opts.stdin !== undefined) {
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.stdin);
    }
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const terminate = () => {
      if (child.pid === undefined || child.exitCode !== null) return;
      const group = -child.pid;
      try { process.kill(group, 'SIGTERM'); } catch { /* already gone */ }
      killTimer = setTimeout(() => {
        try { process.kill(group, 'SIGKILL'); } catch { /* already gone */ }
      }, opts.killGraceMs ?? 5000);
      killTimer.unref();
    };
    const timer = opts.timeoutMs ? setTimeout(() => { if (!aborted) timedOut = true; terminate(); }, opts.timeoutMs) : undefined;
    const onAbort = () => { if (!timedOut) aborted = true; terminate(); };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    let settled = false;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      // The group may still hold children (ssh forked by rsync): make sure they die with it.
      if ((timedOut || aborted) && child.pid !== undefined) {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
      resolve({ exitCode, signal, timedOut, aborted, durationMs: Date.now() - started, stdout: keepTail(out, max), stderr: keepTail(err, max) });
    };
    child.on('close', finish);
    // An SSH master (ControlMaster) receives its mux clients' stdio descriptors and may keep our pipes open
    // after the process is gone (a hung remote command): once the process has exited, wait briefly for
    // the pipes, then stop reading and resolve.
    child.on('exit', (exitCode, signal) => {
      const drain = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(exitCode, signal);
      }, 1000);
      drain.unref();
      child.once('close', () => clearTimeout(drain));
    });
  });
}

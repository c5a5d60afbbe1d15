// A small long-lived `sh` that starts processes for us. fork() from the server copies the page tables of a
// ~150–250 MB process and blocks the event loop meanwhile (measured: 4–5 ms CPU per spawn at that size,
// ≈11 ms of blocked loop under load); the fan-out starts one rsync per host, so it forks from this shell
// instead (≈0.3 ms). Output goes to files (read once the process ended), arguments are shell-quoted.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { baseEnv, keepTail, type RunResult } from './exec.js';
import { removeFile } from './remove-file.js';
import { shellQuote } from './shell-quote.js';

export interface LaunchOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  stdin?: string | Buffer;
  maxOutputBytes?: number;
  killGraceMs?: number;
  log?: Logger;
}

interface Job { sh: ChildProcess; pid?: number; exit?: (code: number | null) => void; onPid?: () => void }

/** A shell keeps a small record per background job it started: start a fresh one after this many. */
const JOBS_PER_SHELL = 10_000;


export class Launcher {
  private sh: ChildProcess | null = null;
  private dir: string | null = null;
  private dirReady: Promise<string> | null = null;
  private buf = '';
  private seq = 0;
  private readonly jobs = new Map<number, Job>();
  private closed = false;
  private started = 0; // jobs on the current shell
  private readonly retired = new Set<ChildProcess>();

  /** dir: a private directory for the jobs' input and output files (default: a new one under the temp dir). */
  constructor(private readonly o: { dir?: string; log?: Logger } = {}) {}

  private get log(): Logger | undefined { return this.o.log; }

  private async start(): Promise<ChildProcess> {
    if (this.sh && this.sh.exitCode === null && !this.sh.killed) return this.sh;
    const sh = spawn('/bin/sh', ['-s'], { env: baseEnv(), stdio: ['pipe', 'pipe', 'ignore'] });
    sh.stdout!.setEncoding('utf8');
    sh.stdout!.on('data', (c: string) => this.onLines(c));
    sh.stdin!.on('error', () => undefined);
    sh.on('exit', () => {
      if (this.sh === sh) this.sh = null;
      // Jobs it was watching cannot report any more: they end as failed (their processes are killed).
      for (const [id, j] of this.jobs) {
        if (j.sh !== sh) continue;
        if (j.pid) { try { process.kill(j.pid, 'SIGKILL'); } catch { /* gone */ } }
        j.exit?.(null);
        this.jobs.delete(id);
      }
      if (!this.closed && !this.retired.has(sh)) this.log?.warn('process launcher exited; it is restarted on next use');
      this.retired.delete(sh);
    });
    this.sh = sh;
    this.started = 0;
    return sh;
  }

  private onLines(chunk: string): void {
    this.buf += chunk;
    let nl;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const [kind, id, value] = this.buf.slice(0, nl).split(' ');
      this.buf = this.buf.slice(nl + 1);
      const job = this.jobs.get(Number(id));
      if (!job) continue;
      if (kind === 'pid') { job.pid = Number(value); job.onPid?.(); }
      if (kind === 'exit') {
        this.jobs.delete(Number(id));
        job.exit?.(value === undefined || value === '' ? null : Number(value));
        this.retireIfDone(job.sh);
      }
    }
  }

  /** Once, before the first job (concurrent first jobs share it): a clean private directory. */
  private async prepareDir(): Promise<string> {
    if (this.o.dir) {
      await rm(this.o.dir, { recursive: true, force: true }); // files of a previous run
      await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    }
    this.dir = this.o.dir ?? await mkdtemp(join(tmpdir(), 'gitfleet-run-'));
    return this.dir;
  }

  /** An old shell with nothing running ends (its exit reports nothing: no job of its own is left). */
  private retireIfDone(sh: ChildProcess): void {
    if (sh !== this.sh || this.started < JOBS_PER_SHELL || [...this.jobs.values()].some((j) => j.sh === sh)) return;
    this.retired.add(sh);
    this.sh = null;
    sh.stdin!.end();
  }

  /** Like runCommand (no shell for the program itself: every word is quoted), resolving when it ends. */
  async run(file: string, args: string[], o: LaunchOptions = {}): Promise<RunResult> {
    if (this.closed) throw new Error('launcher closed');
    // Quoted first: a word the shell cannot carry (a NUL byte) fails here, before any job state exists.
    const cmd = [file, ...args].map(shellQuote).join(' ');
    const dir = await (this.dirReady ??= this.prepareDir());
    const id = ++this.seq;
    const base = join(dir, String(id));
    const started = Date.now();
    const max = o.maxOutputBytes ?? 64 * 1024;
    if (o.stdin !== undefined) await writeFile(`${base}.in`, o.stdin, { mode: 0o600 });
    // From here to the write below nothing waits: the job is on the shell it is written to.
    const sh = await this.start();
    const job: Job = { sh };
    this.jobs.set(id, job);
    this.started++;
    let timedOut = false;
    let aborted = false;
    const ended = new Promise<number | null>((resolve) => { job.exit = resolve; });
    const kill = (sig: NodeJS.Signals) => { if (job.pid) { try { process.kill(job.pid, sig); } catch { /* gone */ } } };
    let graceTimer: NodeJS.Timeout | undefined;
    const terminate = () => {
      const go = () => {
        kill('SIGTERM');
        graceTimer = setTimeout(() => kill('SIGKILL'), o.killGraceMs ?? 5000);
        graceTimer.unref();
      };
      if (job.pid) go(); else job.onPid = go;
    };
    const timer = o.timeoutMs ? setTimeout(() => { if (!aborted) timedOut = true; terminate(); }, o.timeoutMs) : undefined;
    const onAbort = () => { if (!timedOut) aborted = true; terminate(); };
    if (o.signal?.aborted) onAbort(); else o.signal?.addEventListener('abort', onAbort, { once: true });
    const input = o.stdin !== undefined ? shellQuote(`${base}.in`) : '/dev/null';
    // A subshell per job: it starts the program, reports its pid, waits for it and reports its exit status.
    // stderr first: if the shell cannot start it (missing input, no such program), its message is the job's stderr.
    sh.stdin!.write(`( exec 2>${shellQuote(`${base}.err`)}; ${cmd} <${input} >${shellQuote(`${base}.out`)} & c=$!; echo "pid ${id} $c"; wait "$c"; echo "exit ${id} $?" ) &\n`);
    o.log?.debug({ execId: id, file, args }, 'exec');
    const exitCode = await ended;
    if (timer) clearTimeout(timer);
    if (graceTimer) clearTimeout(graceTimer);
    o.signal?.removeEventListener('abort', onAbort);
    const [out, err] = await Promise.all(['out', 'err'].map((k) => readFile(`${base}.${k}`).catch(() => Buffer.alloc(0))));
    await Promise.all([...(o.stdin !== undefined ? ['in'] : []), 'out', 'err'].map((k) => removeFile(`${base}.${k}`)));
    return {
      exitCode, signal: null, timedOut, aborted, durationMs: Date.now() - started,
      stdout: keepTail([out!], max), stderr: exitCode === null ? `process launcher exited${err!.length ? `; ${keepTail([err!], max)}` : ''}` : keepTail([err!], max),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const sh = this.sh;
    if (sh && sh.exitCode === null) {
      sh.stdin!.end();
      await new Promise((r) => { sh.once('exit', r); setTimeout(r, 2000).unref(); });
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

// A small long-lived `sh` that starts processes for us. fork() from the server copies the page tables of a
// ~150–250 MB process and blocks the event loop meanwhile (measured: 4–5 ms CPU per spawn at that size,
// ≈11 ms of blocked loop under load); the fan-out starts one rsync per host, so it forks from this shell
// instead (≈0.3 ms). Output goes to files (read once the process ended), arguments are shell-quoted.
// A long-lived process with live pipes (a host's probe shell) talks through two FIFOs instead (open()).
import { spawn, type ChildProcess } from 'node:child_process';
import { close as closeFd, constants as fsc, open as openCb } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { promisify } from 'node:util';
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

/** A process started by open(): its stdin and stdout are live streams; stderr is kept in a file until it ends. */
export interface PipedProcess {
  readonly pid: number;
  readonly stdin: Socket;
  readonly stdout: Socket;
  /** When it ended: its exit status (null: killed by a signal, or the launcher died) and the tail of its stderr. */
  readonly ended: Promise<{ exitCode: number | null; stderr: string }>;
  kill(signal?: NodeJS.Signals): void;
}

const openFd = promisify(openCb);

/** Signal a job's process (if it has reported its pid); one that is gone already is fine. */
function signal(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try { process.kill(pid, sig); } catch { /* gone */ }
}

/** A shell keeps a small record per background job it started: start a fresh one after this many. */
const JOBS_PER_SHELL = 10_000;
/**
 * A job's subshell reports its exit just before it exits, and the shell reaps only when told (`jobs`): reap this
 * long after an exit, and again every REAP_MS while exits are recent, so no zombie outlives ~REAP_MS * 2.
 */
const REAP_MS = 100;
const REAP_WINDOW_MS = 600;


export class Launcher {
  private sh: ChildProcess | null = null;
  private dir: string | null = null;
  private dirReady: Promise<string> | null = null;
  private buf = '';
  private seq = 0;
  private fifoSeq = 0;
  private readonly jobs = new Map<number, Job>();
  private closed = false;
  private started = 0; // jobs on the current shell
  private readonly retired = new Set<ChildProcess>();
  private reapTimer: NodeJS.Timeout | undefined;
  private lastExit = 0;
  /** Ready FIFO pairs (`<base>.i`, `<base>.o`) for open(), made in batches. */
  private readonly fifoPool: string[] = [];
  private fifoBatch: Promise<void> | undefined;

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
        signal(j.pid, 'SIGKILL');
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
        this.scheduleReap();
      }
    }
  }

  /**
   * Have the shell reap its finished subshells soon (without it a finished job stays a zombie until the next job
   * starts: 1–2 under an idle server, a dozen in a storm). `jobs` waits for nothing: it only collects the dead.
   */
  private scheduleReap(): void {
    this.lastExit = Date.now();
    if (this.reapTimer) return;
    const tick = () => {
      this.reapTimer = undefined;
      const sh = this.sh;
      if (sh && sh.exitCode === null && sh.stdin!.writable) sh.stdin!.write('jobs >/dev/null\n');
      // A subshell that reported just now may not have exited yet: look again while exits are recent.
      if (Date.now() - this.lastExit < REAP_WINDOW_MS) {
        this.reapTimer = setTimeout(tick, REAP_MS);
        this.reapTimer.unref();
      }
    };
    this.reapTimer = setTimeout(tick, REAP_MS);
    this.reapTimer.unref();
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

  /**
   * A job on the shell: `body(cmd, base)` is the shell text that starts the program in the background (as the
   * subshell's `$!`); the subshell reports its pid, waits for it and reports its exit status.
   */
  private async submit(file: string, args: string[], body: (cmd: string, base: string) => string, stdin?: string | Buffer) {
    // Quoted first: a word the shell cannot carry (a NUL byte) fails here, before any job state exists.
    const cmd = [file, ...args].map(shellQuote).join(' ');
    const dir = await (this.dirReady ??= this.prepareDir());
    const id = ++this.seq;
    const base = join(dir, String(id));
    if (stdin !== undefined) await writeFile(`${base}.in`, stdin, { mode: 0o600 });
    // From here to the write below nothing waits: the job is on the shell it is written to.
    const sh = await this.start();
    const job: Job = { sh };
    this.jobs.set(id, job);
    this.started++;
    const ended = new Promise<number | null>((resolve) => { job.exit = resolve; });
    // `jobs` first: this shell never waits for anything, so without it every finished job would stay a zombie
    // (measured: 1,000 jobs, 1,000 zombies), each holding a process id and counting against the service's
    // task limit (systemd's TasksMax), until the shell is replaced; `jobs` reaps them without blocking.
    // stderr first: if the shell cannot start it (missing input, no such program), its message is the job's stderr.
    sh.stdin!.write(`jobs >/dev/null; ( exec 2>${shellQuote(`${base}.err`)}; ${body(cmd, base)} c=$!; echo "pid ${id} $c"; wait "$c"; echo "exit ${id} $?" ) &\n`);
    return { id, base, job, ended };
  }

  /** Like runCommand (no shell for the program itself: every word is quoted), resolving when it ends. */
  async run(file: string, args: string[], o: LaunchOptions = {}): Promise<RunResult> {
    if (this.closed) throw new Error('launcher closed');
    const started = Date.now();
    const max = o.maxOutputBytes ?? 64 * 1024;
    const input = (base: string) => (o.stdin !== undefined ? shellQuote(`${base}.in`) : '/dev/null');
    const { id, base, job, ended } = await this.submit(file, args, (cmd, b) => `${cmd} <${input(b)} >${shellQuote(`${b}.out`)} &`, o.stdin);
    let timedOut = false;
    let aborted = false;
    const kill = (sig: NodeJS.Signals) => signal(job.pid, sig);
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

  /**
   * Start a long-lived process whose stdin and stdout stay open to us: through two FIFOs the job makes (a shell
   * cannot pass us a pipe; see takeFifos). Our ends are opened without blocking: stdin read-write (Linux never blocks that open,
   * and the program's open of it completes at once), stdout read-only (no end-of-file until the program has
   * opened it and closed it again). Resolves once the program runs; `ended` when it exits.
   */
  async open(file: string, args: string[], o: { log?: Logger } = {}): Promise<PipedProcess> {
    if (this.closed) throw new Error('launcher closed');
    const fifo = await this.takeFifos();
    const { id, base, job, ended } = await this.submit(file, args, (cmd) => `${cmd} <${shellQuote(`${fifo}.i`)} >${shellQuote(`${fifo}.o`)} &`);
    o.log?.debug({ execId: id, file, args }, 'exec (piped)');
    const running = new Promise<boolean>((resolve) => {
      if (job.pid) resolve(true); else job.onPid = () => resolve(true);
      void ended.then(() => resolve(false));
    });
    const files = [`${fifo}.i`, `${fifo}.o`, `${base}.err`];
    const result = ended.then(async (exitCode) => {
      const err = await readFile(`${base}.err`).catch(() => Buffer.alloc(0));
      await Promise.all(files.map(removeFile));
      return { exitCode, stderr: keepTail([err], 4096) };
    });
    if (!(await running)) {
      const { exitCode, stderr } = await result;
      throw new Error(`could not start ${file} (exit ${exitCode})${stderr ? `: ${stderr.trim()}` : ''}`);
    }
    const pid = job.pid!;
    const kill = (sig: NodeJS.Signals = 'SIGTERM') => signal(pid, sig);
    // The program's redirections wait for our opens (a FIFO's open blocks until both ends are there), so it cannot
    // have ended before them unless killed: then the files are gone and the open fails.
    const fds: number[] = [];
    try {
      fds.push(await openFd(files[0]!, fsc.O_RDWR | fsc.O_NONBLOCK));
      fds.push(await openFd(files[1]!, fsc.O_RDONLY | fsc.O_NONBLOCK));
    } catch (err) {
      kill('SIGKILL');
      for (const fd of fds) await new Promise((r) => closeFd(fd, r));
      throw err;
    }
    const stdin = new Socket({ fd: fds[0]!, readable: false, writable: true });
    const stdout = new Socket({ fd: fds[1]!, readable: true, writable: false });
    // Once it ended nothing more can be written; its output ends when read (or soon, if a child it left holds the pipe).
    void result.then(() => {
      stdin.destroy();
      setTimeout(() => stdout.destroy(), 1000).unref();
    });
    return { pid, stdin, stdout, ended: result, kill };
  }

  /**
   * A FIFO pair for open(). They are made 32 pairs per mkfifo (a program start each time is ~1 ms of CPU, and a
   * warm push opens a shell per host); unused ones go with the run directory.
   */
  private async takeFifos(): Promise<string> {
    while (this.fifoPool.length === 0) {
      this.fifoBatch ??= this.makeFifos().finally(() => { this.fifoBatch = undefined; });
      await this.fifoBatch;
    }
    return this.fifoPool.pop()!;
  }

  private async makeFifos(): Promise<void> {
    const dir = await (this.dirReady ??= this.prepareDir());
    const bases = Array.from({ length: 32 }, () => join(dir, `fifo${++this.fifoSeq}`));
    const r = await this.run('mkfifo', ['-m', '600', ...bases.flatMap((b) => [`${b}.i`, `${b}.o`])]);
    if (r.exitCode !== 0) throw new Error(`cannot make FIFOs in ${dir}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
    this.fifoPool.push(...bases);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reapTimer) clearTimeout(this.reapTimer);
    const sh = this.sh;
    if (sh && sh.exitCode === null) {
      sh.stdin!.end();
      await new Promise((r) => { sh.once('exit', r); setTimeout(r, 2000).unref(); });
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

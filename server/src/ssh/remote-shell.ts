// One long-lived `sh` per host over its open master: a quick question to a warm host (the probe before a push)
// costs a write to a pipe instead of an ssh + remote shell + program start-up. Closed when idle, so the master's
// own idle timeout (ControlPersist) can run, and whenever anything about it looks wrong.
// Its ssh starts from the process launcher (util/launcher.ts): a cold drift check opens one per host, and a fork
// of the server blocks its event loop (measured: up to 0.85 s with 32 opened at once).
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { PipedProcess } from '../util/launcher.js';
import { shellQuote } from '../util/shell-quote.js';
import { sshHost, type Destination } from './options.js';

export type ShellAnswer = { ok: true; exitCode: number; stdout: Buffer } | { ok: false; reason: 'timeout' | 'closed' | 'too_large' | 'aborted' };

const MAX_OUTPUT = 16 * 1024 * 1024;

/** Starts a program with live stdin/stdout (Launcher.open). */
export type OpenProcess = (file: string, args: string[]) => Promise<PipedProcess>;

/** A `sh` reading commands from its stdin on the host; one request at a time. */
export class RemoteShell {
  private readonly marker = Buffer.from(`\n__gitfleet_${randomBytes(12).toString('hex')}__ `);
  private proc: PipedProcess | undefined;
  private buf: Buffer[] = [];
  private bufLen = 0;
  private waiting: ((a: ShellAnswer) => void) | undefined;
  private chain: Promise<unknown>;
  private dead = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private stderr = '';
  private exitCode: number | null = null;
  private exited = false; // the launcher reported its exit
  private eof = false; // its output ended

  /** sshArgs: a lease's options (with the control socket), so the shell rides on the host's master. */
  constructor(readonly dest: Destination, sshArgs: string[], private readonly idleMs: number, private readonly onGone: (s: RemoteShell) => void, open: OpenProcess, private readonly log?: Logger) {
    // `exec sh`: whatever the login shell is, requests are read by a POSIX sh with no profile.
    // Requests wait for it to start (they are chained after it).
    this.chain = open('ssh', [...sshArgs, sshHost(dest), '--', 'exec /bin/sh']).then((p) => this.attach(p), (err: Error) => {
      this.stderr = err.message;
      this.close();
    });
    this.armIdle();
  }

  private attach(p: PipedProcess): void {
    this.proc = p;
    // Its exit is known from the launcher; the output may still be in the pipe: closed once that is read, or
    // shortly after if something else (a master forked by this ssh) holds the pipe open.
    void p.ended.then(({ exitCode, stderr }) => {
      this.exitCode = exitCode;
      this.stderr = stderr;
      this.exited = true;
      if (this.eof) this.close(); else setTimeout(() => this.close(), 500).unref();
    });
    p.stdout.on('data', (c: Buffer) => this.onData(c));
    // End of output before the exit is known: wait for it (up to 2 s), so `ended` says why the shell closed.
    p.stdout.on('close', () => { this.eof = true; if (this.exited) this.close(); else setTimeout(() => this.close(), 2000).unref(); });
    p.stdout.on('error', () => this.close());
    p.stdin.on('error', () => this.close());
    if (this.dead) this.close(true); // closed while it was starting
  }

  get alive(): boolean { return !this.dead; }

  /** Why it ended (ssh's exit code and stderr), for a shell that closed before answering. */
  get ended(): { exitCode: number | null; stderr: string } { return { exitCode: this.exitCode, stderr: this.stderr }; }

  /**
   * Run `script` with `args` as $1.. in a subshell (stdin from /dev/null, stderr dropped) and return its stdout
   * and exit code. On a timeout the shell is closed: the caller falls back to its ordinary path. `signal`
   * (the server's kill at the end of its shutdown grace) closes it too: the remote command is cut off.
   */
  run(script: string, args: string[], timeoutMs: number, signal?: AbortSignal): Promise<ShellAnswer> {
    const next = this.chain.then(() => this.send(script, args, timeoutMs, signal));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private send(script: string, args: string[], timeoutMs: number, signal?: AbortSignal): Promise<ShellAnswer> {
    const proc = this.proc;
    if (signal?.aborted) return Promise.resolve({ ok: false, reason: 'aborted' });
    if (this.dead || !proc) return Promise.resolve({ ok: false, reason: 'closed' });
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const setArgs = args.length ? `set -- ${args.map(shellQuote).join(' ')}; ` : 'set --; ';
    const marker = this.marker.toString().slice(1);
    return new Promise<ShellAnswer>((resolve) => {
      const timer = setTimeout(() => { this.log?.warn({ host: this.dest.host, timeoutMs }, 'remote shell did not answer in time'); finish({ ok: false, reason: 'timeout' }); this.close(); }, timeoutMs);
      const onAbort = () => { finish({ ok: false, reason: 'aborted' }); this.close(); };
      signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (a: ShellAnswer) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiting = undefined;
        this.armIdle();
        resolve(a);
      };
      this.waiting = finish;
      proc.stdin.write(`( ${setArgs}${script}\n) </dev/null 2>/dev/null; printf '\\n%s%s\\n' ${shellQuote(marker)} "$?"\n`);
    });
  }

  private onData(c: Buffer): void {
    this.buf.push(c);
    this.bufLen += c.length;
    if (this.bufLen > MAX_OUTPUT) { this.waiting?.({ ok: false, reason: 'too_large' }); this.close(); return; }
    const all = Buffer.concat(this.buf);
    const at = all.indexOf(this.marker);
    if (at < 0) return;
    const nl = all.indexOf(0x0a, at + this.marker.length);
    if (nl < 0) return;
    const exitCode = Number(all.subarray(at + this.marker.length, nl).toString());
    const rest = all.subarray(nl + 1);
    this.buf = rest.length ? [rest] : [];
    this.bufLen = rest.length;
    const w = this.waiting;
    if (!w) { this.close(); return; } // output nobody asked for: the stream is not what we think it is
    w({ ok: true, exitCode, stdout: Buffer.from(all.subarray(0, at)) });
  }

  private armIdle(): void {
    if (this.dead) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.close(), this.idleMs);
    this.idleTimer.unref();
  }

  /** End the shell (EOF, then SIGTERM to ssh); idempotent (`again`: a process that arrived after the close). */
  close(again = false): void {
    if (this.dead && !again) return;
    this.dead = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.waiting?.({ ok: false, reason: 'closed' });
    const p = this.proc;
    if (p) {
      p.stdin.destroy(); // our end was the only writer: the remote sh reads end-of-file
      p.stdout.destroy();
      if (!this.exited) p.kill('SIGTERM');
    }
    if (!again) this.onGone(this);
  }
}

/** The hosts' shells, one per destination; a shell opened to a host without a master becomes its master. */
export class RemoteShells {
  private readonly shells = new Map<string, RemoteShell>();

  constructor(private readonly o: { idleMs: number; open: OpenProcess; log?: Logger }) {}

  private key(d: Destination): string { return `${d.user}@${d.host}:${d.port}`; }

  /** The open shell for a destination, or a new one over these (leased) ssh options. */
  get(dest: Destination, sshArgs: string[]): RemoteShell {
    const k = this.key(dest);
    const s = this.shells.get(k);
    if (s?.alive) return s;
    const shell = new RemoteShell(dest, sshArgs, this.o.idleMs, (gone) => { if (this.shells.get(k) === gone) this.shells.delete(k); }, this.o.open, this.o.log);
    this.shells.set(k, shell);
    return shell;
  }

  /** Close the shell of one destination (its master is being closed). */
  closeFor(dest: Destination): void { this.shells.get(this.key(dest))?.close(); }

  closeAll(): void { for (const s of [...this.shells.values()]) s.close(); }

  get openCount(): number { return this.shells.size; }
}

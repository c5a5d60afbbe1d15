// An in-memory stand-in for SSH and rsync (a benchmark tool, not server code): what a host push asks of the
// network — rsync runs, remote commands, the hosts' long-lived shells — is answered here, in this process, with the
// outputs the real programs give (rsync's itemized lines for the files it "sent", the host check's records, exit 0),
// so everything above it (planning, staging, host-push records, unit state) runs for real and only gitfleet's own
// bookkeeping is measured. Git and every other local program still go to the real launcher.
// Injected through startServer's `transport` option (server/src/boot.ts). No masters are kept (reuse off): every
// push takes the cold path, the host check riding on rsync's own command (host-prepare.ts checkPrefix).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Transport } from '../../server/src/boot.js';
import { PREPARE_SCRIPT, shellCheckScript } from '../../server/src/deploy/host-prepare.js';
import { SshConnections, type SshConnectionsOptions } from '../../server/src/ssh/connections.js';
import { Launcher, type LaunchOptions, type PipedProcess } from '../../server/src/util/launcher.js';
import type { RunResult } from '../../server/src/util/exec.js';
import { shCommand } from '../../server/src/util/shell-quote.js';

export const RSYNC_VERSION = 'rsync  version 3.2.7  protocol version 31';

/** One simulated host: the files pushed to it (path → content hash) and the directories it has. */
export interface MemoryHost { files: Map<string, string>; dirs: Set<string> }

/** What the stand-in answered (for assertions, and to show the bench measured real pushes). */
export interface MemoryStats { rsyncRuns: number; filesSent: number; remoteCommands: number; shellsOpened: number; shellRequests: number }

/**
 * PURE: the words of a POSIX shell text made by shellQuote (bare words, '…' and \' pieces), from `from`, up to
 * a word that `stop` accepts (not included) or the end; returns the words and where it stopped.
 */
export function shellWords(text: string, from: number, stop: (rest: string) => boolean): { words: string[]; end: number } {
  const words: string[] = [];
  let i = from;
  for (;;) {
    while (text[i] === ' ') i++;
    if (i >= text.length || stop(text.slice(i, i + 16))) return { words, end: i };
    let w = '';
    while (i < text.length && text[i] !== ' ' && text[i] !== ';' && text[i] !== '\n') {
      if (text[i] === "'") {
        const close = text.indexOf("'", i + 1);
        if (close < 0) throw new Error('unterminated quote in a remote command');
        w += text.slice(i + 1, close);
        i = close + 1;
      } else if (text[i] === '\\') {
        w += text[i + 1];
        i += 2;
      } else w += text[i++];
    }
    words.push(w);
  }
}

/** What remote-shell.ts puts before a request's marker. */
const PRINTF = "printf '\\n%s%s\\n' ";

const ok = (stdout: string, stderr = '', exitCode = 0): RunResult => ({ exitCode, signal: null, timedOut: false, aborted: false, durationMs: 0, stdout, stderr });

/** The host check (host-prepare.ts PREPARE_SCRIPT) against a simulated host: its records and exit status. */
function check(host: MemoryHost, args: string[]): { records: string; exitCode: number } {
  const [, dry, rv] = args;
  let out = rv ? `V${RSYNC_VERSION}\0` : '';
  const pairs: Array<[string, string]> = [];
  for (let i = 3; i + 1 < args.length; i += 2) pairs.push([args[i]!, args[i + 1]!]);
  for (const [t, p] of pairs) {
    if (t === 'X' && host.files.has(p)) {
      if (!dry) host.files.delete(p);
      out += `-${p}\0`;
    } else if (t === 'P' && !dry && host.dirs.delete(p)) out += `_${p}\0`;
  }
  if (!dry) for (const [t, p] of pairs) if (t === 'N' && !host.dirs.has(p)) { host.dirs.add(p); out += `/${p}\0`; }
  return { records: out, exitCode: 0 };
}

/** A `user@host:/` (or `user@[v6]:/`) destination's host. */
const hostOf = (dest: string) => dest.slice(dest.indexOf('@') + 1, dest.lastIndexOf(':')).replace(/^\[|\]$/g, '');

export class MemoryLauncher extends Launcher {
  readonly hosts = new Map<string, MemoryHost>();
  readonly stats: MemoryStats = { rsyncRuns: 0, filesSent: 0, remoteCommands: 0, shellsOpened: 0, shellRequests: 0 };
  /** The check's script as shCommand puts it on rsync's remote command (its arguments follow). */
  private readonly checkHead = shCommand(PREPARE_SCRIPT);
  private readonly sums = new Map<string, string | undefined>();

  constructor(private readonly real: Launcher) { super(); }

  host(ip: string): MemoryHost {
    let h = this.hosts.get(ip);
    if (!h) this.hosts.set(ip, (h = { files: new Map(), dirs: new Set() }));
    return h;
  }

  override async run(file: string, args: string[], o: LaunchOptions = {}): Promise<RunResult> {
    if (file === 'rsync') return this.rsync(args, o);
    if (file === 'ssh') {
      if (args.includes('-V')) return ok('', 'OpenSSH_9.2p1 (gitfleet in-memory transport)');
      this.stats.remoteCommands++;
      return ok('');
    }
    return this.real.run(file, args, o);
  }

  /** rsync --files-from - --out-format='%i %n' … -- SRC/ user@host:/ (host-push.ts), with the check riding on it. */
  private rsync(args: string[], o: LaunchOptions): RunResult {
    if (args.includes('--version')) return ok(`${RSYNC_VERSION}\nCopyright (C) 1996-2022 by Andrew Tridgell, Wayne Davison, and others.\n`);
    this.stats.rsyncRuns++;
    const sep = args.lastIndexOf('--');
    const source = args[sep + 1]!;
    const host = this.host(hostOf(args[sep + 2]!));
    const dry = args.includes('--dry-run');
    let stderr = '';
    const remote = args.find((a) => a.startsWith('--rsync-path='));
    const at = remote ? remote.indexOf(this.checkHead) : -1;
    if (at >= 0) {
      const { words } = shellWords(remote!, at + this.checkHead.length, (rest) => rest.startsWith('2>/dev/null'));
      const c = check(host, words);
      stderr = `@gitfleet-check@\n${c.records}\n@gitfleet-check-end ${c.exitCode}@\n`;
      if (c.exitCode !== 0) return ok('', stderr, c.exitCode);
    }
    const list = o.stdin === undefined ? '' : o.stdin.toString();
    let stdout = '';
    for (const path of list.split('\0')) {
      if (!path) continue;
      const sum = this.digest(source, path);
      if (sum === undefined) continue; // not in the staged tree (real rsync would say so on stderr)
      const was = host.files.get(path);
      if (was === sum) continue; // --checksum: the same content is not sent
      stdout += `${was === undefined ? '>f+++++++++' : '>fc.t......'} ${path}\n`;
      if (!dry) host.files.set(path, sum);
      this.stats.filesSent++;
    }
    return ok(stdout, stderr);
  }

  /** A staged file's content hash, read once per staged tree (not per host: the hosts' rsync would do that work). */
  private digest(source: string, path: string): string | undefined {
    const key = `${source}\0${path}`;
    if (this.sums.has(key)) return this.sums.get(key);
    let sum: string | undefined;
    try { sum = createHash('sha1').update(readFileSync(join(source, path))).digest('hex'); } catch { sum = undefined; }
    this.sums.set(key, sum);
    return sum;
  }

  /** A host's long-lived shell (ssh … -- 'exec /bin/sh'): requests as remote-shell.ts writes them, answered here. */
  override async open(file: string, args: string[], o: { log?: Logger } = {}): Promise<PipedProcess> {
    if (file !== 'ssh') return this.real.open(file, args, o);
    this.stats.shellsOpened++;
    const host = this.host(args[args.indexOf('--') - 1]!.replace(/^.*@/, '').replace(/^\[|\]$/g, ''));
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    let ended!: (r: { exitCode: number | null; stderr: string }) => void;
    const done = new Promise<{ exitCode: number | null; stderr: string }>((resolve) => { ended = resolve; });
    let buf = '';
    stdin.setEncoding('utf8');
    stdin.on('data', (c: string) => {
      buf += c;
      let end;
      while ((end = buf.indexOf('"$?"\n')) >= 0) {
        const req = buf.slice(0, end);
        buf = buf.slice(end + 5);
        stdout.write(this.answer(host, req));
      }
    });
    const finish = () => { ended({ exitCode: 0, stderr: '' }); stdout.end(); };
    stdin.on('finish', finish);
    stdin.on('close', finish);
    return { pid: 0, stdin: stdin as unknown as Socket, stdout: stdout as unknown as Socket, ended: done, kill: finish };
  }

  /**
   * One request `( set -- ARGS; SCRIPT\n) </dev/null 2>/dev/null; printf '\n%s%s\n' MARKER "$?"`: the host check is
   * answered as on a host; anything else (the probe) exits 1, which the push reads as "not known: rsync it all".
   */
  private answer(host: MemoryHost, req: string): string {
    this.stats.shellRequests++;
    const { words, end } = shellWords(req, req.indexOf('set --') + 6, (rest) => rest.startsWith(';'));
    const tail = req.lastIndexOf('\n) </dev/null');
    const script = req.slice(end + 2, tail);
    const marker = shellWords(req, req.indexOf(PRINTF) + PRINTF.length, () => false).words[0]!;
    const r = script === shellCheckScript() ? check(host, words) : script === 'true' ? { records: '', exitCode: 0 } : { records: '', exitCode: 1 };
    return `${r.records}\n${marker}${r.exitCode}\n`;
  }

  override async close(): Promise<void> { await this.real.close(); }
}

/**
 * The transport for startServer: the in-memory launcher over the real one (for git), and a real connection
 * manager with reuse off (no control sockets to look for) whose ssh and shells start from it.
 */
export function memoryTransport(onMade?: (l: MemoryLauncher) => void) {
  return (real: { launcher: Launcher; sshOptions: SshConnectionsOptions }): Transport => {
    const launcher = new MemoryLauncher(real.launcher);
    onMade?.(launcher);
    return { launcher, ssh: new SshConnections({ ...real.sshOptions, reuse: false, launcher }) };
  };
}

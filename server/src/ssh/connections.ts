// Connection manager: one OpenSSH master per host (ControlMaster), reused by every rsync and remote command,
// opened on first use, checked before use, capped (LRU closed first), closed on shutdown.
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { Launcher } from '../util/launcher.js';
import { processAlive } from '../util/process-alive.js';
import { removeFile } from '../util/remove-file.js';
import type { Failure } from './failure.js';
import { RemoteShells } from './remote-shell.js';
import { baseSshOptions, controlOptions, destinationOf, muxOptions, sshHost, type Destination, type SshSettings, type SshTarget } from './options.js';

export interface SshConnectionsOptions {
  settings: SshSettings;
  /** Private (0700) directory for control sockets. */
  controlDir: string;
  reuse: boolean;
  idleTimeoutSeconds: number;
  maxConnections: number;
  metrics: Metrics;
  log: Logger;
  /** Starts every ssh here: probe shells, remote commands, collectors, master control (util/launcher.ts). */
  launcher: Launcher;
}

/** pending: opened by its first ssh, which has not finished yet. */
interface Entry { dest: Destination; path: string; users: number; lastUsed: number; pending: boolean; startedAt: number }

/** What a caller uses to reach a host: ssh options (with the control socket when one is open). */
export interface Lease {
  dest: Destination;
  /** Options for ssh (and for rsync -e), ending with -p PORT; append the user@host yourself. */
  sshArgs: string[];
  /** The host's master was already open (this use pays no handshake). */
  warm: boolean;
  release(): void;
}

export class SshConnectionError extends Error {
  constructor(readonly failure: Failure, readonly stderr: string) {
    super(failure.reason);
  }
}

const shellIdleSeconds = (idleTimeout: number) => Math.min(30, Math.max(1, idleTimeout / 2));

/** Keep unix socket paths under the 104-byte limit: %C-like hash of the destination. */
export function socketName(d: Destination): string {
  return createHash('sha1').update(`${d.user}@${d.host}:${d.port}`).digest('hex').slice(0, 20);
}

export class SshConnections {
  private readonly entries = new Map<string, Entry>(); // insertion order = least recently used first
  /** Masters evicted under the cap, being stopped in the background: key → done. */
  private readonly stopping = new Map<string, Promise<void>>();
  private closed = false;
  private pruneTimer: NodeJS.Timeout | undefined;
  /** Long-lived shells over open masters; closed after half the idle timeout (≤ 30 s) so masters can expire. */
  readonly shells: RemoteShells;

  constructor(private readonly o: SshConnectionsOptions) {
    this.shells = new RemoteShells({ idleMs: shellIdleSeconds(o.idleTimeoutSeconds) * 1000, log: o.log, open: (file, args) => o.launcher.open(file, args, { log: o.log }) });
  }

  get settings(): SshSettings { return this.o.settings; }
  /** Starts every ssh that rides on these connections (util/launcher.ts). */
  get launcher(): Launcher { return this.o.launcher; }
  get openCount(): number { return this.entries.size; }

  /** Hosts (addresses as dialled) whose master is open: a cluster worker prefers their pushes (warm routing). */
  warmHosts(): Set<string> {
    return new Set([...this.entries.values()].filter((e) => !e.pending).map((e) => e.dest.host));
  }

  async init(): Promise<void> {
    await mkdir(this.o.controlDir, { recursive: true, mode: 0o700 });
    await this.closeLeftovers();
    if (this.o.reuse) {
      this.pruneTimer = setInterval(() => void this.prune(), 30_000);
      this.pruneTimer.unref();
    }
  }

  /**
   * Sockets left by a previous process (killed, or crashed): a master still listening on one holds its host
   * sessions open, and nothing else would ever close it (it is no child of ours and only ends when idle long
   * enough). End each live one (`-O exit`, then a kill if it lingers) before its socket goes; dead ones are removed.
   */
  private async closeLeftovers(): Promise<void> {
    const paths = (await readdir(this.o.controlDir)).map((f) => join(this.o.controlDir, f));
    const live = await Promise.all(paths.map((p) => this.alive(p, 'left by a previous process')));
    const masters = paths.filter((_, i) => live[i]);
    await Promise.all(paths.filter((_, i) => !live[i]).map((p) => rm(p, { force: true })));
    if (masters.length === 0) return;
    this.o.log.info({ count: masters.length }, 'closing ssh masters left by a previous process');
    await Promise.all(masters.map((p) => this.stopMaster(p).catch((err: unknown) => this.o.log.warn({ err, socket: p }, 'closing a leftover ssh master failed'))));
  }

  /**
   * Ssh options to reach a host. With reuse on, the first ssh to a host becomes its master
   * (ControlMaster=auto + ControlPersist: no separate connection step, so a cold push costs what a
   * plain one does) and every later ssh rides on it; a master found dead is replaced the same way.
   */
  async lease(target: SshTarget, log: Logger = this.o.log, _signal?: AbortSignal): Promise<Lease> {
    const dest = destinationOf(target, this.o.settings);
    const base = baseSshOptions(this.o.settings, dest);
    if (!this.o.reuse || this.closed) return { dest, sshArgs: [...controlOptions(undefined), ...base], warm: false, release: () => undefined };
    const key = `${sshHost(dest)}:${dest.port}`;
    // This host's master was just evicted and is still exiting: a new one must not adopt it.
    const evicted = this.stopping.get(key);
    if (evicted) await evicted;
    let entry = this.entries.get(key);
    if (entry && !entry.pending) {
      if (await this.alive(entry.path, dest.host)) {
        this.entries.delete(key); // move to the most-recently-used end
        this.entries.set(key, entry);
        this.o.metrics.sshConnections.inc({ event: 'reused' });
      } else {
        log.info({ host: dest.host }, 'ssh master gone, reconnecting');
        this.forget(key, entry);
        this.o.metrics.sshConnections.inc({ event: 'died' });
        entry = undefined;
      }
    }
    if (!entry) {
      this.evictFor(1);
      const path = join(this.o.controlDir, socketName(dest));
      // A live master nobody tracks (dropped while a closer raced a lease) is adopted: removing its socket would
      // orphan it, and every session on it, until its idle timeout. A socket left by a master that died is
      // removed: it would make ssh "disable multiplexing" instead of becoming the master.
      // Another lease of this host may make the entry while this one waits (here or below): then use it.
      entry = this.entries.get(key);
      if (!entry) {
        const live = await this.alive(path, dest.host);
        if (!live && !this.entries.has(key)) await removeFile(path);
        entry = this.entries.get(key) ?? { dest, path, users: 0, lastUsed: Date.now(), pending: !live, startedAt: Date.now() };
        this.entries.set(key, entry);
        this.o.metrics.sshConnectionsOpen.set(this.entries.size);
      }
    }
    const e = entry;
    const warm = !e.pending;
    e.users++;
    e.lastUsed = Date.now();
    let released = false;
    return {
      dest,
      sshArgs: [...muxOptions(e.path, Math.max(1, this.o.idleTimeoutSeconds)), ...base],
      warm,
      release: () => {
        if (released) return;
        released = true;
        e.users--;
        e.lastUsed = Date.now();
        if (e.pending) void this.settle(key, e);
      },
    };
  }

  /** After the first use of a new connection: did it leave a master behind? */
  private async settle(key: string, e: Entry): Promise<void> {
    if (!e.pending) return;
    e.pending = false;
    if (await this.alive(e.path, e.dest.host)) {
      this.o.metrics.sshConnections.inc({ event: 'opened' });
      this.o.metrics.sshOpenDuration.observe((Date.now() - e.startedAt) / 1000);
    } else {
      this.forget(key, e);
      this.o.metrics.sshConnections.inc({ event: 'failed' });
    }
    this.o.metrics.sshConnectionsOpen.set(this.entries.size);
  }

  /** Is the master still listening on its socket? A connect in-process, no ssh spawned (this runs before every push). */
  private alive(socket: string, host: string): Promise<boolean> {
    return new Promise((resolve) => {
      const sock = connect(socket);
      const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
      sock.setTimeout(2000, () => { this.o.log.debug({ socket, host }, 'ssh master socket: no answer in 2 s'); done(false); });
      sock.once('connect', () => done(true));
      sock.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') this.o.log.debug({ socket, host, code: err.code }, 'ssh master socket refused the check');
        done(false);
      });
    });
  }

  /** Stop tracking a master that is gone; its probe shell goes too (a shell must never outlive its entry). */
  private forget(key: string, e: Entry): void {
    if (this.entries.get(key) === e) this.entries.delete(key);
    this.shells.closeFor(e.dest);
  }

  /**
   * Close least recently used idle masters until `room` more fit under the cap. They stop in the background: the
   * lease that needs the room does not wait for an old master to exit (a `-O exit` and ~0.1 s of it exiting,
   * on every cold push once a fleet is larger than the cap); it is untracked at once, so the count is right.
   */
  private evictFor(room: number): void {
    const excess = this.entries.size + room - this.o.maxConnections;
    if (excess <= 0) return;
    const victims = [...this.entries.entries()].filter(([, e]) => e.users === 0 && !e.pending).slice(0, excess);
    for (const [key, e] of victims) {
      const done: Promise<void> = this.close(key, e)
        .catch((err: unknown) => this.o.log.warn({ err, host: e.dest.host }, 'closing an evicted ssh master failed'))
        .finally(() => { if (this.stopping.get(key) === done) this.stopping.delete(key); });
      this.stopping.set(key, done);
    }
  }

  private async close(key: string, e: Entry): Promise<void> {
    this.entries.delete(key);
    this.shells.closeFor(e.dest);
    this.o.metrics.sshConnectionsOpen.set(this.entries.size);
    await this.stopMaster(e.path);
  }

  /** End the master listening on a control socket, and remove the socket. */
  private async stopMaster(socket: string): Promise<void> {
    this.o.metrics.sshConnections.inc({ event: 'closed' });
    // The host name is not used by -O commands: the socket names the master.
    const ctl = (op: string) => this.o.launcher.run('ssh', ['-F', '/dev/null', '-o', `ControlPath=${socket}`, '-O', op, 'gitfleet-master'], { timeoutMs: 5000 });
    const pid = Number(/pid=(\d+)/.exec((await ctl('check')).stderr)?.[1] ?? 0);
    await ctl('exit');
    // `-O exit` returns before the master is gone: wait for it, then make sure.
    for (let i = 0; pid && i < 30 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (pid && processAlive(pid)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    await removeFile(socket);
  }

  /** Forget masters that expired on their own (ControlPersist idle timeout). */
  private async prune(): Promise<void> {
    for (const [key, e] of [...this.entries]) {
      if (e.users === 0 && !(await stat(e.path).then(() => true, () => false))) {
        this.forget(key, e);
        this.o.metrics.sshConnections.inc({ event: 'expired' });
      }
    }
    this.o.metrics.sshConnectionsOpen.set(this.entries.size);
  }

  /**
   * Keep a host's master alive (open it if needed) through the host's probe shell: an open session holds
   * ControlPersist's idle timer, the shell's own idle timer restarts with every request, and a warm check
   * then finds the shell ready. Called more often than the shells' idle timeout (warm-keeper.ts).
   */
  async touch(target: SshTarget, signal?: AbortSignal): Promise<boolean> {
    let lease: Lease | undefined;
    try {
      lease = await this.lease(target, this.o.log, signal);
      const a = await this.shells.get(lease.dest, lease.sshArgs).run('true', [], (this.o.settings.connectTimeout + 5) * 1000);
      return a.ok && a.exitCode === 0;
    } catch {
      return false;
    } finally {
      lease?.release();
    }
  }

  /** Seconds a probe shell stays open unused (half the master's idle timeout, at most 30 s). */
  get shellIdleSeconds(): number { return shellIdleSeconds(this.o.idleTimeoutSeconds); }

  /** Hosts with an open master (for tests and metrics). */
  openHosts(): string[] {
    return [...this.entries.values()].filter((e) => !e.pending).map((e) => e.dest.host);
  }

  /** Close every idle master now (the next push opens new ones), tracked or not. */
  async closeIdle(): Promise<void> {
    await Promise.all([...this.entries].filter(([, e]) => e.users === 0).map(([key, e]) => this.close(key, e)));
    await this.closeRest();
  }

  /** Close every master and remove the sockets; later leases connect directly. */
  async closeAll(): Promise<void> {
    this.closed = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.shells.closeAll();
    await Promise.all([...this.entries].map(([key, e]) => this.close(key, e)));
    await this.closeRest();
  }

  /**
   * After the tracked masters: wait for evictions still stopping, then close masters with a socket here that no
   * entry names (made by an ssh still running at shutdown, or first uses judged failed).
   */
  private async closeRest(): Promise<void> {
    await Promise.all(this.stopping.values());
    const tracked = new Set([...this.entries.values()].map((e) => e.path));
    const left = (await readdir(this.o.controlDir).catch(() => [] as string[])).map((f) => join(this.o.controlDir, f)).filter((p) => !tracked.has(p));
    await Promise.all(left.map((path) => this.stopMaster(path)));
  }
}

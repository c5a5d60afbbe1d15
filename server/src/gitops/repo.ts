// The config repo: a bare clone under the data dir, fetched from repo.url; all git work of the server goes through here.
import { mkdir, stat } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { Logger } from 'pino';
import type { Launcher } from '../util/launcher.js';
import { SHA_RE } from '../util/validate.js';
import { parseNameStatus, type FileChange, type Unit, unitsOfFiles, unitKey } from './targets.js';

/**
 * launcher: local git commands on the deploy path (rev-parse, diff, ls-tree, archive) start from it: a fork of the
 * server blocks its event loop for milliseconds per command. fetch (network, the operator's environment: proxies,
 * ssh agent) and the long-lived readers stay on simple-git / spawn.
 */
export interface ConfigRepoOptions { dir: string; url: string; branch: string; log: Logger; launcher: Launcher }

/** Listings and diffs are read whole; this only bounds a runaway. */
const MAX_GIT_OUTPUT = 256 * 1024 * 1024;

// git archive piped into tar, started as one job: both statuses are checked (tar's first: when it dies early,
// git archive only sees a broken pipe). Paths and ids travel as arguments.
const EXPORT = [
  'exec 4>&1',
  'g=$( { { git -C "$1" -c tar.umask=022 archive --format=tar "$2" -- "$3"; echo $? >&5; } | tar -x -C "$4" >&4; } 5>&1 ); t=$?',
  '[ "$t" = 0 ] || { echo "tar exited $t" >&2; exit 1; }',
  '[ "$g" = 0 ] || { echo "git archive exited $g" >&2; exit 1; }',
].join('; ');

/** One `git ls-tree -l` entry: git mode ("100644", "100755", "120000" symlink, "040000" tree, "160000" submodule). */
export interface TreeEntry { mode: string; type: 'blob' | 'tree' | 'commit'; oid: string; size: number | null; path: string }

export class ConfigRepo {
  private git!: SimpleGit;
  private head: string | null = null;
  private fetching: Promise<string> | null = null;
  private fetchedAt = 0;
  /** Commits known to be here: gc never runs in this repo (gc.auto=0), so an object once fetched stays. */
  private readonly present = new Set<string>();

  constructor(readonly opts: ConfigRepoOptions) {}

  /** Clone (bare) if needed and fetch once. */
  async init(): Promise<void> {
    const exists = await stat(`${this.opts.dir}/HEAD`).then(() => true, () => false);
    if (!exists) {
      await mkdir(this.opts.dir, { recursive: true });
      await simpleGit(this.opts.dir).init(true);
    }
    this.git = simpleGit(this.opts.dir, { config: ['gc.auto=0', 'maintenance.auto=false'] });
    const remotes = await this.git.getRemotes(true);
    const origin = remotes.find((r) => r.name === 'origin');
    if (!origin) await this.git.addRemote('origin', this.opts.url);
    else if (origin.refs.fetch !== this.opts.url) await this.git.remote(['set-url', 'origin', this.opts.url]);
    await this.fetch();
  }

  lastKnownHead(): string | null {
    return this.head;
  }

  /**
   * Fetch the branch (one fetch at a time; concurrent callers share it) and return its head commit.
   * With maxAgeMs, a head fetched that recently is returned without fetching again.
   */
  fetch(maxAgeMs = 0): Promise<string> {
    if (maxAgeMs > 0 && this.head && Date.now() - this.fetchedAt < maxAgeMs) return Promise.resolve(this.head);
    if (!this.fetching) {
      this.fetching = (async () => {
        const ref = `refs/remotes/origin/${this.opts.branch}`;
        // -v: simple-git waits an extra 50 ms after any git command that printed nothing.
        await this.git.raw(['fetch', '-v', '--prune', '--force', 'origin', `+refs/heads/${this.opts.branch}:${ref}`]);
        const head = (await this.run(['rev-parse', '--verify', `${ref}^{commit}`])).trim();
        this.head = head;
        this.remember(head);
        this.fetchedAt = Date.now();
        return head;
      })().finally(() => { this.fetching = null; });
    }
    return this.fetching;
  }

  /**
   * Fetch a merge request's head (`refs/merge-requests/<iid>/head`, `refs/pull/<n>/head`) into
   * refs/gitfleet/previews/ and return its commit. The ref must be exactly that shape (no option or refspec
   * injection: it is built by the server from a number, and checked again here).
   */
  async fetchPreviewRef(remoteRef: string): Promise<string> {
    const m = /^refs\/(merge-requests|pull)\/([1-9][0-9]{0,9})\/head$/.exec(remoteRef);
    if (!m) throw new Error(`refusing to fetch ${JSON.stringify(remoteRef)}`);
    const local = `refs/gitfleet/previews/${m[1]}-${m[2]}`;
    await this.git.raw(['fetch', '-v', '--no-tags', '--force', 'origin', `+${remoteRef}:${local}`]);
    const sha = (await this.run(['rev-parse', '--verify', `${local}^{commit}`])).trim();
    this.remember(sha);
    return sha;
  }

  /**
   * The commit a merge of `head` into `target` would make, built without a work tree (`git merge-tree
   * --write-tree`, git 2.38 or newer, then `commit-tree`; nothing else changes in the repo): previews show what
   * hosts get once merged. undefined when the merge conflicts or git cannot do it.
   */
  async previewMerge(target: string, head: string): Promise<string | undefined> {
    if (!SHA_RE.test(target) || !SHA_RE.test(head)) throw new Error('a preview merge needs two commit ids');
    const r = await this.opts.launcher.run('git', ['-C', this.opts.dir, 'merge-tree', '--write-tree', '--no-messages', target, head], { maxOutputBytes: MAX_GIT_OUTPUT });
    const tree = r.exitCode === 0 ? r.stdout.split('\n')[0]!.trim() : '';
    if (!SHA_RE.test(tree)) return undefined; // exit 1: conflicts; other: an older git
    const sha = (await this.run(['-c', 'user.name=gitfleet', '-c', 'user.email=gitfleet@localhost', 'commit-tree', tree, '-p', target, '-p', head, '-m', 'gitfleet preview merge'])).trim();
    if (!SHA_RE.test(sha)) return undefined;
    this.remember(sha);
    return sha;
  }

  /** The best common ancestor of two commits, or undefined when they share no history. */
  async mergeBase(a: string, b: string): Promise<string | undefined> {
    if (!SHA_RE.test(a) || !SHA_RE.test(b)) throw new Error('merge-base needs two commit ids');
    try {
      const out = (await this.run(['merge-base', a, b])).trim();
      return SHA_RE.test(out) ? out : undefined;
    } catch {
      return undefined;
    }
  }

  /** A local git command through the launcher: its stdout, or an error with git's message. */
  private async run(args: string[]): Promise<string> {
    const r = await this.opts.launcher.run('git', ['-C', this.opts.dir, ...args], { maxOutputBytes: MAX_GIT_OUTPUT });
    if (r.exitCode !== 0) throw new Error(`git ${args.find((a) => !a.startsWith('-'))} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(-500)}`);
    return r.stdout;
  }

  /** Is this a commit object we have? */
  async hasCommit(sha: string): Promise<boolean> {
    if (!SHA_RE.test(sha)) return false;
    if (this.present.has(sha.toLowerCase())) return true;
    try {
      const found = (await this.run(['rev-parse', '--verify', '--quiet', `${sha}^{commit}`])).trim().length > 0;
      if (found) this.remember(sha);
      return found;
    } catch {
      return false;
    }
  }

  private remember(sha: string): void {
    if (this.present.size >= 10_000) this.present.clear(); // a bound, not a cache policy: misses only cost a rev-parse
    this.present.add(sha.toLowerCase());
  }

  /** Is `sha` reachable from the branch head (still in history)? */
  async inHistory(sha: string, head: string): Promise<boolean> {
    if (!(await this.hasCommit(sha))) return false;
    try {
      // The merge base is sha itself when sha is an ancestor.
      return (await this.run(['merge-base', sha, head])).trim() === sha.toLowerCase();
    } catch {
      return false;
    }
  }

  /** A full commit id for a user-given commit (hex prefix of 7-40 chars), or undefined. */
  async resolveCommit(ref: string): Promise<string | undefined> {
    if (!/^[0-9a-f]{7,64}$/.test(ref)) return undefined;
    try {
      const sha = (await this.run(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim();
      return SHA_RE.test(sha) ? sha : undefined;
    } catch {
      return undefined;
    }
  }

  /** Commits in base..head (all of head's history without a base), newest first, at most `max`. Both must be commit ids. */
  async log(base: string | null, head: string, max = 50): Promise<Array<{ sha: string; author: string; date: string; subject: string }>> {
    if (!SHA_RE.test(head) || (base !== null && !SHA_RE.test(base))) return [];
    const out = await this.run(['log', '--no-color', `--max-count=${max}`, '-z', '--format=%H%x1f%an%x1f%aI%x1f%s', base ? `${base}..${head}` : head, '--']);
    return out.split('\0').filter(Boolean).map((rec) => {
      const [sha, author, date, subject] = rec.replace(/^\n/, '').split('\x1f');
      return { sha: sha!, author: author ?? '', date: date ?? '', subject: subject ?? '' };
    });
  }

  /** Files changed between two commits (all commits in between), renames detected; `paths`: only under these (literal). */
  async diff(base: string, head: string, paths: string[] = []): Promise<FileChange[]> {
    const out = await this.run(['--literal-pathspecs', 'diff', '--name-status', '-z', '-M', '--no-ext-diff', base, head, '--', ...paths]);
    return parseNameStatus(out);
  }

  /** Every unit present at a commit. */
  async listUnits(commit: string): Promise<Unit[]> {
    return unitsOfFiles(await this.lsTree(commit, []));
  }

  /** Paths (relative to the unit directory) of every file of a unit at a commit. */
  async listUnitFiles(commit: string, unit: Unit): Promise<string[]> {
    const prefix = `${unitKey(unit)}/`;
    return (await this.lsTree(commit, [prefix])).map((p) => p.slice(prefix.length));
  }

  private async lsTree(commit: string, paths: string[]): Promise<string[]> {
    const out = await this.run(['ls-tree', '-r', '-z', '--name-only', commit, '--', ...paths]);
    return out.split('\0').filter(Boolean);
  }

  /** Tree entries (mode, blob id, size) under repo paths at a commit; paths are literal (no pathspec magic or globs). */
  async listTreeEntries(commit: string, paths: string[], opts: { recursive?: boolean } = {}): Promise<TreeEntry[]> {
    const out = await this.run(['--literal-pathspecs', 'ls-tree', ...(opts.recursive === false ? [] : ['-r']), '-l', '-z', commit, '--', ...paths]);
    const entries: TreeEntry[] = [];
    for (const rec of out.split('\0')) {
      const m = /^(\d{6}) (blob|tree|commit) ([0-9a-f]{40,64}) +(-|\d+)\t([\s\S]+)$/.exec(rec);
      if (m) entries.push({ mode: m[1]!, type: m[2] as TreeEntry['type'], oid: m[3]!, size: m[4] === '-' ? null : Number(m[4]), path: m[5]! });
    }
    return entries;
  }

  /** Contents of blobs by id through one `git cat-file --batch`, handed over one at a time (never all in memory). */
  forEachBlob(oids: string[], onBlob: (oid: string, content: Buffer) => void): Promise<void> {
    const wanted = oids.filter((o) => /^[0-9a-f]{40,64}$/.test(o));
    if (wanted.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const p = spawn('git', ['-C', this.opts.dir, 'cat-file', '--batch'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let buf: Buffer = Buffer.alloc(0);
      let current: { oid: string; size: number } | null = null;
      let failure: Error | null = null;
      p.stdout.on('data', (c: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, c]) : c;
        for (;;) {
          if (!current) {
            const nl = buf.indexOf(0x0a);
            if (nl < 0) return;
            const header = buf.subarray(0, nl).toString();
            buf = buf.subarray(nl + 1);
            const m = /^([0-9a-f]+) (\w+) (\d+)$/.exec(header);
            if (!m) { failure ??= new Error(`cat-file: ${header}`); continue; }
            current = { oid: m[1]!, size: Number(m[3]) };
          }
          if (buf.length < current.size + 1) return;
          onBlob(current.oid, Buffer.from(buf.subarray(0, current.size)));
          buf = buf.subarray(current.size + 1);
          current = null;
        }
      });
      let err = '';
      p.stderr.on('data', (c: Buffer) => { err += c.toString(); });
      p.on('error', reject);
      p.on('close', (code) => (code === 0 && !failure ? resolve() : reject(failure ?? new Error(`git cat-file exited ${code}: ${err.trim().slice(-300)}`))));
      p.stdin.end(wanted.join('\n') + '\n');
    });
  }

  /** Write a unit's files at a commit into dest (dest/<mod>/<env>/<app>/...): git archive piped into tar. */
  async exportUnit(commit: string, unit: Unit, dest: string): Promise<void> {
    const r = await this.opts.launcher.run('sh', ['-c', EXPORT, 'sh', this.opts.dir, commit, `${unitKey(unit)}/`, dest]);
    if (r.exitCode !== 0) throw new Error(r.stderr.trim().slice(-500) || `export of ${unitKey(unit)} failed (exit ${r.exitCode})`);
  }

  /** Content of one file at a commit (for downloads and metadata). */
  async readFile(commit: string, path: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const p = spawn('git', ['-C', this.opts.dir, 'cat-file', 'blob', `${commit}:${path}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      p.stdout.on('data', (c: Buffer) => chunks.push(c));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`no file ${path} at ${commit}`))));
    });
  }
}

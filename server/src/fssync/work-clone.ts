// The private working clone of the config repo that /modify commits in: reset to the branch head, commit, push (never forced).
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { simpleGit, type SimpleGit } from 'simple-git';
import { UpstreamUnavailableError } from '../errors.js';
import type { TreeEntry } from '../gitops/repo.js';
import type { ModifyAuthor } from './modify-request.js';

export interface WorkCloneOptions {
  /** Directory of the clone (created on first use). */
  dir: string;
  url: string;
  branch: string;
  timeoutMs: number;
  committer: ModifyAuthor;
  log: Logger;
}

/** How a push ended: pushed, the branch moved under us (fetch and try again), or the remote refused it for good. */
export type PushOutcome = { kind: 'pushed' } | { kind: 'moved'; detail: string } | { kind: 'refused'; detail: string };

/** PURE: classify the stderr of a failed `git push`; undefined = not a refusal (network, auth: unavailable). */
export function classifyPushError(stderr: string): PushOutcome | undefined {
  const line = stderr.split('\n').find((l) => /\[(remote )?rejected\]/.test(l))?.trim() ?? '';
  if (/\[rejected\].*\((fetch first|non-fast-forward|stale info)\)/.test(line)) return { kind: 'moved', detail: line };
  if (/\[remote rejected\].*(failed to update ref|cannot lock ref|incorrect old value)/.test(line)) return { kind: 'moved', detail: line };
  if (line) return { kind: 'refused', detail: line };
  return undefined;
}

export class WorkClone {
  private gitInstance: SimpleGit | null = null;

  constructor(private readonly opts: WorkCloneOptions) {}

  /** simple-git needs the directory to exist: created on first use. */
  private get git(): SimpleGit {
    this.gitInstance ??= simpleGit({ baseDir: this.opts.dir, timeout: { block: this.opts.timeoutMs }, config: ['gc.auto=0'] });
    return this.gitInstance;
  }

  get dir(): string {
    return this.opts.dir;
  }

  /** Create the clone if needed, fetch the branch and reset the working tree to it; returns the head commit. */
  async reset(): Promise<string> {
    const { branch, url } = this.opts;
    await mkdir(this.opts.dir, { recursive: true });
    if (!(await stat(join(this.opts.dir, '.git', 'HEAD')).then(() => true, () => false))) {
      await this.git.init();
      for (const [k, v] of [['core.autocrlf', 'false'], ['commit.gpgSign', 'false'], ['user.name', this.opts.committer.name], ['user.email', this.opts.committer.email]] as const) {
        await this.git.addConfig(k, v);
      }
    }
    const remotes = await this.git.getRemotes(true);
    const origin = remotes.find((r) => r.name === 'origin');
    if (!origin) await this.git.addRemote('origin', url);
    else if (origin.refs.push !== url) await this.git.remote(['set-url', 'origin', url]);
    const ref = `refs/remotes/origin/${branch}`;
    try {
      // Verbose on purpose here and below: simple-git waits an extra 50 ms after a command that printed nothing.
      await this.git.raw(['fetch', '-v', '--prune', '--force', '--no-tags', 'origin', `+refs/heads/${branch}:${ref}`]);
    } catch (err) {
      throw new UpstreamUnavailableError('cannot fetch the config repo', { cause: err });
    }
    await this.git.raw(['checkout', '--force', '-B', branch, ref]);
    await this.git.raw(['clean', '-q', '-ffdx']);
    return (await this.git.revparse(['HEAD'])).trim();
  }

  /** Exact tree entries of repo paths at HEAD (literal paths; directories are not descended into). */
  async entries(paths: string[]): Promise<TreeEntry[]> {
    if (paths.length === 0) return [];
    const out = await this.git.raw(['--literal-pathspecs', 'ls-tree', '-l', '-z', 'HEAD', '--', ...paths]);
    const want = new Set(paths);
    const found: TreeEntry[] = [];
    for (const rec of out.split('\0')) {
      const m = /^(\d{6}) (blob|tree|commit) ([0-9a-f]{40,64}) +(-|\d+)\t([\s\S]+)$/.exec(rec);
      if (m && want.has(m[5]!)) found.push({ mode: m[1]!, type: m[2] as TreeEntry['type'], oid: m[3]!, size: m[4] === '-' ? null : Number(m[4]), path: m[5]! });
    }
    return found;
  }

  /** Names of the top-level directories at HEAD (the mods). */
  async topDirs(): Promise<string[]> {
    const out = await this.git.raw(['ls-tree', '-d', '--name-only', '-z', 'HEAD']);
    return out.split('\0').filter(Boolean);
  }

  /** Is there anything under this repo directory at HEAD? */
  async hasDir(path: string): Promise<boolean> {
    const out = await this.git.raw(['--literal-pathspecs', 'ls-tree', '--name-only', '-z', 'HEAD', '--', `${path}/`]);
    return out.length > 0;
  }

  /** Write a file of the working tree (its parents are real directories: the caller checked the path is a blob in git). */
  async write(path: string, content: Buffer): Promise<void> {
    await writeFile(join(this.opts.dir, path), content);
  }

  /** Stage one path and commit it with the given author (environment, never options) and message (a file). */
  async commit(path: string, author: ModifyAuthor, message: string): Promise<string> {
    await this.git.raw(['add', '-v', '--', path]);
    const msgFile = `${this.opts.dir}.COMMIT_MSG`;
    await writeFile(msgFile, message);
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/',
      GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: this.opts.committer.name, GIT_COMMITTER_EMAIL: this.opts.committer.email,
    };
    await simpleGit({ baseDir: this.opts.dir, timeout: { block: this.opts.timeoutMs } }).env(env).raw(['commit', '--no-verify', '-F', msgFile]);
    return (await this.git.revparse(['HEAD'])).trim();
  }

  /** Push HEAD to the branch as a fast-forward only. */
  async push(): Promise<PushOutcome> {
    try {
      await this.git.raw(['push', '-q', '--no-verify', 'origin', `HEAD:refs/heads/${this.opts.branch}`]);
      return { kind: 'pushed' };
    } catch (err) {
      const outcome = classifyPushError((err as Error).message);
      if (outcome) return outcome;
      throw new UpstreamUnavailableError('cannot push to the config repo', { cause: err });
    }
  }
}

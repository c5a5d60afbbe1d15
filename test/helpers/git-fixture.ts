// Real git repositories for tests: a bare origin and a working clone that commits and pushes with pinned identities.
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';

export interface GitFixture {
  origin: string;
  work: string;
  git: SimpleGit;
  /** Write files (path → content, null = delete), commit, push; returns the new commit id. */
  commit(files: Record<string, string | null>, message?: string): Promise<string>;
  head(): Promise<string>;
  /** n commits in one `git fast-import` (fast: hundreds in a second), file i's contents from files(i); pushed unless push is false. Returns their ids, oldest first. */
  commitMany(n: number, files: (i: number) => Record<string, string>, opts?: { push?: boolean }): Promise<string[]>;
}

export async function createGitFixture(dir: string, branch = 'main'): Promise<GitFixture> {
  const origin = join(dir, 'origin.git');
  const work = join(dir, 'work');
  await mkdir(origin, { recursive: true });
  await simpleGit(origin).raw(['init', '--bare', '-q', '--initial-branch', branch]);
  await mkdir(work, { recursive: true });
  const git = simpleGit(work);
  await git.raw(['init', '-q', '--initial-branch', branch]);
  await git.addConfig('user.name', 'Test Operator');
  await git.addConfig('user.email', 'ops@example.com');
  await git.addConfig('gc.auto', '0');
  await git.addRemote('origin', origin);
  let n = 0;
  const fx: GitFixture = {
    origin, work, git,
    async commit(files, message) {
      for (const [p, content] of Object.entries(files)) {
        const abs = join(work, p);
        if (content === null) await rm(abs, { force: true });
        else {
          await mkdir(dirname(abs), { recursive: true });
          await writeFile(abs, content);
        }
      }
      await git.raw(['add', '-A']);
      n++;
      const date = `2026-01-01T00:00:${String(n % 60).padStart(2, '0')}Z`;
      await git.env({ PATH: process.env.PATH, HOME: process.env.HOME, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date }).raw(['commit', '-q', '--allow-empty', '-m', message ?? `commit ${n}`]);
      await git.raw(['push', '-q', 'origin', `HEAD:refs/heads/${branch}`]);
      return (await git.revparse(['HEAD'])).trim();
    },
    async head() { return (await git.revparse(['HEAD'])).trim(); },
    async commitMany(count, files, opts = {}) {
      const parent = (await git.revparse(['HEAD'])).trim();
      const chunks: string[] = [];
      const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
      for (let i = 0; i < count; i++) {
        n++;
        const when = 1767225600 + n; // 2026-01-01 + n seconds: pinned like commit()
        chunks.push(`commit refs/heads/${branch}\n`, `committer Test Operator <ops@example.com> ${when} +0000\n`, data(`commit ${n}`));
        if (i === 0) chunks.push(`from ${parent}\n`);
        for (const [p, content] of Object.entries(files(i))) chunks.push(`M 100644 inline ${p}\n`, data(content));
      }
      await new Promise<void>((resolve, reject) => {
        const p = spawn('git', ['fast-import', '--quiet'], { cwd: work, stdio: ['pipe', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (c: Buffer) => { err += c.toString(); });
        p.on('error', reject);
        p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import exited ${code}: ${err}`))));
        p.stdin.end(chunks.join(''));
      });
      await git.raw(['reset', '-q', '--hard', branch]); // fast-import moved the branch, not the work tree
      if (opts.push !== false) await git.raw(['push', '-q', 'origin', `HEAD:refs/heads/${branch}`]);
      return (await git.raw(['rev-list', '--reverse', `${parent}..HEAD`])).split('\n').filter(Boolean);
    },
  };
  return fx;
}

// With no repo.url configured: a bare repo under the data dir, seeded from repo-template/, that operators clone and push to.
import { cp, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';

/** Create `<dataDir>/config-repo.git` from the template unless it exists; returns its path (the repo URL). */
export async function ensureLocalRepo(dataDir: string, templateDir: string, branch: string): Promise<string> {
  const bare = join(dataDir, 'config-repo.git');
  if (await stat(join(bare, 'HEAD')).then(() => true, () => false)) return bare;
  const work = await mkdtemp(join(tmpdir(), 'gitfleet-seed-'));
  try {
    await cp(templateDir, work, { recursive: true });
    const git = simpleGit(work);
    await git.init(['--initial-branch', branch]);
    await git.add(['-A']);
    await git.raw(['-c', 'user.name=gitfleet', '-c', 'user.email=gitfleet@localhost', 'commit', '-q', '-m', 'Seed config repo from gitfleet repo-template']);
    await simpleGit().raw(['clone', '-q', '--bare', work, bare]);
    await simpleGit(bare).raw(['symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return bare;
}

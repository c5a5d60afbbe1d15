// The config repo's side of a preview against real git: a merge request's head fetched from the forge's ref
// (only that ref shape), the merge base, and the merge of the head into the branch built without a work tree
// (what hosts get once merged), or nothing when it conflicts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { ConfigRepo } from '../../server/src/gitops/repo.js';
import { Launcher } from '../../server/src/util/launcher.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { tempDir } from '../helpers/tmp.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let fx: GitFixture;
let repo: ConfigRepo;
let launcher: Launcher;
let fork: string;

before(async () => {
  tmp = await tempDir('gf-previewrepo-');
  fx = await createGitFixture(join(tmp.path, 'fx'));
  fork = await fx.commit({ 'app/prod/web/etc/a.conf': 'a1\nkeep\n', 'app/prod/web/etc/b.conf': 'b1\n' });
  launcher = new Launcher({ dir: join(tmp.path, 'run') });
  repo = new ConfigRepo({ dir: join(tmp.path, 'bare.git'), url: fx.origin, branch: 'main', log: pino({ level: 'silent' }), launcher });
  await repo.init();
});
after(async () => {
  await launcher.close();
  await tmp.cleanup();
});

/** A commit on a branch off `from`, published as `ref` on the origin (main untouched). */
async function mrCommit(from: string, files: Record<string, string>, ref: string): Promise<string> {
  await fx.git.raw(['checkout', '-q', '-B', `mr-${ref.replace(/\W/g, '-')}`, from]);
  for (const [p, c] of Object.entries(files)) await (await import('node:fs/promises')).writeFile(join(fx.work, p), c);
  await fx.git.raw(['commit', '-q', '-am', 'mr']);
  const sha = (await fx.git.revparse(['HEAD'])).trim();
  await fx.git.raw(['push', '-q', '--force', 'origin', `HEAD:${ref}`]);
  await fx.git.raw(['checkout', '-q', 'main']);
  return sha;
}

test('fetchPreviewRef takes only merge-request head refs and returns their commit', async () => {
  const sha = await mrCommit(fork, { 'app/prod/web/etc/b.conf': 'b2\n' }, 'refs/merge-requests/3/head');
  assert.equal(await repo.fetchPreviewRef('refs/merge-requests/3/head'), sha);
  for (const bad of ['refs/heads/main', 'refs/merge-requests/3/head:refs/heads/main', '--upload-pack=touch /tmp/x', 'refs/pull/0/head', 'refs/pull/1/merge']) {
    await assert.rejects(repo.fetchPreviewRef(bad), /refusing to fetch/);
  }
  await assert.rejects(repo.fetchPreviewRef('refs/pull/99/head'), /couldn't find remote ref refs\/pull\/99\/head/); // no such ref on the origin
});

test('previewMerge: the branch\'s later changes are kept; a conflict gives undefined', async () => {
  const head = await mrCommit(fork, { 'app/prod/web/etc/b.conf': 'b-mr\n' }, 'refs/merge-requests/4/head');
  await fx.git.raw(['checkout', '-q', 'main']);
  const later = await fx.commit({ 'app/prod/web/etc/a.conf': 'a-main\nkeep\n' });
  const target = await repo.fetch();
  assert.equal(target, later);
  assert.equal(await repo.fetchPreviewRef('refs/merge-requests/4/head'), head);
  assert.equal(await repo.mergeBase(target, head), fork);
  const merged = await repo.previewMerge(target, head);
  assert.ok(merged && merged !== head && merged !== target);
  assert.equal((await repo.readFile(merged, 'app/prod/web/etc/a.conf')).toString(), 'a-main\nkeep\n', 'main\'s change kept');
  assert.equal((await repo.readFile(merged, 'app/prod/web/etc/b.conf')).toString(), 'b-mr\n', 'the MR\'s change applied');
  assert.equal(await repo.resolveCommit(target.slice(0, 12)), target, 'the branch did not move');

  const clash = await mrCommit(fork, { 'app/prod/web/etc/a.conf': 'a-other\nkeep\n' }, 'refs/merge-requests/5/head');
  assert.equal(await repo.fetchPreviewRef('refs/merge-requests/5/head'), clash);
  assert.equal(await repo.previewMerge(target, clash), undefined);
});

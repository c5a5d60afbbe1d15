// ConfigRepo against real git: commit existence, ancestry (what tells a force push apart), fetch, export.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
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

before(async () => {
  tmp = await tempDir('gf-repo-');
  fx = await createGitFixture(join(tmp.path, 'fx'));
  // Bigger than a pipe buffer, so a tar that dies early makes git archive's writes fail (EPIPE).
  await fx.commit({ 'app/prod/web/etc/a.conf': 'a1\n', 'app/prod/web/srv/big.bin': 'x'.repeat(512 * 1024) });
  launcher = new Launcher({ dir: join(tmp.path, 'run') });
  repo = new ConfigRepo({ dir: join(tmp.path, 'bare.git'), url: fx.origin, branch: 'main', log: pino({ level: 'silent' }), launcher });
  await repo.init();
});
after(async () => {
  await launcher.close();
  await tmp.cleanup();
});

test('hasCommit: known commits yes; unknown, malformed and non-commit ids no', async () => {
  const head = await fx.head();
  assert.equal(await repo.hasCommit(head), true);
  assert.equal(await repo.hasCommit('0'.repeat(40)), false);
  assert.equal(await repo.hasCommit('not-a-sha'), false);
  const tree = (await fx.git.raw(['rev-parse', 'HEAD^{tree}'])).trim();
  assert.equal(await repo.hasCommit(tree), false, 'a tree id is not a commit');
});

test('fetch returns the new head; inHistory tells a linear push from a rewritten history', async () => {
  const first = await fx.head();
  const second = await fx.commit({ 'app/prod/web/etc/a.conf': 'a2\n' });
  assert.equal(await repo.fetch(), second);
  assert.equal(await repo.inHistory(first, second), true);
  assert.equal(await repo.inHistory(second, first), false, 'a descendant is not an ancestor');
  // Force push: rewrite the last commit.
  await fx.git.raw(['reset', '-q', '--hard', first]);
  await fx.git.raw(['commit', '-q', '--allow-empty', '-m', 'rewritten']);
  await fx.git.raw(['push', '-q', '--force', 'origin', 'HEAD:refs/heads/main']);
  const rewritten = await fx.head();
  assert.equal(await repo.fetch(), rewritten);
  assert.equal(await repo.inHistory(second, rewritten), false, 'the replaced commit is no longer in history');
  assert.equal(await repo.inHistory(first, rewritten), true);
  assert.equal(await repo.inHistory('0'.repeat(40), rewritten), false);
});

test('exportUnit writes the unit at the commit; a failing tar rejects instead of crashing', async () => {
  const head = await repo.fetch();
  const dest = join(tmp.path, 'export');
  await (await import('node:fs/promises')).mkdir(dest);
  await repo.exportUnit(head, { mod: 'app', env: 'prod', app: 'web' }, dest);
  assert.equal(await readFile(join(dest, 'app/prod/web/etc/a.conf'), 'utf8'), 'a1\n');
  await assert.rejects(repo.exportUnit(head, { mod: 'app', env: 'prod', app: 'web' }, join(tmp.path, 'no-such-dir')), /tar exited/);
});

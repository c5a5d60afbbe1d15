import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attributesFor, deployableFiles, globToRegExp, parseMetadata, resolveShare } from '../../server/src/deploy/metadata.js';
import { failureLimit, planBatches } from '../../server/src/deploy/rollout.js';
import { deletionHold } from '../../server/src/deploy/stage.js';
import { touchedPaths } from '../../server/src/deploy/host-steps.js';
import { ownerPasses } from '../../server/src/deploy/owner-passes.js';
import { shCommand, shellQuote } from '../../server/src/util/shell-quote.js';

describe('unit metadata', () => {
  it('parses a full file and applies defaults', () => {
    const m = parseMetadata('owner: nginx\nfiles:\n  - { path: "etc/ssl/*.key", mode: "0600", owner: root }\nexclude: ["**/*.md"]\nhooks: { validate: "nginx -t", reload: "systemctl reload nginx" }\nrollout: { canary: 1, batchSize: "25%", maxFailures: "10%" }\n');
    assert.equal(m.owner, 'nginx');
    assert.equal(m.hooks.timeout, 60);
    assert.equal(m.rollout?.skipUnreachable, false);
    assert.deepEqual(attributesFor(m, 'etc/ssl/site.key'), { owner: 'root', group: undefined, mode: '0600' });
    assert.deepEqual(attributesFor(m, 'etc/nginx/nginx.conf'), { owner: 'nginx', group: undefined, mode: undefined });
    assert.deepEqual(deployableFiles(m, ['.gitfleet.yaml', 'etc/a.conf', 'README.md', 'etc/doc/x.md']), ['etc/a.conf']);
  });
  it('rejects bad metadata naming the key', () => {
    assert.throws(() => parseMetadata('owner: "root;rm"\n'), /owner/);
    assert.throws(() => parseMetadata('files: [{ path: "../etc/x", mode: "0600" }]\n'), /files\.0\.path/);
    assert.throws(() => parseMetadata('mode: 777x\n'), /mode/);
    assert.throws(() => parseMetadata('hooks: { restart: "x" }\n'), /hooks/);
    assert.throws(() => parseMetadata('owner: [\n'), /not valid YAML/);
    assert.deepEqual(parseMetadata(undefined).files, []);
  });
  it('rejects rollouts that could never finish or exceed the unit, naming the key', () => {
    assert.throws(() => parseMetadata('rollout: { batchSize: 0 }\n'), /rollout\.batchSize: must be at least 1/);
    assert.throws(() => parseMetadata('rollout: { batchSize: "0%" }\n'), /rollout\.batchSize: must be more than 0%/);
    assert.throws(() => parseMetadata('rollout: { canary: "150%" }\n'), /rollout\.canary: a percentage must be at most 100%/);
    assert.throws(() => parseMetadata('rollout: { maxFailures: "101%" }\n'), /rollout\.maxFailures: a percentage must be at most 100%/);
    assert.throws(() => parseMetadata('rollout: { batchSize: "x" }\n'), /rollout\.batchSize: must be a count or a percentage/);
    const ok = parseMetadata('rollout: { canary: 0, batchSize: "100%", maxFailures: "100%" }\n').rollout!;
    assert.deepEqual([ok.canary, ok.batchSize, ok.maxFailures], [0, '100%', '100%']);
  });
  it('the reserved .gitfleet/ folder is metadata too: never deployed', () => {
    assert.deepEqual(deployableFiles(parseMetadata(undefined), ['.gitfleet/notes', '.gitfleet', '.gitfleetrc', 'etc/.gitfleet/x']), ['.gitfleetrc', 'etc/.gitfleet/x']);
  });
  it('globs: * within a segment, ** across, ? one character', () => {
    const t: Array<[string, string, boolean]> = [
      ['etc/*.conf', 'etc/a.conf', true], ['etc/*.conf', 'etc/sub/a.conf', false], ['**/*.conf', 'etc/sub/a.conf', true],
      ['**/*.conf', 'a.conf', true], ['etc/**', 'etc/x/y', true], ['etc/a?.conf', 'etc/ab.conf', true], ['etc/a.conf', 'etcXa.conf', false],
    ];
    for (const [g, p, want] of t) assert.equal(globToRegExp(g).test(p), want, `${g} vs ${p}`);
  });
  it('shares resolve against totals', () => {
    assert.equal(resolveShare('10%', 30), 3);
    assert.equal(resolveShare('10%', 3), 1, 'a positive share is at least one host');
    assert.equal(resolveShare('0%', 30), 0);
    assert.equal(resolveShare(4, 30), 4);
    assert.equal(resolveShare(undefined, 30), undefined);
  });
});

describe('rollout batches', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  it('canary first, then batches of the given size', () => {
    assert.deepEqual(planBatches(hosts, { canary: 1, batchSize: 3, bakeSeconds: 0, maxFailures: 0, skipUnreachable: false }), [['a'], ['b', 'c', 'd'], ['e', 'f', 'g']]);
    assert.deepEqual(planBatches(hosts, { batchSize: '50%', bakeSeconds: 0, maxFailures: 0, skipUnreachable: false }), [['a', 'b', 'c', 'd'], ['e', 'f', 'g']]);
    assert.deepEqual(planBatches(hosts, undefined), [hosts]);
    assert.deepEqual(planBatches([], undefined), []);
  });
  it('failure limits: none without a rollout, else count or share', () => {
    assert.equal(failureLimit(undefined, 10), Infinity);
    assert.equal(failureLimit({ bakeSeconds: 0, maxFailures: '20%', skipUnreachable: false }, 10), 2);
    assert.equal(failureLimit({ bakeSeconds: 0, maxFailures: 0, skipUnreachable: false }, 10), 0);
  });
});

describe('deletion circuit breaker', () => {
  it('holds over the file count or the share, never for nothing', () => {
    assert.equal(deletionHold(0, 10, { maxFiles: 0, maxPercent: 0 }), undefined);
    assert.match(deletionHold(30, 100, { maxFiles: 25, maxPercent: 50 })!, /30 files would be removed \(limit 25 files\)/);
    assert.match(deletionHold(6, 10, { maxFiles: 25, maxPercent: 50 })!, /6 of 10 files \(60%\)/);
    assert.equal(deletionHold(5, 10, { maxFiles: 25, maxPercent: 50 }), undefined, 'exactly the limit passes');
    assert.equal(deletionHold(1, 1, { maxFiles: 25, maxPercent: 50 }), undefined, 'a single file is never held by share');
    assert.equal(deletionHold(3, null, { maxFiles: 25, maxPercent: 50 }), undefined, 'unknown previous listing: share not applicable');
  });
});

describe('host steps', () => {
  it('splits recorded changes into written and removed paths', () => {
    assert.deepEqual(touchedPaths(['+etc/a', '-etc/b', '~etc/c']), { written: ['etc/a'], removed: ['etc/b'] });
  });
  it('splits the list in rsync passes by owner: the unit-level one first, then one per differing rule', () => {
    const m = parseMetadata('owner: www-data\nfiles:\n  - { path: "etc/*.key", owner: root, group: root }\n  - { path: "etc/d.*", group: adm }\n  - { path: "etc/e.*", owner: www-data }\n');
    assert.deepEqual(ownerPasses(m, ['etc/a.key', 'etc/b.conf', 'etc/c.key', 'etc/d.log', 'etc/e.conf', 'etc/gone.conf'], 'www-data', undefined), [
      { owner: 'www-data', group: undefined, entries: ['etc/b.conf', 'etc/e.conf', 'etc/gone.conf'] },
      { owner: 'root', group: 'root', entries: ['etc/a.key', 'etc/c.key'] },
      { owner: 'www-data', group: 'adm', entries: ['etc/d.log'] },
    ]);
    assert.deepEqual(ownerPasses(parseMetadata(undefined), ['etc/x'], undefined, undefined), [{ owner: undefined, group: undefined, entries: ['etc/x'] }]);
  });
  it('quotes hostile arguments for the remote shell', () => {
    assert.equal(shellQuote('etc/a.conf'), 'etc/a.conf');
    assert.equal(shellQuote("it's; rm -rf /"), "'it'\\''s; rm -rf /'");
    assert.equal(shCommand('echo "$1"', ['$(reboot)']), "sh -c 'echo \"$1\"' sh '$(reboot)'");
    assert.throws(() => shellQuote('a\0b'));
  });
});

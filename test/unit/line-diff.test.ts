// The dependency-free line diff: exact unified output for known cases, and for random texts a patch that
// `patch` applies to give the new text, with as few changed lines as git's --minimal diff.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { diffLines, isBinary, splitLines, unifiedDiff } from '../../server/src/deploy/line-diff.js';
import { tempDir } from '../helpers/tmp.js';

const names = { oldName: 'host/etc/a.conf', newName: 'git/etc/a.conf' };

describe('unifiedDiff', () => {
  it('gives the same hunks as GNU diff -u (merged when changes are ≤ 6 lines apart, split otherwise)', async () => {
    const tmp = await tempDir('gf-linediff-u-');
    try {
      const lines = (n: number, f: (i: number) => string | undefined) => Array.from({ length: n }, (_, i) => f(i + 1)).filter((x) => x !== undefined).map((x) => `${x}\n`).join('');
      const cases: Array<[string, string]> = [
        [lines(10, (i) => `l${i}`), lines(11, (i) => (i === 5 ? 'L5' : `l${i}`))],
        [lines(20, (i) => `l${i}`), lines(21, (i) => (i === 5 ? 'L5' : `l${i}`))],
        [lines(30, (i) => `l${i}`), lines(30, (i) => (i % 9 === 0 ? undefined : i === 2 ? 'two' : `l${i}`))],
      ];
      for (const [a, b] of cases) {
        writeFileSync(join(tmp.path, 'a'), a);
        writeFileSync(join(tmp.path, 'b'), b);
        let gnu = '';
        try { execFileSync('diff', ['-u', join(tmp.path, 'a'), join(tmp.path, 'b')]); } catch (err) { gnu = String((err as { stdout: Buffer }).stdout); }
        const hunks = (d: string) => d.slice(d.indexOf('@@')).replace(/@@ -(\d+) /g, '@@ -$1,1 ').replace(/\+(\d+) @@/g, '+$1,1 @@');
        assert.equal(hunks(unifiedDiff(a, b, names)), hunks(gnu));
      }
    } finally {
      await tmp.cleanup();
    }
  });
  it('treats an added file and a removed file as one hunk against nothing', () => {
    assert.equal(unifiedDiff('', 'a\nb\n', { oldName: '/dev/null', newName: 'git/x' }), '--- /dev/null\n+++ git/x\n@@ -0,0 +1,2 @@\n+a\n+b\n');
    assert.equal(unifiedDiff('a\n', '', { oldName: 'host/x', newName: '/dev/null' }), '--- host/x\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-a\n');
  });
  it('is empty for equal texts and says so when only the final newline differs', () => {
    assert.equal(unifiedDiff('a\nb\n', 'a\nb\n', names), '');
    assert.match(unifiedDiff('a\nb', 'a\nb\n', names), /only the final newline differs/);
  });
  it('splits lines without an empty last line', () => {
    assert.deepEqual(splitLines('a\nb\n'), ['a', 'b']);
    assert.deepEqual(splitLines('a\n\n'), ['a', '']);
    assert.deepEqual(splitLines(''), []);
  });
});

describe('diffLines against patch and git', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  after(async () => { await tmp?.cleanup(); });
  it('150 random texts: patch applies, and the edit count equals git diff --minimal', async () => {
    tmp = await tempDir('gf-linediff-');
    const f = (n: string) => join(tmp.path, n);
    let seed = 7;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    for (let t = 0; t < 150; t++) {
      const gen = () => `${Array.from({ length: rnd(25) }, () => 'abcdef'[rnd(6)]).join('\n')}\n`;
      const a = gen();
      const b = gen();
      const d = unifiedDiff(a, b, { oldName: 'a', newName: 'b' });
      writeFileSync(f('a'), a); writeFileSync(f('b'), b); writeFileSync(f('c'), a); writeFileSync(f('p'), d);
      if (d) execFileSync('patch', ['-s', f('c'), f('p')]);
      assert.equal(readFileSync(f('c'), 'utf8'), b, `patch of case ${t}`);
      let numstat = '';
      try { execFileSync('git', ['diff', '--no-index', '--minimal', '--numstat', f('a'), f('b')]); } catch (err) { numstat = String((err as { stdout: Buffer }).stdout); }
      const [add, del] = numstat.trim().split(/\s+/).map(Number);
      const edits = diffLines(splitLines(a), splitLines(b)).filter((e) => e.op !== ' ').length;
      assert.equal(edits, numstat ? add! + del! : 0, `edit count of case ${t}`);
    }
  });
});

describe('isBinary', () => {
  it('NUL bytes or invalid UTF-8 are binary; UTF-8 text is not', () => {
    assert.equal(isBinary(Buffer.from('a\0b')), true);
    assert.equal(isBinary(Buffer.from([0xff, 0xfe, 0x41])), true);
    assert.equal(isBinary(Buffer.from('naïve 中文\n')), false);
  });
});

// The host side of a dry run's content diff: the read script's answers, one file's entry from both sides
// (text, added, removed, binary, too large, not read, redacted), and the stored-size cap.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { capHostDiff, fileDiff, parseRead, READ_SCRIPT, type HostFile } from '../../server/src/deploy/host-diff.js';
import { tempDir } from '../helpers/tmp.js';

const file = (s: string | Buffer): HostFile => { const content = Buffer.from(s); return { kind: 'file', size: content.length, content }; };
const staged = (s: string | Buffer) => { const content = Buffer.from(s); return { size: content.length, content }; };
const id = (_p: string, t: string) => t;

describe('parseRead', () => {
  it('reads each answer of the script', () => {
    assert.deepEqual(parseRead(0, Buffer.from('A')), { kind: 'absent' });
    assert.deepEqual(parseRead(0, Buffer.from('L')), { kind: 'not_read', note: 'a link on the host (not followed)' });
    assert.deepEqual(parseRead(0, Buffer.from('O')), { kind: 'not_read', note: 'not a regular file on the host' });
    assert.deepEqual(parseRead(0, Buffer.from('U')), { kind: 'not_read', note: 'not readable by the deploy user' });
    assert.deepEqual(parseRead(0, Buffer.from('F6\nhello\n')), { kind: 'file', size: 6, content: Buffer.from('hello\n') });
    assert.deepEqual(parseRead(0, Buffer.from('F0\n')), { kind: 'file', size: 0, content: Buffer.alloc(0) });
    assert.equal(parseRead(4, Buffer.alloc(0)).kind, 'not_read');
    assert.equal(parseRead(0, Buffer.from('Fx\n')).kind, 'not_read');
    assert.equal(parseRead(0, Buffer.from('AB')).kind, 'not_read');
  });
});

describe('READ_SCRIPT (run by a local sh)', () => {
  it('reads regular files (capped), follows no link on the way, says what it would not read', async () => {
    const tmp = await tempDir('gf-readscript-');
    try {
      const base = await realpath(tmp.path); // the script refuses paths reached through a link: /tmp may be one
      const rel = (p: string) => join(base, p).slice(1); // the script works relative to /
      await mkdir(join(base, 'real'));
      await writeFile(join(base, 'real', 'x.conf'), 'hello world\n');
      await symlink(join(base, 'real'), join(base, 'dirlink'));
      await symlink(join(base, 'real', 'x.conf'), join(base, 'filelink'));
      execFileSync('mkfifo', [join(base, 'fifo')]);
      await writeFile(join(base, '-n'), 'dash\n');
      const read = (p: string, max = 100) => {
        const r = spawnSync('sh', ['-c', READ_SCRIPT, 'sh', String(max), rel(p)], { timeout: 5000 });
        return parseRead(r.status ?? -1, r.stdout);
      };
      assert.deepEqual(read('real/x.conf'), { kind: 'file', size: 12, content: Buffer.from('hello world\n') });
      assert.deepEqual(read('real/x.conf', 5), { kind: 'file', size: 12, content: Buffer.from('hello') });
      assert.deepEqual(read('-n'), { kind: 'file', size: 5, content: Buffer.from('dash\n') });
      assert.equal(read('dirlink/x.conf').kind === 'not_read' && (read('dirlink/x.conf') as { note: string }).note, 'a link on the host (not followed)');
      assert.equal((read('filelink') as { note: string }).note, 'a link on the host (not followed)');
      assert.equal((read('fifo') as { note: string }).note, 'not a regular file on the host');
      assert.deepEqual(read('real/none.conf'), { kind: 'absent' });
      if (process.getuid?.() !== 0) {
        await chmod(join(base, 'real', 'x.conf'), 0);
        assert.equal((read('real/x.conf') as { note: string }).note, 'not readable by the deploy user');
      }
    } finally {
      await tmp.cleanup();
    }
  });
});

describe('fileDiff', () => {
  it('diffs text both ways, and against nothing', () => {
    const m = fileDiff('etc/a.conf', file('x=1\n'), staged('x=2\n'), 1000, id);
    assert.deepEqual(m, { path: '/etc/a.conf', kind: 'modified', hostBytes: 4, newBytes: 4, diff: '--- host/etc/a.conf\n+++ git/etc/a.conf\n@@ -1,1 +1,1 @@\n-x=1\n+x=2\n' });
    assert.equal(fileDiff('etc/n.conf', { kind: 'absent' }, staged('new\n'), 1000, id).diff, '--- /dev/null\n+++ git/etc/n.conf\n@@ -0,0 +1,1 @@\n+new\n');
    const r = fileDiff('etc/old.conf', file('old\n'), undefined, 1000, id);
    assert.equal(r.kind, 'removed');
    assert.equal(r.diff, '--- host/etc/old.conf\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-old\n');
  });
  it('binary and too large files give sizes only', () => {
    assert.deepEqual(fileDiff('bin/x', file(Buffer.from([0, 1, 2])), staged(Buffer.from([0, 1, 2, 3])), 1000, id), { path: '/bin/x', kind: 'binary', hostBytes: 3, newBytes: 4 });
    assert.deepEqual(fileDiff('big', { kind: 'file', size: 5000, content: Buffer.alloc(1001, 'a') }, staged('a\n'), 1000, id), { path: '/big', kind: 'too_large', hostBytes: 5000, newBytes: 2 });
  });
  it('what the host would not show is said, not guessed', () => {
    assert.deepEqual(fileDiff('etc/l', { kind: 'not_read', note: 'a link on the host (not followed)' }, staged('x\n'), 1000, id), { path: '/etc/l', kind: 'not_read', note: 'a link on the host (not followed)', newBytes: 2 });
  });
  it('redaction applies to both sides before the diff', () => {
    const redact = (p: string, t: string) => (p === '/etc/db.conf' ? t.replace(/password=.*/g, 'password=***') : t);
    const d = fileDiff('etc/db.conf', file('password=old\nport=1\n'), staged('password=new\nport=2\n'), 1000, redact);
    assert.doesNotMatch(d.diff!, /old|new/);
    assert.match(d.diff!, /-port=1\n\+port=2/);
    // Only a secret changed: no text diff to show, the file is still listed as modified.
    assert.deepEqual(fileDiff('etc/db.conf', file('password=old\n'), staged('password=new\n'), 1000, redact), { path: '/etc/db.conf', kind: 'modified', note: 'only masked values differ', hostBytes: 13, newBytes: 13 });
    assert.equal(fileDiff('etc/same', file('a\n'), staged('a\n'), 1000, id).kind, 'attributes');
  });
});

describe('capHostDiff', () => {
  it('later diffs lose their text past the cap, their entries stay', () => {
    const files = [1, 2, 3].map((i) => ({ path: `/f${i}`, kind: 'modified' as const, diff: 'x'.repeat(40) }));
    const out = capHostDiff({ files, omitted: 2 }, 100);
    assert.deepEqual(out.files.map((f) => !!f.diff), [true, true, false]);
    assert.match(out.files[2]!.note!, /size cap/);
    assert.equal(out.omitted, 2);
  });
});

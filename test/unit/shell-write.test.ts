// What the shell writes instead of rsync, decided from the probe (pure), file contents through printf %b in a
// real sh (dash) and bash, and the script's report parsed.
const run = promisify(execFile);
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { SHELL_WRITE_MAX_BYTES, SHELL_WRITE_MAX_OPS, parseShellWrite, planShellWrite, printfEscape } from '../../server/src/deploy/shell-write.js';
import { shellQuote } from '../../server/src/util/shell-quote.js';
import type { Expected, Observed } from '../../server/src/deploy/probe.js';

const file = (size: number, md5: string, mode = 0o644): Expected => ({ kind: 'file', mode, size, md5 });
const seen = (type: string, size: number, md5?: string, mode = 0o644): Observed => ({ type, mode, uid: '0', user: 'root', gid: '0', group: 'root', size, md5 });

test('planShellWrite: content, missing file, same content with other mode, removal (file or symlink)', () => {
  const expected = new Map<string, Expected>([
    ['etc/a', file(3, 'aaa')], ['etc/new/b', file(4, 'bbb', 0o755)], ['etc/c', file(5, 'ccc', 0o600)],
    ['etc/gone', { kind: 'absent' }], ['etc/gone-link', { kind: 'absent' }],
  ]);
  const observed = new Map<string, Observed>([
    ['etc/a', seen('regular file', 3, 'zzz')], ['etc/c', seen('regular file', 5, 'ccc', 0o644)],
    ['etc/gone', seen('regular empty file', 0, 'd41d8cd98f00b204e9800998ecf8427e')], ['etc/gone-link', seen('symbolic link', 7)],
  ]);
  const ops = planShellWrite([
    { path: 'etc/a', owner: 'www-data' }, { path: 'etc/new/b', owner: 'app', group: 'app' }, { path: 'etc/c', group: 'adm' },
    { path: 'etc/gone' }, { path: 'etc/gone-link' },
  ], expected, observed);
  assert.deepEqual(ops, [
    { op: 'put', path: 'etc/a', mode: 0o644, size: 3, chown: 'www-data' },
    { op: 'put', path: 'etc/new/b', mode: 0o755, size: 4, chown: 'app:app' },
    { op: 'attrs', path: 'etc/c', mode: 0o600, chown: ':adm' },
    { op: 'drop', path: 'etc/gone' },
    { op: 'drop', path: 'etc/gone-link' },
  ]);
});

test('planShellWrite: anything the shell should not judge is left to rsync (undefined)', () => {
  const one = (want: Expected | undefined, got: Observed | undefined) =>
    planShellWrite([{ path: 'p' }], new Map(want ? [['p', want]] : []), new Map(got ? [['p', got]] : []));
  assert.equal(one(file(1, 'x'), seen('directory', 4096)), undefined, 'a directory where a file goes');
  assert.equal(one(file(1, 'x'), seen('symbolic link', 3)), undefined, 'a symlink where a file goes');
  assert.equal(one(file(1, 'x'), seen('fifo', 0)), undefined);
  assert.equal(one({ kind: 'other' }, undefined), undefined, 'a symlink in git');
  assert.equal(one(undefined, undefined), undefined, 'no expectation');
  assert.equal(one({ kind: 'absent' }, seen('directory', 4096)), undefined, 'git removed a file, the host has a directory');
  assert.equal(one({ kind: 'absent' }, undefined), undefined, 'nothing to remove: not a difference the probe reports');
  assert.ok(one(file(1, 'x'), undefined), 'a missing file is written');
  assert.ok(one(file(1, 'x'), seen('regular empty file', 0, 'd41d8cd98f00b204e9800998ecf8427e')));
});

test('planShellWrite: limits — more than a few files, or too many bytes, go to rsync', () => {
  const n = SHELL_WRITE_MAX_OPS;
  const paths = Array.from({ length: n + 1 }, (_, i) => `etc/f${i}`);
  const expected = new Map<string, Expected>(paths.map((p) => [p, file(10, 'x')]));
  assert.equal(planShellWrite(paths.slice(0, n).map((path) => ({ path })), expected, new Map())?.length, n);
  assert.equal(planShellWrite(paths.map((path) => ({ path })), expected, new Map()), undefined);
  assert.equal(planShellWrite([], expected, new Map()), undefined, 'nothing differs: nothing to write');
  const big = new Map<string, Expected>([['etc/a', file(SHELL_WRITE_MAX_BYTES / 2, 'a')], ['etc/b', file(SHELL_WRITE_MAX_BYTES / 2 + 1, 'b')]]);
  assert.equal(planShellWrite([{ path: 'etc/a' }, { path: 'etc/b' }], big, new Map()), undefined);
  assert.equal(planShellWrite([{ path: 'etc/a' }], big, new Map())?.length, 1);
  // Bytes count only what is sent: a mode-only change of a big file is cheap.
  const same = new Map<string, Observed>([['etc/b', seen('regular file', SHELL_WRITE_MAX_BYTES / 2 + 1, 'b', 0o600)]]);
  assert.deepEqual(planShellWrite([{ path: 'etc/a' }, { path: 'etc/b' }], big, same)?.map((o) => o.op), ['put', 'attrs']);
});

test('parseShellWrite: the +/~/- records in order, names with newlines kept, anything else ignored', () => {
  assert.deepEqual(parseShellWrite(Buffer.from('+etc/a\0~etc/b\0-etc/new\nline\0junk\0\0')), ['+etc/a', '~etc/b', '-etc/new\nline']);
  assert.deepEqual(parseShellWrite(Buffer.alloc(0)), []);
});

test('printfEscape: every byte value, quoted as the script sends it, comes out of printf %b unchanged in dash and bash', async () => {
  const all = Buffer.from([...Array.from({ length: 256 }, (_, i) => i), ...Buffer.from("\\c \\0 %s %b '\" \\\\ end\n\u00e9\u4e2d")]);
  const escaped = printfEscape(all);
  assert.ok(/^[\x09\x0a\x20-\x7e]*$/.test(escaped), 'plain ASCII text only (the script travels as UTF-8)');
  for (const sh of ['/bin/sh', 'bash']) {
    const { stdout } = await run(sh, ['-c', `printf %b ${shellQuote(escaped)}`], { encoding: 'buffer' });
    assert.deepEqual(stdout, all, sh);
  }
});

// The probe's answers parsed, and compared with the staged unit; and the scripts themselves run by a local sh.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { PROBE_STAT_SCRIPT, PROBE_SUM_SCRIPT, addSums, differingPaths, expectedState, parseStat, probeable, regularFiles, statFormat, type Expected, type Observed } from '../../server/src/deploy/probe.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const MD5_A = '0cc175b9c0f1b6a831c399e269772661'; // "a"

const SENTINEL = 'directory|755|0|root|0|root|4096|/';
const stats = (records: string[], sentinel = true) => Buffer.from([...(sentinel ? [SENTINEL] : []), ...records].map((r) => `${r}\0`).join(''));
const sums = (records: string[]) => Buffer.from(records.map((r) => `${r}\0`).join(''));
/** Both answers, as the probe asks them. */
const probe = (st: string[], su: string[]) => {
  const o = parseStat(stats(st));
  return o && addSums(o, sums(su)) ? o : undefined;
};

test('parseStat + addSums: GNU stat and md5sum -z records, names with | and newlines, empty files', () => {
  const o = probe(
    ['regular file|644|33|www-data|33|www-data|1|etc/a|b.conf', 'regular empty file|600|0|root|0|root|0|etc/new\nline', 'symbolic link|777|0|root|0|root|5|etc/link'],
    [`${MD5_A}  etc/a|b.conf`, `d41d8cd98f00b204e9800998ecf8427e  etc/new\nline`],
  )!;
  assert.deepEqual(o.get('etc/a|b.conf'), { type: 'regular file', mode: 0o644, uid: '33', user: 'www-data', gid: '33', group: 'www-data', size: 1, md5: MD5_A });
  assert.equal(o.get('etc/new\nline')!.md5, 'd41d8cd98f00b204e9800998ecf8427e');
  assert.equal(o.get('etc/link')!.md5, undefined);
  assert.equal(o.size, 3, 'the sentinel is not a path');
  assert.deepEqual(regularFiles(o), ['etc/a|b.conf', 'etc/new\nline'], 'what the second question reads: never the symlink');
  assert.equal(parseStat(stats([]))!.size, 0, 'none of the paths exists');
});

test('parseStat + addSums: anything else is undefined or false (so rsync decides)', () => {
  assert.equal(parseStat(Buffer.from('')), undefined, 'no sentinel: stat did not understand --printf');
  assert.equal(parseStat(Buffer.from('stat: unrecognized option --printf\n')), undefined);
  assert.equal(parseStat(stats(['regular file|644|0|root|0|root|1|etc/a'], false)), undefined, 'no sentinel');
  assert.equal(parseStat(Buffer.from(`${SENTINEL}\0regular file|644|0|root|0|root|1|etc/a`)), undefined, 'cut short');
  assert.equal(parseStat(stats(['regular file|64x|0|root|0|root|1|etc/a'])), undefined, 'bad mode');
  assert.equal(probe(['regular file|644|0|root|0|root|1|etc/a'], [`${MD5_A}  etc/other`]), undefined, 'checksum of a path not stat-ed');
  assert.equal(probe(['directory|755|0|root|0|root|4096|etc/d'], [`${MD5_A}  etc/d`]), undefined, 'checksum of a non-file');
  assert.equal(probe([], ['not a checksum line']), undefined);
});

test('differingPaths: content, size, mode, owner by name or id, group, type, absent expectations', () => {
  const file = (md5 = MD5_A): Expected => ({ kind: 'file', mode: 0o644, size: 1, md5 });
  const seen = (o: Partial<Observed> = {}): Observed => ({ type: 'regular file', mode: 0o644, uid: '33', user: 'www-data', gid: '33', group: 'www-data', size: 1, md5: MD5_A, ...o });
  const expected = new Map<string, Expected>([
    ['same', file()], ['content', file('ffffffffffffffffffffffffffffffff')], ['mode', file()], ['owner', file()], ['group', file()],
    ['missing', file()], ['dir', file()], ['gone-ok', { kind: 'absent' }], ['gone-present', { kind: 'absent' }], ['link', { kind: 'other' }],
  ]);
  const observed = new Map<string, Observed>([
    ['same', seen()], ['content', seen()], ['mode', seen({ mode: 0o600 })], ['owner', seen({ user: 'root', uid: '0' })], ['group', seen({ group: 'root', gid: '0' })],
    ['dir', seen({ type: 'directory', md5: undefined })], ['gone-present', seen()], ['link', seen()],
  ]);
  assert.deepEqual(differingPaths(expected, observed, 'www-data', 'www-data'), ['content', 'mode', 'owner', 'group', 'missing', 'dir', 'gone-present', 'link']);
  // Owner/group given as ids match the numeric fields; unset owner/group are not compared (rsync leaves them).
  assert.deepEqual(differingPaths(new Map([['x', file()]]), new Map([['x', seen()]]), '33', '33'), []);
  assert.deepEqual(differingPaths(new Map([['x', file()]]), new Map([['x', seen({ user: 'root', uid: '0' })]])), []);
});

test('probeable: argument size limits', () => {
  assert.equal(probeable(['etc/a']), true);
  assert.equal(probeable(Array.from({ length: 6000 }, (_, i) => `f${i}`)), false);
  assert.equal(probeable(['x'.repeat(300 * 1024)]), false);
});

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => { tmp = await tempDir('gf-probe-'); });
after(() => tmp.cleanup());

test('the script on a real filesystem (with a FIFO) agrees with expectedState of a staged copy', async () => {
  const host = join(tmp.path, 'host');
  const staged = join(tmp.path, 'stage');
  for (const d of [host, staged]) await mkdir(join(d, 'etc/app'), { recursive: true });
  for (const d of [host, staged]) {
    await writeFile(join(d, 'etc/app/same.conf'), 'same\n');
    await writeFile(join(d, 'etc/app/-dash.conf'), 'dash\n');
    await writeFile(join(d, 'etc/app/empty.conf'), '');
  }
  await writeFile(join(staged, 'etc/app/edited.conf'), 'one\n');
  await writeFile(join(host, 'etc/app/edited.conf'), 'two\n');
  await writeFile(join(staged, 'etc/app/mode.conf'), 'm\n');
  await writeFile(join(host, 'etc/app/mode.conf'), 'm\n');
  await chmod(join(host, 'etc/app/mode.conf'), 0o600);
  await writeFile(join(staged, 'etc/app/fifo.conf'), 'f\n');
  await run('mkfifo', [join(host, 'etc/app/fifo.conf')]);
  await writeFile(join(staged, 'etc/app/missing.conf'), 'x\n');
  await symlink('same.conf', join(staged, 'etc/app/link.conf'));
  await symlink('same.conf', join(host, 'etc/app/link.conf'));
  const entries = ['etc/app/-dash.conf', 'etc/app/edited.conf', 'etc/app/empty.conf', 'etc/app/fifo.conf', 'etc/app/link.conf', 'etc/app/missing.conf', 'etc/app/mode.conf', 'etc/app/same.conf', 'etc/app/removed.conf'];
  // The script cds to /: run it with / being the fake host's root (paths are relative), via a chroot-free trick:
  // prefix the entries with the host dir's path relative to /.
  const rel = host.slice(1);
  const ask = async (script: string, paths: string[]) => (await run('sh', ['-c', script, 'sh', ...paths], { encoding: 'buffer', timeout: 10_000 })).stdout;
  const seen = parseStat(await ask(PROBE_STAT_SCRIPT, [statFormat(true), ...entries.map((e) => `${rel}/${e}`)]))!;
  assert.ok(seen, 'GNU stat answered');
  assert.ok(!regularFiles(seen).some((p) => p.endsWith('fifo.conf')), 'the FIFO is never read');
  assert.ok(addSums(seen, await ask(PROBE_SUM_SCRIPT, regularFiles(seen))));
  const observed = new Map([...seen].map(([k, v]) => [k.slice(rel.length + 1), v]));
  const me = String(process.getuid!());
  const name = (await run('id', ['-un'])).stdout.toString().trim();
  assert.equal(observed.get('etc/app/same.conf')!.user, name, 'names when asked for');
  const ids = parseStat(await ask(PROBE_STAT_SCRIPT, [statFormat(false), `${rel}/etc/app/same.conf`]))!;
  assert.deepEqual([ids.get(`${rel}/etc/app/same.conf`)!.user, ids.get(`${rel}/etc/app/same.conf`)!.uid], [me, me], 'otherwise the id stands in for the name');
  const expected = await expectedState(staged, entries);
  assert.deepEqual(differingPaths(expected, observed, me).sort(), ['etc/app/edited.conf', 'etc/app/fifo.conf', 'etc/app/link.conf', 'etc/app/missing.conf', 'etc/app/mode.conf']);
});

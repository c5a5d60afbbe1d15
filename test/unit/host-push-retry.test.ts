// A host push retried after a transient failure keeps what the failed attempt changed: the retry finds those
// files in place and changes nothing, yet the hooks and the restore must know them. rsync cannot be made to
// fail half-way on cue over a real connection, so a stand-in `rsync` (first in PATH, for this test process
// only) plays one that itemized a file and then lost its connection (exit 12; a timeout, exit 30, is not retried), then one with nothing to do.
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { createMetrics } from '../../server/src/metrics.js';
import { pushHost } from '../../server/src/deploy/host-push.js';
import { SshConnections } from '../../server/src/ssh/connections.js';
import { Launcher } from '../../server/src/util/launcher.js';
import { tempDir } from '../helpers/tmp.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let launcher: Launcher;
let ssh: SshConnections;

before(async () => {
  tmp = await tempDir('gf-retry-');
  const bin = join(tmp.path, 'bin');
  await mkdir(bin);
  // Each call appends its number to `calls`; the scripted outcomes are read from `plan` (one line per call).
  await writeFile(join(bin, 'rsync'), [
    '#!/bin/sh',
    `d=${tmp.path}`,
    'n=$(($(wc -l < "$d/calls" 2>/dev/null || echo 0) + 1)); echo "$n" >> "$d/calls"',
    'line=$(sed -n "${n}p" "$d/plan")',
    'printf "%b" "${line#* }"',
    'exit "${line%% *}"',
    '',
  ].join('\n'));
  await chmod(join(bin, 'rsync'), 0o755);
  process.env.PATH = `${bin}:${process.env.PATH}`; // before the launcher starts: it keeps the PATH it started with
  const log = pino({ level: 'silent' });
  launcher = new Launcher({ dir: join(tmp.path, 'run'), log });
  ssh = new SshConnections({
    settings: { user: 'root', port: 22, identityFile: '/dev/null', knownHostsFile: '/dev/null', hostKeyPolicy: 'strict', connectTimeout: 5, keepAliveInterval: 5, keepAliveCountMax: 3 },
    controlDir: join(tmp.path, 'cm'), reuse: false, idleTimeoutSeconds: 60, maxConnections: 10, metrics: createMetrics(false), log, launcher,
  });
  await ssh.init();
});
after(async () => {
  await ssh.closeAll();
  await launcher.close();
  await tmp.cleanup();
});

const push = (retries: number) => pushHost({
  ssh, launcher, target: { ip: '127.0.0.1' }, timeoutSeconds: 10, retries, backoffSeconds: 0, signal: new AbortController().signal, log: pino({ level: 'silent' }),
  plan: { sourceDir: tmp.path, ioTimeoutSeconds: 10, passes: [{ entries: ['etc/a.conf', 'etc/b.conf', 'etc/c.conf'] }] },
  // Nothing to check or remove on the host and no version asked: the stand-in rsync is all this push runs.
  transfer: { entries: ['etc/a.conf', 'etc/b.conf', 'etc/c.conf'], removals: [], replace: [], clear: [], checkDirs: [], dirs: [] },
  rsync: { path: 'rsync', askVersion: false },
});

test('the changes of a failed attempt stay in the result of the retried push', async () => {
  await writeFile(join(tmp.path, 'plan'), [
    '12 >f.st...... etc/a.conf\\n.f...p..... etc/b.conf\\nrsync: connection unexpectedly closed\\n', // changed a, b; then lost
    '0 .f...p..... etc/c.conf\\n',                                                                     // a and b in place already
  ].join('\n'));
  const r = await push(2);
  assert.equal(await readFile(join(tmp.path, 'calls'), 'utf8'), '1\n2\n', 'two attempts');
  assert.equal(r.status, 'succeeded');
  assert.equal(r.attempts, 2);
  assert.deepEqual(r.changes, ['+etc/a.conf', '~etc/b.conf', '~etc/c.conf']);
});

test('a write outranks a later attribute change of the same path; a push that fails for good keeps its changes too', async () => {
  await writeFile(join(tmp.path, 'calls'), '');
  await writeFile(join(tmp.path, 'plan'), ['12 >f+++++++++ etc/a.conf\\n', '12 .f...p..... etc/a.conf\\n'].join('\n'));
  const r = await push(1);
  assert.equal(r.status, 'failed');
  assert.equal(r.attempts, 2);
  assert.deepEqual(r.changes, ['+etc/a.conf'], 'the file was written: a restore must know it');
});

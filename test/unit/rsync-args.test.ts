import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildRsyncArgs, parseItemized, unescapeRsyncName } from '../../server/src/deploy/rsync.js';
import { prunePrefix } from '../../server/src/deploy/host-steps.js';
import { baseSshOptions, destinationOf, rsyncRemoteShell } from '../../server/src/ssh/options.js';
import { toNulList } from '../../server/src/deploy/file-list.js';

const settings = { user: 'root', port: 22, identityFile: '/data/ssh/id_ed25519', knownHostsFile: '/data/ssh/known_hosts', hostKeyPolicy: 'strict' as const, connectTimeout: 10, keepAliveInterval: 5, keepAliveCountMax: 3 };
const plan = { sourceDir: '/data/staging/1/nginx/prod/shop', fileList: '/data/staging/1/files-0.list', sshArgs: ['-p', '22'], user: 'root', host: '192.0.2.10', ioTimeoutSeconds: 60 };

describe('buildRsyncArgs', () => {
  it('builds an argv with checksums, no deletions at all, no implied dirs, and the destination after --', () => {
    const args = buildRsyncArgs({ ...plan, owner: 'www-data', group: 'www-data' });
    assert.deepEqual(args.slice(0, 3), ['--files-from', plan.fileList, '--from0']);
    // Removals go through host-prepare.ts: receivers with the 2025 CVE fixes reject --delete-missing-args.
    assert.ok(!args.some((a) => a.startsWith('--delete')), 'no --delete of any kind');
    for (const flag of ['--out-format=%i %n', '--8-bit-output', '--no-implied-dirs', '--checksum', '--perms', '--links', '--timeout=60', '--owner', '--group', '--chown=www-data:www-data']) assert.ok(args.includes(flag), flag);
    assert.ok(!args.some((a) => a === '--delete' || a === '-a' || a === '--recursive' || a.startsWith('--delete-after')), 'never a blanket delete');
    assert.deepEqual(args.slice(-3), ['--', `${plan.sourceDir}/`, 'root@192.0.2.10:/']);
  });
  it('runs a remote prefix (backup pruning) in the same session via --rsync-path, quoted, silent', () => {
    const prefix = prunePrefix('/var/lib/gitfleet/backups/app~prod~x', 5);
    const args = buildRsyncArgs({ ...plan, fileList: '-', remotePrefix: prefix });
    assert.deepEqual(args.slice(0, 2), ['--files-from', '-']);
    const rp = args.find((a) => a.startsWith('--rsync-path='))!;
    assert.equal(rp, `--rsync-path=${prefix} rsync`);
    assert.match(rp, /'\/var\/lib\/gitfleet\/backups\/app~prod~x' 4 <\/dev\/null >\/dev\/null 2>&1; rsync$/);
    assert.throws(() => buildRsyncArgs({ ...plan, remotePrefix: 'rm -rf /\n' }), /must be a command ending with ";"/);
    assert.ok(!buildRsyncArgs(plan).some((a) => a.startsWith('--rsync-path')));
  });
  it('runs the host rsync named by deploy.ssh.rsyncPath, after the prefix when there is one', () => {
    assert.ok(buildRsyncArgs({ ...plan, rsyncPath: 'sudo rsync' }).includes('--rsync-path=sudo rsync'));
    assert.ok(buildRsyncArgs({ ...plan, rsyncPath: '/opt/rsync/bin/rsync', remotePrefix: 'true;' }).includes('--rsync-path=true; /opt/rsync/bin/rsync'));
    for (const bad of ['rsync; rm -rf /', 'rsync  x', '$(x)', '']) assert.throws(() => buildRsyncArgs({ ...plan, rsyncPath: bad }), /refusing rsync path/);
  });
  it('the prune prefix keeps the newest keep−1 backups in numeric order and touches nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gf-prune-'));
    try {
      const parent = join(dir, 'app~prod~x');
      for (const n of ['1', '2', '3', '9', '10', '11', 'notes', '12a', '*']) mkdirSync(join(parent, n, 'etc'), { recursive: true });
      writeFileSync(join(parent, '5'), 'a plain file with a numeric name\n');
      // As the remote login shell runs it: the prefix, then the command it precedes. Run twice: nothing more goes.
      for (const sh of ['dash', 'bash', 'dash']) assert.equal(execFileSync(sh, ['-c', `${prunePrefix(parent, 3)} echo next`]).toString(), 'next\n');
      assert.deepEqual(readdirSync(parent).sort(), ['*', '10', '11', '12a', 'notes']);
      // An empty or missing backup directory is fine.
      rmSync(parent, { recursive: true });
      mkdirSync(parent);
      assert.equal(execFileSync('dash', ['-c', `${prunePrefix(parent, 3)} ${prunePrefix(join(dir, 'missing'), 3)} echo next`]).toString(), 'next\n');
      assert.deepEqual(readdirSync(parent), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('brackets IPv6 destinations and passes no owner flags when none is configured', () => {
    const args = buildRsyncArgs({ ...plan, host: '2001:db8::1' });
    assert.equal(args.at(-1), 'root@[2001:db8::1]:/');
    assert.ok(!args.some((a) => a.startsWith('--chown') || a === '--owner'));
  });
  const hostile: Array<[string, Partial<typeof plan> & { owner?: string }]> = [
    ['host that is an option', { host: '-oProxyCommand=touch /tmp/pwn' }],
    ['host name instead of IP', { host: 'evil.example.com' }],
    ['host with user part', { host: 'root@192.0.2.1' }],
    ['user with shell chars', { user: 'root;rm -rf /' }],
    ['user that is an option', { user: '-oProxyCommand=x' }],
    ['owner with colon', { owner: 'www:data' }],
    ['relative source dir', { sourceDir: 'staging/x' }],
  ];
  for (const [name, bad] of hostile) {
    it(`refuses ${name}`, () => assert.throws(() => buildRsyncArgs({ ...plan, ...bad })));
  }
});

describe('ssh options', () => {
  it('uses batch mode, our known_hosts and key, no user config, and strict or accept-new checking', () => {
    const d = destinationOf({ ip: '192.0.2.5', port: 2222, user: 'deploy' }, settings);
    assert.deepEqual(d, { user: 'deploy', host: '192.0.2.5', port: 2222 });
    const o = baseSshOptions(settings, d).join(' ');
    for (const s of ['-F /dev/null', 'BatchMode=yes', 'StrictHostKeyChecking=yes', 'UserKnownHostsFile=/data/ssh/known_hosts', 'IdentitiesOnly=yes', 'ConnectTimeout=10', 'ServerAliveInterval=5', '-p 2222']) assert.ok(o.includes(s), s);
    assert.ok(baseSshOptions({ ...settings, hostKeyPolicy: 'accept-new' }, d).includes('StrictHostKeyChecking=accept-new'));
    assert.ok(baseSshOptions({ ...settings, kexAlgorithms: 'curve25519-sha256' }, d).includes('KexAlgorithms=curve25519-sha256'));
    assert.ok(!o.includes('KexAlgorithms'), 'OpenSSH default kex unless configured');
  });
  it('rejects hostile inventory values', () => {
    assert.throws(() => destinationOf({ ip: '-oProxyCommand=x' }, settings));
    assert.throws(() => destinationOf({ ip: '192.0.2.1', user: 'a b' }, settings));
    assert.throws(() => destinationOf({ ip: '192.0.2.1', port: 0 }, settings));
  });
  it('quotes paths with spaces for rsync -e and refuses quotes', () => {
    assert.equal(rsyncRemoteShell(['-o', 'IdentityFile=/a b/key']), "ssh -o 'IdentityFile=/a b/key'");
    assert.throws(() => rsyncRemoteShell(["-o", "x='y'"]));
  });
});

describe('file lists and itemized output', () => {
  it('writes the NUL-separated list rsync reads', () => {
    assert.equal(toNulList(['a', 'b']), 'a\0b\0');
  });
  it('parses rsync --itemize-changes lines', () => {
    const out = ['<f+++++++++ etc/a.conf', '*deleting   etc/gone.conf', 'cd+++++++++ etc/new/', '.f...p..... etc/mode.conf', '<f.st...... etc/changed.conf', ''].join('\n');
    assert.deepEqual(parseItemized(out), [
      { op: 'sent', path: 'etc/a.conf' }, { op: 'deleted', path: 'etc/gone.conf' }, { op: 'dir', path: 'etc/new' },
      { op: 'attrs', path: 'etc/mode.conf' }, { op: 'sent', path: 'etc/changed.conf' },
    ]);
  });
  it('gives names back as they are on the host: UTF-8, spaces, quotes, newlines, backslashes, symlinks', () => {
    // What rsync 3.x prints with --out-format='%i %n' -8 (checked against the real one in test/e2e/hostile-history.test.ts).
    const out = ['>f+++++++++ etc/配置 文件.conf', ">f+++++++++ etc/it's \"q\".conf", '>f+++++++++ etc/two\\#012lines.conf',
      '>f+++++++++ etc/back\\#134#012slash', 'cL+++++++++ etc/link -> x', '>f+++++++++ etc/tab\there', ''].join('\n');
    assert.deepEqual(parseItemized(out).map((c) => c.path), ['etc/配置 文件.conf', 'etc/it\'s "q".conf', 'etc/two\nlines.conf', 'etc/back\\#012slash', 'etc/link -> x', 'etc/tab\there']);
    assert.equal(unescapeRsyncName('a\\#303\\#251'), 'aé', 'escaped bytes of one UTF-8 character');
  });
});

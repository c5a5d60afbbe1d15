// The transfer plan as a table: (git before, git after) → what the host must be checked for, what goes, what
// changes type. The fleet tests (test/e2e/hostile-history.test.ts) prove that each transport carries it out.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ancestors, byComponents, planTransfer, removedCount } from '../../server/src/deploy/transfer-plan.js';
import { checkPrefix, parsePrepare, prepareArgs, refusalReason, rsyncProblem, shellCheckScript, splitCheck, sudoOf } from '../../server/src/deploy/host-prepare.js';
import { shellQuote } from '../../server/src/util/shell-quote.js';

describe('planTransfer', () => {
  const cases: Array<{ name: string; before: string[] | undefined; after: string[]; removals?: string[]; replace?: string[]; clear?: string[]; checkDirs?: string[] }> = [
    { name: 'unknown base: nothing removed, parents still checked', before: undefined, after: ['etc/a/x.conf'], removals: [], checkDirs: ['etc', 'etc/a'] },
    { name: 'one file removed', before: ['etc/a.conf', 'etc/b.conf'], after: ['etc/a.conf'], removals: ['etc/b.conf'], checkDirs: ['etc'] },
    { name: 'a whole directory removed: its files go, deepest first; the dirs they sit in are checked',
      before: ['etc/a.conf', 'etc/d/x', 'etc/d/sub/y'], after: ['etc/a.conf'], removals: ['etc/d/sub/y', 'etc/d/x'], checkDirs: ['etc', 'etc/d', 'etc/d/sub'] },
    { name: 'file → directory: the old file is replaced', before: ['etc/conf.d'], after: ['etc/conf.d/a.conf'], removals: [], replace: ['etc/conf.d'], checkDirs: ['etc', 'etc/conf.d'] },
    { name: 'symlink → directory (same shape as a file in git)', before: ['etc/app/conf.d', 'etc/app/main'], after: ['etc/app/conf.d/x', 'etc/app/main'], replace: ['etc/app/conf.d'] },
    { name: 'directory → file: its files go, then the directory (not checked as a directory: git\'s file may be there already)',
      before: ['etc/x/a', 'etc/x/sub/b'], after: ['etc/x'], removals: ['etc/x/sub/b', 'etc/x/a'], clear: ['etc/x/sub', 'etc/x'], checkDirs: ['etc'] },
    { name: 'directory renamed: old files removed, new ones listed', before: ['etc/old/a', 'etc/old/b'], after: ['etc/new/a', 'etc/new/b'],
      removals: ['etc/old/a', 'etc/old/b'], clear: [], checkDirs: ['etc', 'etc/new', 'etc/old'] },
    { name: 'case-only rename', before: ['etc/App.conf'], after: ['etc/app.conf'], removals: ['etc/App.conf'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = planTransfer(c.after, c.before);
      assert.deepEqual(p.entries, [...c.after].sort());
      if (c.removals) assert.deepEqual(p.removals, c.removals);
      if (c.replace) assert.deepEqual(p.replace, c.replace);
      if (c.clear) assert.deepEqual(p.clear, c.clear);
      if (c.checkDirs) assert.deepEqual(p.checkDirs, c.checkDirs);
    });
  }
  it('counts removals and replacements for the deletion breaker', () => {
    assert.equal(removedCount(planTransfer(['etc/conf.d/a'], ['etc/conf.d', 'etc/b', 'etc/c'])), 3);
  });
  it('orders paths by component, so a directory\'s contents follow it', () => {
    assert.deepEqual(['a/c/x', 'a/c.d', 'a/c', 'a'].sort(byComponents), ['a', 'a/c', 'a/c/x', 'a/c.d']);
    assert.deepEqual(ancestors('a/b/c'), ['a', 'a/b']);
  });
});

describe('the host check (host-prepare) arguments and answers', () => {
  it('tags each path; a replaceable path is looked at as R, not N, in component order; only dirs git dropped are pruned', () => {
    const plan = planTransfer(['etc/conf.d/a', 'etc/conf.d.bak/b'], ['etc/conf.d', 'etc/gone', 'old/x/y']);
    const args = prepareArgs(plan, { backupDir: '/b/1', rsyncVersionOf: 'rsync', prune: ['old', 'old/x', 'etc'] });
    assert.deepEqual(args, ['/b/1', '', 'rsync', 'N', 'etc', 'R', 'etc/conf.d', 'N', 'etc/conf.d.bak', 'D', 'old', 'D', 'old/x',
      'X', 'old/x/y', 'X', 'etc/gone', 'M', 'etc/conf.d', 'P', 'old/x', 'P', 'old']);
  });
  it('parses versions, changes and refusals; names the path and what is there', () => {
    const a = parsePrepare(Buffer.from('Vrsync  version 3.2.7  protocol version 31\nCopyright\0!etc/x/conf.d\0a symlink to /tmp/y\0-etc/gone\0/etc/new\0_old/x\0'));
    assert.deepEqual([a.created, a.pruned], [['etc/new'], ['old/x']]);
    assert.equal(a.rsyncVersion, 'rsync  version 3.2.7  protocol version 31');
    assert.deepEqual(a.changes, ['-etc/gone']);
    assert.equal(refusalReason(a.refused, true), '/etc/x/conf.d is a symlink to /tmp/y (not managed by git): refused; nothing was written on this host');
  });
  it('knows which host rsync versions it can use', () => {
    assert.equal(rsyncProblem('rsync  version 3.2.7  protocol version 31', 'rsync'), undefined);
    assert.equal(rsyncProblem('rsync  version v3.4.1  protocol version 32', 'rsync'), undefined);
    assert.match(rsyncProblem('rsync  version 3.0.9  protocol version 30', 'rsync')!, /3\.0\.9 is too old/);
    assert.match(rsyncProblem('', 'sudo rsync')!, /not installed.*sudo rsync/);
  });
});

describe('the host check riding on rsync\'s command line', () => {
  // As the remote login shell runs it: the prefix, then the command rsync appends (here a stand-in).
  const run = (prefix: string) => spawnSync('dash', ['-c', `${prefix} echo rsync-ran`], { encoding: 'utf8' });
  it('lets rsync start when the check passes, with its records kept apart from the rest of stderr', () => {
    const args = prepareArgs(planTransfer(['gitfleet-test-absent/x.conf'], undefined), { dryRun: true, rsyncVersionOf: 'echo rsync  version 3.2.7' });
    const r = run(checkPrefix(args));
    assert.equal(r.stdout, 'rsync-ran\n', 'the protocol stream (stdout) carries nothing of the check');
    const c = splitCheck(`before\n${r.stderr}after\n`);
    assert.equal(c.exitCode, 0);
    assert.equal(c.answer!.rsyncVersion, 'rsync version 3.2.7 --version', 'what the stand-in printed');
    assert.equal(c.rest, 'before\nafter\n');
  });
  it('stops rsync from starting when the check refuses, and says why', () => {
    // /bin is a link to usr/bin on Debian (merged /usr): a unit writing under it is refused.
    const args = prepareArgs(planTransfer(['bin/gitfleet-test-x'], undefined), { dryRun: true });
    const r = run(checkPrefix(args));
    assert.equal(r.stdout, '');
    assert.equal(r.status, 20);
    const c = splitCheck(r.stderr);
    assert.equal(c.exitCode, 20);
    assert.deepEqual(c.answer!.refused, [{ path: 'bin', why: 'a symlink to usr/bin' }]);
  });
  it('keeps rsync from starting on a host whose rsync is older than 3.1.0', () => {
    const args = prepareArgs(planTransfer(['gitfleet-test-absent/x.conf'], undefined), { dryRun: true, rsyncVersionOf: 'echo rsync  version 3.0.9  protocol version 30' });
    const r = run(checkPrefix(args));
    assert.equal(r.stdout, '', 'rsync did not start');
    const c = splitCheck(r.stderr);
    assert.equal(c.exitCode, 22);
    assert.match(rsyncProblem(c.answer!.rsyncVersion!, 'rsync')!, /3\.0\.9 is too old/);
  });
  it('keeps what a check cut off by a dropped connection had reported', () => {
    const c = splitCheck('@gitfleet-check@\n-etc/gone\0/etc/new\0-etc/ha');
    assert.equal(c.exitCode, -2);
    assert.deepEqual([c.answer!.changes, c.answer!.created], [['-etc/gone'], ['etc/new']], 'the record cut in half is dropped');
  });
  it('finds no answer when the connection failed before the check ran', () => {
    assert.deepEqual(splitCheck('ssh: connect to host 192.0.2.1 port 22: Connection refused\n'), { exitCode: -1, rest: 'ssh: connect to host 192.0.2.1 port 22: Connection refused\n' });
  });
});

describe('the host check under sudo (deploy.ssh.rsyncPath "sudo rsync")', () => {
  it('takes the sudo words of the rsync path', () => {
    assert.equal(sudoOf('rsync'), undefined);
    assert.equal(sudoOf('/opt/rsync/bin/rsync'), undefined);
    assert.equal(sudoOf('sudo rsync'), 'sudo -n');
    assert.equal(sudoOf('sudo -u deploy /usr/bin/rsync'), 'sudo -u deploy -n');
    assert.equal(sudoOf('/usr/bin/sudo rsync'), '/usr/bin/sudo -n');
  });
  it('runs the check through sudo on both ways (riding on rsync, and in the host shell)', () => {
    // A stand-in sudo (none is installed here): it logs its arguments and runs the command after its options.
    const dir = mkdtempSync(join(tmpdir(), 'gf-sudo-'));
    try {
      writeFileSync(join(dir, 'sudo'), '#!/bin/sh\necho "$*" >> "$SUDO_LOG"\nwhile [ "${1#-}" != "$1" ]; do case $1 in -u) shift 2 ;; *) shift ;; esac; done\nexec "$@"\n', { mode: 0o755 });
      const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, SUDO_LOG: join(dir, 'log') };
      const args = prepareArgs(planTransfer(['bin/gitfleet-test-x'], undefined), { dryRun: true });
      const ride = spawnSync('dash', ['-c', `${checkPrefix(args, 'sudo -n')} echo rsync-ran`], { encoding: 'utf8', env });
      assert.equal(ride.status, 20);
      assert.deepEqual(splitCheck(ride.stderr).answer!.refused, [{ path: 'bin', why: 'a symlink to usr/bin' }]);
      // The host shell runs a request as ( set -- ARGS; SCRIPT ) (ssh/remote-shell.ts).
      const inShell = spawnSync('dash', ['-c', `( set -- ${args.map(shellQuote).join(' ')}; ${shellCheckScript('sudo -n')}\n)`], { env });
      assert.equal(inShell.status, 20);
      assert.deepEqual(parsePrepare(inShell.stdout).refused, [{ path: 'bin', why: 'a symlink to usr/bin' }]);
      assert.match(readFileSync(join(dir, 'log'), 'utf8'), /^-n sh -c .*\n-n sh -c /s, 'both ran under sudo -n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

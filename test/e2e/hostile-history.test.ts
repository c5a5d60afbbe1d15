// The transfer corpus: hostile but ordinary histories, each its own unit, pushed to real hosts (real sshd, each
// with its own filesystem) running Debian's current rsync and, in a second fleet, Debian 12's main-archive
// rsync 3.2.7-1+deb12u6 (fetched by scripts/test-rsync.sh). After every push each host's copy of the unit is
// compared with the git tree (type, content, mode, link target) and the rest of the host's filesystem with a
// snapshot taken before (nothing outside the unit may change); a later ordinary commit must deploy.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, syncObserved, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const OLD_RSYNC = resolve(import.meta.dirname, '..', '.tools', 'rsync-3.2.7-1+deb12u6', 'usr', 'bin', 'rsync');
const BACKUPS = '/var/lib/gitfleet/backups';
/** Host paths that change by themselves or by design (the backups), never compared. */
const IGNORED = ['usr', 'dev', 'proc', 'run', 'var/log', 'var/lib/gitfleet', 'root/.ssh', 'lib', 'lib64', 'bin', 'sbin'];

type Spec = string | null | { link: string };

interface Entry { type: 'file' | 'dir' | 'link'; mode: number; digest: string }

/** Every path under root (relative), with what it is; links are not followed. */
async function walk(root: string, skip: (rel: string) => boolean = () => false): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const visit = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip(r)) continue;
      const abs = join(root, r);
      const st = await lstat(abs);
      if (st.isSymbolicLink()) out.set(r, { type: 'link', mode: 0, digest: await readlink(abs) });
      else if (st.isDirectory()) { out.set(r, { type: 'dir', mode: st.mode & 0o7777, digest: '' }); await visit(r); }
      else out.set(r, { type: 'file', mode: st.mode & 0o7777, digest: createHash('sha256').update(await readFile(abs)).digest('hex') });
    }
  };
  if (existsSync(root)) await visit('');
  return out;
}

function corpus(label: string, rsyncPath: string | undefined) {
  describe(`transfer corpus, hosts with ${label}`, () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    let fleet: Fleet;
    let fx: GitFixture;
    let s: TestServer;
    const apps: string[] = [];

    before(async () => {
      tmp = await tempDir('gf-corpus-');
      fleet = await startFleet(join(tmp.path, 'fleet'), 2);
      for (const ip of fleet.ips) await mkdir(fleet.path(ip, '/var/lib'), { recursive: true }); // as on a real host
      if (rsyncPath) {
        assert.ok(existsSync(OLD_RSYNC), `${OLD_RSYNC} is missing: run scripts/test-rsync.sh (install-deps.sh --test does)`);
        for (const ip of fleet.ips) {
          await mkdir(dirname(fleet.path(ip, rsyncPath)), { recursive: true });
          await copyFile(OLD_RSYNC, fleet.path(ip, rsyncPath));
          await chmod(fleet.path(ip, rsyncPath), 0o755);
        }
      }
      fx = await createGitFixture(join(tmp.path, 'git'));
      await fx.commit({ 'README.md': 'corpus\n' });
      s = await startTestServer(join(tmp.path, 'data'), {
        repo: { url: fx.origin },
        deploy: {
          retries: 0, hostTimeout: 20, deletion: { maxFiles: 1000, maxPercent: 100 },
          ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, ...(rsyncPath ? { rsyncPath } : {}) },
        },
        hostSync: { converge: { enabled: false } },
      });
    });
    after(async () => {
      await s?.stop();
      await fleet?.down();
      await tmp?.cleanup();
    });

    /** A unit of its own for each sequence; the hosts run every corpus app. */
    async function unit(app: string) {
      apps.push(app);
      for (const ip of fleet.ips) {
        const found = await s.api(`/api/v1/hosts?ip=${ip}`);
        const body = { ip, env: 'prod', apps: [...apps] };
        const r = found.body.items.length
          ? await s.api(`/api/v1/hosts/${found.body.items[0].id}`, { method: 'PUT', body })
          : await s.api('/api/v1/hosts', { method: 'POST', body });
        assert.ok(r.status < 300, JSON.stringify(r.body));
      }
      const base = `corpus/prod/${app}`;
      const dir = `srv/${app}`;
      /** Change the work tree (null = remove, recursively), commit and push. */
      const commit = async (files: Record<string, Spec>, message?: string) => {
        for (const [p, spec] of Object.entries(files)) {
          const abs = join(fx.work, base, p);
          await rm(abs, { recursive: true, force: true });
          if (spec === null) continue;
          await mkdir(dirname(abs), { recursive: true });
          if (typeof spec === 'string') await writeFile(abs, spec); else await symlink(spec.link, abs);
        }
        return fx.commit({}, message ?? `${app}: ${Object.keys(files).join(', ')}`);
      };
      const snapshot = (ip: string) => walk(fleet.path(ip, '/'), (r) => IGNORED.includes(r) || r === dir);
      /** Push the unit; check every host against git and the rest of its filesystem against `before`. */
      const sync = async (extra = '', opts: { expect?: string; before?: Map<string, Map<string, Entry>> } = {}) => {
        const before = opts.before ?? new Map(await Promise.all(fleet.ips.map(async (ip) => [ip, await snapshot(ip)] as const)));
        const r = await syncObserved(s, `env=prod&app=${app}${extra}`);
        assert.equal(r.body.status, opts.expect ?? 'succeeded', JSON.stringify(r.body.hosts, null, 1));
        for (const ip of fleet.ips) {
          const outside = await snapshot(ip);
          assert.deepEqual([...outside].filter(([p, e]) => JSON.stringify(before.get(ip)!.get(p)) !== JSON.stringify(e)).map(([p]) => p),
            [...before.get(ip)!.keys()].filter((p) => !outside.has(p)), `${ip}: nothing outside the unit changed`);
          assert.deepEqual([...before.get(ip)!.keys()].filter((p) => !outside.has(p)), [], `${ip}: nothing outside the unit removed`);
        }
        return r;
      };
      /** Directories that were on the hosts before gitfleet (not its own: never removed). */
      const preexisting = new Set<string>();
      /** The host holds exactly git's files, links and directories (plus directories that were there before gitfleet). */
      const matches = async (ip: string) => {
        const want = await walk(join(fx.work, base, dir));
        const got = await walk(fleet.path(ip, `/${dir}`));
        for (const [p, e] of want) if (e.type !== 'dir') assert.deepEqual(got.get(p), { ...e, mode: e.type === 'file' ? e.mode & 0o755 : 0 }, `${ip}: /${dir}/${p}`);
        for (const [p, e] of got) {
          if (want.has(p)) { assert.equal(e.type, want.get(p)!.type, `${ip}: /${dir}/${p} type`); continue; }
          assert.ok(e.type === 'dir' && preexisting.has(p), `${ip}: /${dir}/${p} (${e.type}) is not in git`);
        }
      };
      const allMatch = async () => { for (const ip of fleet.ips) await matches(ip); };
      /** A later ordinary commit deploys (the unit is not wedged). */
      const ordinary = async () => {
        await commit({ [`${dir}/ordinary.conf`]: `ordinary ${Date.now()}\n` });
        await sync();
        await allMatch();
      };
      return { dir, commit, sync, allMatch, ordinary, snapshot, preexisting, onHost: (ip: string, p: string) => fleet.path(ip, `/${dir}/${p}`) };
    }

    it('removals: one file, more than 8 files, a whole directory', async () => {
      const u = await unit('removals');
      // A directory the host had before gitfleet: git's files come and go in it, it stays.
      for (const ip of fleet.ips) await mkdir(u.onHost(ip, 'keep.d'), { recursive: true });
      u.preexisting.add('keep.d');
      const many = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`${u.dir}/many/m${i}.conf`, `m${i}\n`]));
      await u.commit({ [`${u.dir}/a.conf`]: 'a\n', [`${u.dir}/b.conf`]: 'b\n', [`${u.dir}/d/x.conf`]: 'x\n', [`${u.dir}/d/sub/y.conf`]: 'y\n', [`${u.dir}/keep.d/k.conf`]: 'k\n', ...many });
      await u.sync(); await u.allMatch();
      await u.commit({ [`${u.dir}/b.conf`]: null });
      const one = await u.sync(); await u.allMatch();
      for (const ip of fleet.ips) assert.deepEqual(one.changes(ip), [`-${u.dir}/b.conf`]);
      await u.commit(Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`${u.dir}/many/m${i}.conf`, null])));
      await u.sync(); await u.allMatch();
      await u.commit({ [`${u.dir}/d`]: null, [`${u.dir}/keep.d`]: null });
      const whole = await u.sync(); await u.allMatch(); // d/ and d/sub/ (gitfleet's) are gone, keep.d/ stays
      for (const ip of fleet.ips) {
        assert.deepEqual(whole.changes(ip), [`-${u.dir}/d/sub/y.conf`, `-${u.dir}/d/x.conf`, `-${u.dir}/keep.d/k.conf`]);
        assert.equal(existsSync(u.onHost(ip, 'd')), false, 'a directory gitfleet created, emptied by git, is removed');
        assert.ok((await lstat(u.onHost(ip, 'keep.d'))).isDirectory(), 'a directory the host had before stays');
      }
      assert.equal(existsSync(fleet.path(fleet.ips[0]!, `${BACKUPS}/corpus~prod~removals/${whole.body.id}/${u.dir}/d/x.conf`)), true, 'a removed file is kept in the backup');
      await u.ordinary();
    });

    it('renames: a file, a directory of 10, a case-only rename', async () => {
      const u = await unit('renames');
      const ten = (d: string, v: string | null) => Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`${u.dir}/${d}/f${i}.conf`, v === null ? null : `${v}${i}\n`]));
      await u.commit({ [`${u.dir}/old.conf`]: 'o\n', [`${u.dir}/App.conf`]: 'case\n', ...ten('olddir', 'f') });
      await u.sync(); await u.allMatch();
      await u.commit({ [`${u.dir}/old.conf`]: null, [`${u.dir}/new.conf`]: 'o\n' });
      await u.sync(); await u.allMatch();
      await u.commit({ ...ten('olddir', null), ...ten('newdir', 'f') });
      await u.sync(); await u.allMatch();
      await u.commit({ [`${u.dir}/App.conf`]: null, [`${u.dir}/app.conf`]: 'case\n' });
      await u.sync(); await u.allMatch();
      await u.ordinary();
    });

    it('file → directory → file, and a directory → symlink, in one push each', async () => {
      const u = await unit('types');
      await u.commit({ [`${u.dir}/x`]: 'a file\n', [`${u.dir}/y/in.conf`]: 'in\n' });
      await u.sync(); await u.allMatch();
      await u.commit({ [`${u.dir}/x`]: null, [`${u.dir}/x/inner.conf`]: 'now a dir\n' });
      await u.sync(); await u.allMatch();
      await u.commit({ [`${u.dir}/x`]: 'a file again\n' });
      await u.sync(); await u.allMatch();
      await u.commit({ [`${u.dir}/y`]: { link: 'x' } });
      await u.sync(); await u.allMatch();
      await u.ordinary();
    });

    for (const [kind, target, big] of [['absolute', '/tmp/elsewhere', false], ['relative', '../other-app', true]] as const) {
      it(`a symlink (${kind} target) that becomes a real directory: nothing is written through the old link (${big ? 'rsync' : 'shell'} path)`, async () => {
        const u = await unit(`link-${kind}`);
        await u.commit({ [`${u.dir}/conf.d`]: { link: target }, [`${u.dir}/main.conf`]: 'main\n' });
        await u.sync(); await u.allMatch();
        // What the old link points at on the hosts: another app's files, not gitfleet's.
        const pointed = (ip: string) => (target.startsWith('/') ? fleet.path(ip, target) : fleet.path(ip, `/srv/other-app`));
        for (const ip of fleet.ips) { await mkdir(pointed(ip), { recursive: true }); await writeFile(join(pointed(ip), 'theirs.conf'), 'theirs\n'); }
        const files = big ? Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`${u.dir}/conf.d/c${i}.conf`, `c${i}\n`])) : { [`${u.dir}/conf.d/one.conf`]: 'one\n' };
        await u.commit({ [`${u.dir}/conf.d`]: null, ...files });
        const r = await u.sync();
        await u.allMatch();
        for (const ip of fleet.ips) {
          assert.deepEqual(await readdir(pointed(ip)), ['theirs.conf'], `${ip}: the old link's target is untouched`);
          assert.ok((await lstat(u.onHost(ip, 'conf.d'))).isDirectory());
          assert.ok(r.changes(ip).includes(`-${u.dir}/conf.d`), 'the replaced link is recorded');
        }
        await u.ordinary();
      });
    }

    it('a failed validate after type changes puts the previous state back without following any link', async () => {
      const u = await unit('typerestore');
      const [A] = fleet.ips as [string];
      const outside = fleet.path(A, '/srv/typerestore-avail');
      await mkdir(outside, { recursive: true });
      await writeFile(join(outside, 'default'), 'theirs\n'); // what the unit's link points at: not gitfleet's
      await u.commit({ [`${u.dir}/sites`]: { link: '/srv/typerestore-avail' }, [`${u.dir}/x/a`]: 'a\n', [`${u.dir}/d/f`]: 'f\n',
        '.gitfleet.yaml': 'hooks:\n  validate: "test ! -e /etc/fail-typerestore"\n' });
      await u.sync(); await u.allMatch();
      const before = new Map(await Promise.all(fleet.ips.map(async (ip) => [ip, await u.snapshot(ip)] as const)));
      const hostBefore = await walk(u.onHost(A, ''));
      await writeFile(fleet.path(A, '/etc/fail-typerestore'), 'x');
      before.set(A, await u.snapshot(A));
      // link → directory, directory → file, directory → link, all in one push that A's validate rejects.
      await u.commit({ [`${u.dir}/sites`]: null, [`${u.dir}/sites/default`]: 'git\'s\n', [`${u.dir}/x`]: null, [`${u.dir}/x`]: 'now a file\n',
        [`${u.dir}/d`]: { link: '/srv/typerestore-avail' } });
      const r = await u.sync('', { expect: 'partial', before });
      assert.match(r.host(A).reason, /validate hook failed.*previous files restored/, r.host(A).reason);
      assert.deepEqual(await readdir(outside), ['default']);
      assert.equal(await readFile(join(outside, 'default'), 'utf8'), 'theirs\n', 'the old link\'s target is untouched');
      assert.deepEqual(await walk(u.onHost(A, '')), hostBefore, 'A is back to what it held');
      await rm(fleet.path(A, '/etc/fail-typerestore'));
      await u.ordinary();
    });

    it('a directory that became a file deploys after a push that failed once rsync had put the file there', async () => {
      const u = await unit('afterfail');
      await u.commit({ [`${u.dir}/x/a`]: 'a\n', '.gitfleet.yaml': 'hooks:\n  reload: "test ! -e /etc/fail-afterfail"\n' });
      await u.sync(); await u.allMatch();
      const [A] = fleet.ips as [string];
      await writeFile(fleet.path(A, '/etc/fail-afterfail'), 'x');
      const before = new Map(await Promise.all(fleet.ips.map(async (ip) => [ip, await u.snapshot(ip)] as const)));
      await u.commit({ [`${u.dir}/x`]: null, [`${u.dir}/x`]: 'a file now\n' });
      const r = await u.sync('', { expect: 'partial', before });
      assert.match(r.host(A).reason, /reload hook failed.*stay in place/);
      await rm(fleet.path(A, '/etc/fail-afterfail'));
      // A's commit did not advance: the next push plans from the directory again, and finds git's file there.
      await u.sync(); await u.allMatch();
      await u.ordinary();
    });

    it('an operator-made symlink in place of a managed directory is refused with the path named; the unit is not wedged', async () => {
      const u = await unit('operator');
      await u.commit({ [`${u.dir}/d/a.conf`]: 'a\n', [`${u.dir}/d/b.conf`]: 'b\n' });
      await u.sync(); await u.allMatch();
      const [A, B] = fleet.ips as [string, string];
      await mkdir(fleet.path(A, '/tmp/op'), { recursive: true });
      await writeFile(fleet.path(A, '/tmp/op/a.conf'), 'the operator\'s\n');
      await rm(u.onHost(A, 'd'), { recursive: true });
      await symlink('/tmp/op', u.onHost(A, 'd'));
      const before = new Map(await Promise.all(fleet.ips.map(async (ip) => [ip, await u.snapshot(ip)] as const)));
      await u.commit({ [`${u.dir}/d/a.conf`]: 'a2\n' });
      const r = await u.sync('', { expect: 'partial', before });
      assert.equal(r.host(A).reason, `/${u.dir}/d is a symlink to /tmp/op (not managed by git): refused; nothing was written on this host`);
      assert.equal(await readFile(fleet.path(A, '/tmp/op/a.conf'), 'utf8'), 'the operator\'s\n', 'the link target is untouched');
      await u.allMatch().catch(() => undefined);
      await (async () => { await rm(u.onHost(A, 'd')); })(); // the operator puts it back
      await u.ordinary();
      assert.equal(await readFile(u.onHost(A, 'd/a.conf'), 'utf8'), 'a2\n');
      assert.equal(await readFile(u.onHost(B, 'd/a.conf'), 'utf8'), 'a2\n');
    });

    it('a directory git never held, where git now adds a file, is refused with the path named and left whole', async () => {
      const u = await unit('unmanaged');
      await u.commit({ [`${u.dir}/a.conf`]: 'a\n' });
      await u.sync(); await u.allMatch();
      const [A] = fleet.ips as [string];
      await mkdir(u.onHost(A, 'thing'), { recursive: true });
      await writeFile(u.onHost(A, 'thing/theirs'), 'theirs\n');
      const before = new Map(await Promise.all(fleet.ips.map(async (ip) => [ip, await u.snapshot(ip)] as const)));
      await u.commit({ [`${u.dir}/thing`]: 'git\'s file\n' });
      const r = await u.sync('', { expect: 'partial', before });
      assert.equal(r.host(A).reason, `/${u.dir}/thing is a directory holding files not managed by git, where git has a file or link: refused`);
      assert.equal(await readFile(u.onHost(A, 'thing/theirs'), 'utf8'), 'theirs\n');
      await rm(u.onHost(A, 'thing'), { recursive: true }); // the operator moves it away
      await u.ordinary();
    });

    it('a dry run of removals reports them and changes nothing', async () => {
      const u = await unit('dryrun');
      await u.commit({ [`${u.dir}/keep.conf`]: 'k\n', [`${u.dir}/gone.conf`]: 'g\n' });
      await u.sync(); await u.allMatch();
      await u.commit({ [`${u.dir}/gone.conf`]: null });
      const r = await syncObserved(s, 'env=prod&app=dryrun&dryRun=true');
      assert.equal(r.body.status, 'succeeded');
      for (const ip of fleet.ips) {
        assert.deepEqual(r.changes(ip), [`-${u.dir}/gone.conf`]);
        assert.equal(await readFile(u.onHost(ip, 'gone.conf'), 'utf8'), 'g\n', 'still there');
      }
      await u.sync(); await u.allMatch();
    });

    it('names with spaces, quotes, a newline and CJK characters are recorded as they are, and restored after a failed validate', async () => {
      const u = await unit('names');
      const names = ['with space.conf', 'it\'s "quoted".conf', 'new\nline.conf', '配置文件.conf', 'back\\#012slash'];
      await u.commit(Object.fromEntries(names.map((n) => [`${u.dir}/${n}`, `v1 ${n}\n`])));
      const first = await u.sync(); await u.allMatch();
      for (const ip of fleet.ips) assert.deepEqual(first.changes(ip), names.map((n) => `+${u.dir}/${n}`).sort());
      await u.commit({ '.gitfleet.yaml': 'hooks:\n  validate: "test ! -e /etc/fail-names"\n' });
      await u.sync();
      const [A] = fleet.ips as [string];
      await writeFile(fleet.path(A, '/etc/fail-names'), 'x');
      await u.commit({ ...Object.fromEntries(names.map((n) => [`${u.dir}/${n}`, `v2 ${n}\n`])), [`${u.dir}/新.conf`]: 'new\n' });
      const before = new Map(await Promise.all(fleet.ips.map(async (ip) => [ip, await u.snapshot(ip)] as const)));
      const r = await u.sync('', { expect: 'partial', before });
      assert.match(r.host(A).reason, /validate hook failed.*previous files restored \(6 written and 0 removed/);
      for (const n of names) assert.equal(await readFile(u.onHost(A, n), 'utf8'), `v1 ${n}\n`, `restored: ${JSON.stringify(n)}`);
      assert.equal(existsSync(u.onHost(A, '新.conf')), false, 'the new file is gone again');
      await rm(fleet.path(A, '/etc/fail-names'));
      await u.ordinary();
    });

    it('the deletion breaker holds a push that removes more than allowed, and nothing is removed', async () => {
      const u = await unit('breaker');
      await u.commit({ '.gitfleet.yaml': 'deletion:\n  maxFiles: 2\n', ...Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`${u.dir}/f${i}`, `${i}\n`])) });
      await u.sync(); await u.allMatch();
      await u.commit(Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`${u.dir}/f${i}`, null])));
      const r = await s.api('/sync?env=prod&app=breaker');
      assert.equal(r.body.unitResults[0].status, 'held', JSON.stringify(r.body.unitResults));
      for (const ip of fleet.ips) assert.equal(existsSync(u.onHost(ip, 'f0')), true);
      const ok = await s.api(`/api/v1/deployments/${r.body.id}/confirm`, { method: 'POST' });
      assert.equal(ok.status, 202, JSON.stringify(ok.body));
      const id = ok.body.queued[0] as number;
      for (let i = 0; i < 200; i++) {
        const d = await s.api(`/api/v1/deployments/${id}`);
        if (['succeeded', 'partial', 'failed'].includes(d.body.status)) { assert.equal(d.body.status, 'succeeded', JSON.stringify(d.body)); break; }
        await new Promise((res) => setTimeout(res, 100));
      }
      await u.allMatch();
      for (const ip of fleet.ips) assert.deepEqual([0, 1, 2, 3].map((i) => existsSync(u.onHost(ip, `f${i}`))), [false, false, false, true], 'confirmed: removed');
      await u.ordinary();
    });

    it('records each host\'s rsync version in its API record, and asks again once the answer is a day old', async () => {
      const check = async () => {
        const list = await s.api('/api/v1/hosts');
        for (const h of list.body.items) {
          assert.ok(h.rsync, JSON.stringify(h));
          assert.equal(h.rsync.supported, true);
          if (rsyncPath) assert.equal(h.rsync.version, '3.2.7');
          else assert.match(h.rsync.versionLine, /^rsync\s+version/);
        }
      };
      await check();
      // As if the hosts had been checked two days ago with another rsync: the next push asks again.
      const old = new Date(Date.now() - 2 * 86_400_000).toISOString();
      await s.ctx.db.run('UPDATE host_rsync SET version_line = ?, checked_at = ?', ['rsync  version 3.1.3  protocol version 31', old]);
      const u = await unit('recheck');
      await u.commit({ [`${u.dir}/a.conf`]: 'a\n' });
      await u.sync();
      await check();
      const list = await s.api('/api/v1/hosts');
      for (const h of list.body.items) assert.ok(h.rsync.checkedAt > old);
    });

    it('a forced push of one host goes through rsync for every file', async () => {
      const u = await unit('force');
      await u.commit({ [`${u.dir}/a.conf`]: 'a\n' });
      await u.sync(); await u.allMatch();
      const [A, B] = fleet.ips as [string, string];
      const r = await u.sync(`&force=true&host=${A}`);
      assert.deepEqual(r.body.hosts.map((h: { ip: string }) => h.ip), [A]);
      assert.deepEqual([r.probe(A), r.rsyncs(A) > 0], [[], true]);
      assert.equal(r.body.hosts.some((h: { ip: string }) => h.ip === B), false);
      const unknown = await s.api('/sync?env=prod&app=force&force=true&host=192.0.2.99');
      assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
      assert.match(unknown.body.error.message, /192\.0\.2\.99/);
    });
  });
}

corpus('Debian\'s current rsync', undefined);
corpus('rsync 3.2.7-1+deb12u6', '/opt/rsync-3.2.7/rsync');

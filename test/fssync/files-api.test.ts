// File listing and download through the real server: /getfile (fssync form) and /api/v1/units/:mod/:env/:app/files|file,
// checked against the real content of a real git repo (sha256, size, mode, blob ids), plus input validation and auth.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFssyncModule } from '../../server/src/fssync/module.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const API_TOKEN = 'api-token-for-fssync-tests-0123';
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('fssync file listing and download', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fx: GitFixture;
  let s: TestServer;
  let first: string;
  const binary = randomBytes(3000);
  const FILES: Record<string, string> = {
    'nginx/prod/shop/etc/nginx/conf.d/shop.conf': 'server { listen 80; }\n',
    'nginx/prod/shop/etc/shared.conf': 'from nginx\n',
    'tomcat/prod/shop/opt/shop/conf/app.properties': 'port=8080\n',
    'tomcat/prod/shop/etc/shared.conf': 'from tomcat\n',
    'nginx/test/shop/etc/nginx/conf.d/shop.conf': 'test env\n',
    'README.md': 'not a unit\n',
  };

  before(async () => {
    tmp = await tempDir('gf-fssync-files-');
    fx = await createGitFixture(join(tmp.path, 'git'));
    first = await fx.commit({ ...FILES, 'nginx/prod/shop/usr/local/bin/reload.sh': '#!/bin/sh\necho old\n' });
    // An executable, a symlink and a binary file in the second commit.
    await chmod(join(fx.work, 'nginx/prod/shop/usr/local/bin/reload.sh'), 0o755);
    await symlink('conf.d/shop.conf', join(fx.work, 'nginx/prod/shop/etc/nginx/current.conf'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(fx.work, 'nginx/prod/shop/etc/nginx/blob.bin'), binary);
    await fx.commit({ 'nginx/prod/shop/usr/local/bin/reload.sh': '#!/bin/sh\necho new\n' });
    s = await startTestServer(join(tmp.path, 'data'), { repo: { url: fx.origin }, api: { tokens: [API_TOKEN] } }, { modules: [createFssyncModule()] });
  });

  after(async () => {
    await s?.stop();
    await tmp?.cleanup();
  });

  const raw = (path: string, headers: Record<string, string> = {}) => fetch(s.url + path, { headers: { authorization: `Bearer ${API_TOKEN}`, ...headers } });
  const blobId = async (repoPath: string, rev = 'HEAD') => (await fx.git.revparse([`${rev}:${repoPath}`])).trim();

  it('GET /getfile lists every file of env/app (all mods) as repo paths, one per line', async () => {
    const res = await raw('/getfile?env=prod&app=shop');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/plain; charset=utf-8/);
    assert.equal(res.headers.get('x-gitfleet-commit'), await fx.head());
    assert.deepEqual((await res.text()).split('\n'), [
      'nginx/prod/shop/etc/nginx/blob.bin',
      'nginx/prod/shop/etc/nginx/conf.d/shop.conf',
      'nginx/prod/shop/etc/nginx/current.conf',
      'nginx/prod/shop/etc/shared.conf',
      'nginx/prod/shop/usr/local/bin/reload.sh',
      'tomcat/prod/shop/etc/shared.conf',
      'tomcat/prod/shop/opt/shop/conf/app.properties',
      '',
    ]);
    const one = await raw('/getfile?env=prod&app=shop&mod=tomcat');
    assert.deepEqual((await one.text()).trim().split('\n'), ['tomcat/prod/shop/etc/shared.conf', 'tomcat/prod/shop/opt/shop/conf/app.properties']);
  });

  it('GET /getfile needs the API token, and answers 404 for unknown units', async () => {
    assert.equal((await fetch(`${s.url}/getfile?env=prod&app=shop`)).status, 401);
    assert.equal((await fetch(`${s.url}/getfile?env=prod&app=shop`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    const missing = await s.api('/getfile?env=prod&app=nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'not_found');
    assert.equal((await s.api('/getfile?env=prod&app=shop&mod=redis')).status, 404);
  });

  it('refuses hostile or malformed input with 400 before touching git', async () => {
    const bad = [
      '/getfile?env=../prod&app=shop', '/getfile?env=prod&app=shop/x', '/getfile?app=shop', '/getfile?env=prod&app=-x',
      '/getfile?env=prod&app=shop&mod=..', '/getfile?env=prod&app=shop&path=/etc/passwd', '/getfile?env=prod&app=shop&path=../../etc/passwd',
      '/getfile?env=prod&app=shop&path=etc/../../x', '/getfile?env=prod&app=shop&path=etc//x', '/getfile?env=prod&app=shop&path=etc%0Ax',
      '/getfile?env=prod&app=shop&commit=--upload-pack=x', '/getfile?env=prod&app=shop&commit=HEAD~1',
      '/getfile?env=prod&app=shop&env=test', '/api/v1/units/nginx/prod/shop/file', '/api/v1/units/nginx/prod/shop/file?path=/etc/x',
      '/api/v1/units/nginx/prod/shop/files?commit=xyz', '/api/v1/units/ngi%20nx/prod/shop/files',
    ];
    for (const p of bad) {
      const r = await s.api(p);
      assert.equal(r.status, 400, `${p}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'validation_failed');
    }
  });

  it('the JSON listing gives path on host, size, mode and a sha256 that matches the real content', async () => {
    const r = await s.api('/api/v1/units/nginx/prod/shop/files');
    assert.equal(r.status, 200);
    assert.equal(r.body.unit, 'nginx/prod/shop');
    assert.equal(r.body.commit, await fx.head());
    const { readFile, readlink } = await import('node:fs/promises');
    const byPath = new Map<string, any>(r.body.files.map((f: any) => [f.path, f]));
    assert.deepEqual([...byPath.keys()], ['etc/nginx/blob.bin', 'etc/nginx/conf.d/shop.conf', 'etc/nginx/current.conf', 'etc/shared.conf', 'usr/local/bin/reload.sh']);
    for (const f of r.body.files) {
      const abs = join(fx.work, f.repoPath);
      const content = f.type === 'symlink' ? Buffer.from(await readlink(abs)) : await readFile(abs);
      assert.equal(f.sha256, sha256(content), f.path);
      assert.equal(f.size, content.length, f.path);
      assert.equal(f.blob, await blobId(f.repoPath), f.path);
      assert.equal(f.repoPath, `nginx/prod/shop/${f.path}`);
    }
    assert.equal(byPath.get('usr/local/bin/reload.sh').mode, '0755');
    assert.equal(byPath.get('etc/shared.conf').mode, '0644');
    assert.equal(byPath.get('etc/nginx/current.conf').type, 'symlink');
    assert.equal(byPath.get('etc/nginx/blob.bin').sha256, sha256(binary));
  });

  it('lists at an earlier commit with ?commit= (full id or prefix), 404 for an unknown one', async () => {
    const r = await s.api(`/api/v1/units/nginx/prod/shop/files?commit=${first.slice(0, 10)}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.commit, first);
    const script = r.body.files.find((f: any) => f.path === 'usr/local/bin/reload.sh');
    assert.equal(script.sha256, sha256('#!/bin/sh\necho old\n'));
    assert.equal(script.mode, '0644');
    assert.equal(r.body.files.length, 3, 'no symlink or binary yet');
    assert.equal((await s.api(`/api/v1/units/nginx/prod/shop/files?commit=${'0'.repeat(40)}`)).status, 404);
    assert.equal((await s.api('/api/v1/units/redis/prod/shop/files')).status, 404);
  });

  it('downloads a file by path: raw bytes, octet-stream, ETag = blob id, 304 on If-None-Match', async () => {
    const res = await raw('/api/v1/units/nginx/prod/shop/file?path=etc/nginx/blob.bin');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    const etag = `"${await blobId('nginx/prod/shop/etc/nginx/blob.bin')}"`;
    assert.equal(res.headers.get('etag'), etag);
    assert.equal(res.headers.get('x-gitfleet-sha256'), sha256(binary));
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), binary);
    const again = await raw('/api/v1/units/nginx/prod/shop/file?path=etc/nginx/blob.bin', { 'if-none-match': etag });
    assert.equal(again.status, 304);
    const old = await raw(`/api/v1/units/nginx/prod/shop/file?path=usr/local/bin/reload.sh&commit=${first}`);
    assert.equal(await old.text(), '#!/bin/sh\necho old\n');
    assert.equal(old.headers.get('x-gitfleet-commit'), first);
  });

  it('downloads through /getfile with path: the one unit of env/app that has it, or mod when several do', async () => {
    const res = await raw('/getfile?env=prod&app=shop&path=opt/shop/conf/app.properties');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'port=8080\n');
    const both = await s.api('/getfile?env=prod&app=shop&path=etc/shared.conf');
    assert.equal(both.status, 400);
    assert.match(both.body.error.message, /several units \(nginx, tomcat\)/);
    assert.equal(await (await raw('/getfile?env=prod&app=shop&mod=tomcat&path=etc/shared.conf')).text(), 'from tomcat\n');
    assert.equal(await (await raw('/getfile?env=test&app=shop&path=etc/nginx/conf.d/shop.conf')).text(), 'test env\n');
  });

  it('404 for a missing file, a directory or a symlink', async () => {
    for (const p of ['etc/nope.conf', 'etc/nginx', 'etc/nginx/current.conf']) {
      const r = await s.api(`/api/v1/units/nginx/prod/shop/file?path=${p}`);
      assert.equal(r.status, 404, p);
      assert.equal(r.body.error.code, 'not_found');
    }
    assert.equal((await s.api('/getfile?env=prod&app=shop&path=README.md')).status, 404);
  });

  it('sees a new push to the branch (the head is fetched again after 2 s)', async () => {
    const head = await fx.commit({ 'nginx/prod/shop/etc/shared.conf': 'changed\n' });
    await sleep(2100);
    const r = await s.api('/api/v1/units/nginx/prod/shop/files');
    assert.equal(r.body.commit, head);
    assert.equal(r.body.files.find((f: any) => f.path === 'etc/shared.conf').sha256, sha256('changed\n'));
  });
});

// /modify end to end: a real commit in the origin repo with the request's author, a deployment that lands the file on a
// simulated host; a concurrent push between our fetch and our push is retried on the new head and never overwritten.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { simpleGit } from 'simple-git';
import { createFssyncModule } from '../../server/src/fssync/module.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const API_TOKEN = 'api-token-for-modify-tests-01234';
const PROPS = 'tomcat/prod/billing/opt/billing/conf/app.properties';
const INITIAL = '# Billing\n# port of the HTTP connector\nserver.port=8080\n\ndb.user = billing\nold.flag=true\n';
const author = { name: 'Ada Ops', email: 'ada@example.com' };

describe('/modify end to end', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let host: string;
  /** What the test wants to happen between our commit and our push, per attempt. */
  let beforePush: ((attempt: number) => Promise<void>) | null = null;
  const origin = () => simpleGit(fx.origin);
  const originHead = async () => (await origin().revparse(['refs/heads/main'])).trim();
  const originFile = async (rev = 'refs/heads/main') => origin().show([`${rev}:${PROPS}`]);
  /** The fixture's clone falls behind when the server pushes: bring it up to date before committing. */
  const concurrentCommit = async (files: Record<string, string>, msg: string) => {
    await fx.git.fetch('origin');
    await fx.git.raw(['reset', '-q', '--hard', 'origin/main']);
    return fx.commit(files, msg);
  };

  before(async () => {
    tmp = await tempDir('gf-fssync-modify-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 1);
    host = fleet.ips[0]!;
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({ [PROPS]: INITIAL, 'tomcat/prod/billing/opt/billing/conf/other.conf': 'x\n', 'README.md': 'repo\n' });
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin }, api: { tokens: [API_TOKEN] },
      modify: { retryBackoff: 0.05 },
      deploy: { retries: 0, hostTimeout: 30, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 5 } },
    }, { modules: [createFssyncModule({ hooks: { beforePush: async (attempt) => beforePush?.(attempt) } })] });
    const r = await s.api('/api/v1/hosts', { method: 'POST', body: { ip: host, env: 'prod', apps: ['billing'] } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });

  beforeEach(() => { beforePush = null; });

  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('commits the edit with the request author, deploys it, and the file lands on the host', async () => {
    const parent = await originHead();
    const r = await s.api('/modify', {
      method: 'POST',
      body: { env: 'prod', app: 'billing', mod: 'tomcat', path: 'opt/billing/conf/app.properties', set: { 'server.port': '9090', 'new.key': 'hello world' }, delete: ['old.flag'], author, message: 'Move billing to 9090' },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.changed, true);
    assert.equal(r.body.unit, 'tomcat/prod/billing');
    assert.equal(r.body.parent, parent);
    assert.equal(r.body.attempts, 1);
    assert.deepEqual(r.body.changes, [{ key: 'server.port', action: 'updated' }, { key: 'new.key', action: 'added' }, { key: 'old.flag', action: 'deleted' }]);
    assert.equal(r.headers.get('location'), `/api/v1/deployments/${r.body.deployment.id}`);

    // The commit is in origin, on the branch, with the request's author and gitfleet as committer.
    assert.equal(await originHead(), r.body.commit);
    const [an, ae, cn, ce, p, subject] = (await origin().raw(['log', '-1', '--format=%an%n%ae%n%cn%n%ce%n%P%n%s', r.body.commit])).trim().split('\n');
    assert.deepEqual([an, ae, cn, ce, p, subject], ['Ada Ops', 'ada@example.com', 'gitfleet', 'gitfleet@localhost', parent, 'Move billing to 9090']);
    const want = '# Billing\n# port of the HTTP connector\nserver.port=9090\n\ndb.user = billing\nnew.key=hello world\n';
    assert.equal(await originFile(), want);
    assert.deepEqual((await origin().raw(['diff', '--name-only', parent, r.body.commit])).trim().split('\n'), [PROPS], 'only that file changed');

    // A push deployment follows through the normal path and the host gets the file.
    const d = await s.ctx.deployer.wait(r.body.deployment.id);
    assert.equal(d.status, 'succeeded', JSON.stringify(d));
    assert.equal(d.trigger, 'api');
    assert.equal(d.actor, 'modify by Ada Ops <ada@example.com>');
    assert.equal(d.after, r.body.commit);
    assert.deepEqual(d.units, ['tomcat/prod/billing']);
    assert.equal(await readFile(fleet.path(host, '/opt/billing/conf/app.properties'), 'utf8'), want);
  });

  it('a concurrent push between our fetch and our push: retried on the new head, the other commit survives', async () => {
    let concurrent = '';
    beforePush = async (attempt) => {
      if (attempt === 1) concurrent = await concurrentCommit({ [PROPS]: (await originFile()).replace('db.user = billing', 'db.user = svc'), 'tomcat/prod/billing/opt/billing/conf/other.conf': 'y\n' }, 'someone else pushes');
    };
    const r = await s.api('/modify', { method: 'POST', body: { env: 'prod', app: 'billing', path: 'opt/billing/conf/app.properties', set: { 'server.port': '9191' }, author, wait: true } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.attempts, 2);
    assert.equal(r.body.parent, concurrent, 'the edit was re-applied on the concurrent commit');
    assert.equal((await origin().raw(['log', '-1', '--format=%P', r.body.commit])).trim(), concurrent);
    await origin().raw(['merge-base', '--is-ancestor', concurrent, 'refs/heads/main']); // throws if the other commit was lost
    const want = '# Billing\n# port of the HTTP connector\nserver.port=9191\n\ndb.user = svc\nnew.key=hello world\n';
    assert.equal(await originFile(), want, 'both changes are in');
    assert.equal(r.body.deployment.status, 'succeeded', JSON.stringify(r.body.deployment));
    assert.equal(await readFile(fleet.path(host, '/opt/billing/conf/app.properties'), 'utf8'), want);
    assert.equal(await readFile(fleet.path(host, '/opt/billing/conf/other.conf'), 'utf8'), 'y\n');
    assert.ok(s.logs.some((l) => l.msg === 'modify: the branch moved before our push; re-applying on the new head'));
  });

  it('when the branch moves at every attempt: 409, nothing of ours in origin, nothing forced', async () => {
    const heads: string[] = [];
    beforePush = async (attempt) => {
      heads.push(await concurrentCommit({ 'tomcat/prod/billing/opt/billing/conf/other.conf': `race ${attempt}\n` }, `race ${attempt}`));
    };
    const before = Number((await origin().raw(['rev-list', '--count', 'refs/heads/main'])).trim());
    const r = await s.api('/api/v1/units/tomcat/prod/billing/modify', { method: 'POST', body: { path: 'opt/billing/conf/app.properties', set: { 'server.port': '1' }, author } });
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.match(r.body.error.message, /moved during each of 3 attempts/);
    assert.equal(heads.length, 3);
    assert.equal(await originHead(), heads[2], 'origin ends at the other writer\'s last commit');
    assert.equal(Number((await origin().raw(['rev-list', '--count', 'refs/heads/main'])).trim()), before + 3, 'every concurrent commit is there, none of ours');
    assert.equal((await origin().raw(['log', '--format=%an', `-${before + 3}`, 'refs/heads/main'])).split('\n').filter((a) => a === 'Ada Ops').length, 2, 'only the two earlier modifies');
    assert.match(await originFile(), /server\.port=9191\n/, 'the file we could not change is as it was');
  });

  it('an edit that changes nothing makes no commit and no deployment', async () => {
    const head = await originHead();
    const r = await s.api('/api/v1/units/tomcat/prod/billing/modify', { method: 'POST', body: { path: 'opt/billing/conf/app.properties', set: { 'server.port': '9191' }, delete: ['absent.key'], author } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.changed, false);
    assert.equal(r.body.deployment, null);
    assert.deepEqual(r.body.changes, [{ key: 'server.port', action: 'unchanged' }, { key: 'absent.key', action: 'absent' }]);
    assert.equal(await originHead(), head);
  });

  it('refuses bad requests: auth, unknown unit or file, hostile keys and values, non-JSON', async () => {
    const body = { env: 'prod', app: 'billing', mod: 'tomcat', path: 'opt/billing/conf/app.properties', set: { a: '1' }, author };
    assert.equal((await fetch(`${s.url}/modify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).status, 401);
    const cases: Array<[unknown, number, RegExp]> = [
      [{ ...body, mod: 'nginx' }, 404, /no unit nginx\/prod\/billing/],
      [{ ...body, path: 'opt/billing/conf/nope.properties' }, 404, /no file/],
      [{ ...body, path: 'opt/billing/conf' }, 404, /no file/],
      [{ ...body, path: '/opt/billing/conf/app.properties' }, 400, /relative/],
      [{ ...body, path: 'opt/../../../etc/shadow' }, 400, /\.\./],
      [{ ...body, set: { 'a\nb': '1' } }, 400, /newlines/],
      [{ ...body, set: { 'a=b': '1' } }, 400, /"="/],
      [{ ...body, set: { a: 'x\nevil=1' } }, 400, /newlines/],
      [{ ...body, author: { name: 'Eve', email: '--upload-pack=x' } }, 400, /email/],
      [{ ...body, env: '../prod' }, 400, /env/],
    ];
    const head = await originHead();
    for (const [b, status, re] of cases) {
      const r = await s.api('/modify', { method: 'POST', body: b });
      assert.equal(r.status, status, `${JSON.stringify(b)} → ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, re);
    }
    const text = await s.api('/modify', { method: 'POST', body: 'a=1', headers: { 'content-type': 'text/plain' } });
    assert.equal(text.status, 400);
    assert.match(text.body.error.message, /JSON body/);
    assert.equal(await originHead(), head, 'no commit from any refused request');
  });

  it('serializes modifies: two at once both land, one after the other', async () => {
    const req = (k: string) => s.api('/api/v1/units/tomcat/prod/billing/modify', { method: 'POST', body: { path: 'opt/billing/conf/app.properties', set: { [k]: 'on' }, author } });
    const [a, b] = await Promise.all([req('both.a'), req('both.b')]);
    assert.equal(a.status, 202, JSON.stringify(a.body));
    assert.equal(b.status, 202, JSON.stringify(b.body));
    assert.equal(a.body.attempts + b.body.attempts, 2, 'no conflict between our own modifies');
    const parents = await Promise.all([a, b].map(async (x) => (await origin().raw(['log', '-1', '--format=%P', x.body.commit])).trim()));
    assert.ok(parents[0] === b.body.commit || parents[1] === a.body.commit, 'one modify built on the other');
    const file = await originFile();
    assert.match(file, /both\.a=on\n/);
    assert.match(file, /both\.b=on\n/);
    for (const x of [a, b]) assert.notEqual((await s.ctx.deployer.wait(x.body.deployment.id)).status, 'failed');
    assert.equal(await readFile(fleet.path(host, '/opt/billing/conf/app.properties'), 'utf8'), file);
  });
});

// Merge-request previews end to end: real fleet hosts (sshd), real git (the merge request's head under
// refs/merge-requests/<iid>/head and refs/pull/<n>/head of the origin), the real server, and a stand-in of the
// GitLab and GitHub comment APIs. One comment per merge request, edited in place; nothing written on any host;
// a preview waits behind a running deployment; malformed payloads get 400 and other actions "ignored".
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { deliver, fixture } from '../helpers/webhooks.js';
import { startFakeForge, type FakeForge } from './fake-forge.js';
import { until } from '../helpers/wait.js';

const GITLAB_HOOK_TOKEN = 'hook-token-0123456789';
const GITHUB_SECRET = 'gh-secret-0123456789';
const GITLAB_API_TOKEN = 'glpat-api-token-abcdef';
const GITHUB_API_TOKEN = 'ghp_api_token_abcdef';

const WEB = 'app/prod/web/etc/web';
const SHOP = 'app/prod/shop/etc/shop';

function gitlabMr(file: string, patch: (p: any) => void, token = GITLAB_HOOK_TOKEN) {
  const p = fixture(file) as any;
  patch(p);
  return { headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': token, 'x-gitlab-event-uuid': randomUUID() }, body: JSON.stringify(p) };
}

function githubPr(file: string, patch: (p: any) => void, secret = GITHUB_SECRET) {
  const p = fixture(file) as any;
  patch(p);
  const body = JSON.stringify(p);
  return {
    body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` },
  };
}

/** Every file and directory under the hosts' /etc: inode, mtime, size, content (what a write would change). */
async function snapshot(fleet: Fleet): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (ip: string, dir: string): Promise<void> => {
    const abs = fleet.path(ip, dir);
    const st = await lstat(abs);
    out.set(`${ip}:${dir}`, `${st.ino} ${st.mtimeMs} ${st.size}`);
    for (const e of await readdir(abs, { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) await walk(ip, p);
      else {
        const f = await lstat(fleet.path(ip, p));
        out.set(`${ip}:${p}`, `${f.ino} ${f.mtimeMs} ${f.size} ${await readFile(fleet.path(ip, p), 'utf8')}`);
      }
    }
  };
  for (const ip of fleet.ips) await walk(ip, '/etc');
  return out;
}

describe('merge-request previews', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let forge: FakeForge;
  let A: string; let B: string; let C: string;
  let mrHead1: string;

  before(async () => {
    tmp = await tempDir('gf-preview-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 3);
    [A, B, C] = fleet.ips as [string, string, string];
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({
      [`${WEB}/workers.conf`]: 'workers 2\nlisten 80\n', [`${WEB}/site.conf`]: 'server_name shop.example.com\n',
      [`${SHOP}/shop.conf`]: 'timeout 30\nretries 3\n', 'app/prod/api/etc/api/api.conf': 'port 9000\n',
    });
    // The merge request branches off here.
    await fx.git.raw(['branch', 'tune']);
    forge = await startFakeForge({ gitlabToken: GITLAB_API_TOKEN, githubToken: GITHUB_API_TOKEN });
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin },
      webhook: { gitlab: { token: GITLAB_HOOK_TOKEN }, github: { secret: GITHUB_SECRET } },
      deploy: { retries: 0, hostTimeout: 20, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile } },
      hostSync: { converge: { enabled: false } },
      previews: {
        enabled: true, minIntervalSeconds: 2, maxHostsPerUnit: 5, dashboardUrl: 'https://gitfleet.example.com/',
        gitlab: { url: `${forge.url}/api/v4`, token: GITLAB_API_TOKEN }, github: { url: forge.url, token: GITHUB_API_TOKEN },
      },
    });
    const hosts: Array<[string, string[]]> = [[A, ['web']], [B, ['web', 'shop']], [C, ['shop', 'api']]];
    for (const [ip, apps] of hosts) assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps } })).status, 201);
    for (const app of ['web', 'shop', 'api']) assert.equal((await s.api(`/sync?env=prod&app=${app}`)).body.status, 'succeeded');
    // Host A was edited by hand: its diff differs from B's.
    await writeFile(fleet.path(A, '/etc/web/workers.conf'), 'workers 3\nlisten 80\n');
  });
  after(async () => {
    await s?.stop();
    await forge?.close();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('an MR touching two units posts one comment with the right hosts and per-host diffs; a new commit edits it; no host is written', async () => {
    const hostsBefore = await snapshot(fleet);
    const deploymentsBefore = (await s.api('/api/v1/deployments')).body.total;
    const webState = (await s.api('/api/v1/units/app/prod/web/hosts')).body;
    const mark = s.logs.length;
    await fx.git.raw(['checkout', '-q', 'tune']);
    await writeFile(join(fx.work, WEB, 'workers.conf'), 'workers 4\nlisten 80\n');
    await writeFile(join(fx.work, WEB, 'extra.conf'), 'gzip on\n');
    await writeFile(join(fx.work, SHOP, 'shop.conf'), 'timeout 60\nretries 3\n');
    await fx.git.raw(['add', '-A']);
    await fx.git.raw(['commit', '-q', '-m', 'tune workers and shop timeout']);
    mrHead1 = (await fx.git.revparse(['HEAD'])).trim();
    await fx.git.raw(['push', '-q', 'origin', 'HEAD:refs/merge-requests/7/head', 'HEAD:refs/pull/12/head']);
    await fx.git.raw(['checkout', '-q', 'main']);

    // A deny window on shop, open now: the comment names it as a conflict for shop only.
    const w = await s.api('/api/v1/windows/shop-freeze', { method: 'POST', body: { kind: 'deny', schedule: '0 0 * * *', timeZone: 'UTC', duration: '1d', apps: ['shop'] } });
    assert.equal(w.status, 201, JSON.stringify(w.body));
    const r = await deliver(`${s.url}/webhooks/gitlab`, gitlabMr('gitlab-merge-request-open.json', (p) => { p.object_attributes.last_commit.id = mrHead1; }));
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(r.body.preview, { source: 'gitlab', project: '4242', number: 7, head: mrHead1 });
    await forge.waitFor((rs) => rs.some((x) => x.method === 'POST'));
    const posts = forge.requests.filter((x) => x.method === 'POST');
    assert.equal(posts.length, 1);
    assert.equal(posts[0]!.path, '/api/v4/projects/4242/merge_requests/7/notes');
    assert.equal(posts[0]!.headers['private-token'], GITLAB_API_TOKEN);
    const body: string = posts[0]!.body.body;
    assert.match(body, new RegExp(`gitfleet preview of \`${mrHead1.slice(0, 12)}\``));
    // Summary: web on A and B (2 changed), shop on B and C; api untouched.
    assert.match(body, /\| `app\/prod\/shop` \| 2 \| 2 \| 0 \| 0 \| 0 \| — \| shop-freeze \|/);
    assert.match(body, /\| `app\/prod\/web` \| 2 \| 2 \| 0 \| 0 \| 0 \| — \| — \|/);
    assert.doesNotMatch(body, /app\/prod\/api/);
    // Per-host diffs: A had workers 3 by hand, B has git's workers 2; shop is the same on B and C (one section).
    const section = (title: string) => body.slice(body.indexOf(title), body.indexOf('</details>', body.indexOf(title)));
    const onA = section(`<code>app/prod/web</code> on ${A}</summary>`);
    assert.match(onA, /-workers 3\n\+workers 4\n/);
    assert.match(onA, /--- \/dev\/null\n\+\+\+ git\/etc\/web\/extra\.conf\n@@ -0,0 \+1,1 @@\n\+gzip on\n/);
    assert.match(section(`<code>app/prod/web</code> on ${B}</summary>`), /--- host\/etc\/web\/workers\.conf\n\+\+\+ git\/etc\/web\/workers\.conf\n@@ -1,2 \+1,2 @@\n-workers 2\n\+workers 4\n listen 80\n/);
    assert.match(section(`<code>app/prod/shop</code> on ${B}, ${C}</summary>`), /-timeout 30\n\+timeout 60\n/);
    assert.match(body, /\[Full preview in the gitfleet dashboard\]\(https:\/\/gitfleet\.example\.com\/\)/);
    assert.equal((await s.api('/api/v1/windows/shop-freeze', { method: 'DELETE' })).status, 204);

    // A new commit on the MR: the same comment is edited (PUT), no second POST; it waits out minIntervalSeconds.
    const mrHead2 = await (async () => {
      await fx.git.raw(['checkout', '-q', 'tune']);
      await writeFile(join(fx.work, WEB, 'workers.conf'), 'workers 5\nlisten 80\n');
      await fx.git.raw(['commit', '-q', '-am', 'more workers']);
      const sha = (await fx.git.revparse(['HEAD'])).trim();
      await fx.git.raw(['push', '-q', 'origin', 'HEAD:refs/merge-requests/7/head']);
      await fx.git.raw(['checkout', '-q', 'main']);
      return sha;
    })();
    const u = await deliver(`${s.url}/webhooks/gitlab`, gitlabMr('gitlab-merge-request-update.json', (p) => { p.object_attributes.oldrev = mrHead1; p.object_attributes.last_commit.id = mrHead2; }));
    assert.equal(u.status, 202, JSON.stringify(u.body));
    await forge.waitFor((rs) => rs.some((x) => x.method === 'PUT'));
    assert.equal(forge.requests.filter((x) => x.method === 'POST').length, 1, 'no second comment');
    const put = forge.requests.find((x) => x.method === 'PUT')!;
    assert.equal(put.path, '/api/v4/projects/4242/merge_requests/7/notes/500');
    assert.match(forge.comments.get(500)!, /-workers 3\n\+workers 5\n/);
    assert.match(forge.comments.get(500)!, new RegExp(mrHead2.slice(0, 12)));
    const started = s.logs.slice(mark).filter((l) => l.msg === 'preview started').map((l) => l.time as number);
    assert.equal(started.length, 2);
    assert.ok(started[1]! - started[0]! >= 1950, `rate limit: second preview ${started[1]! - started[0]!} ms after the first`);
    assert.deepEqual(forge.unexpected, []);

    // Nothing written on any host: same inodes, mtimes, sizes and contents (directories included).
    assert.deepEqual(await snapshot(fleet), hostsBefore);
    const logs = s.logs.slice(mark);
    const rsyncs = logs.filter((l) => l.msg === 'exec' && l.file === 'rsync');
    assert.ok(rsyncs.length > 0, 'the previews ran rsync dry runs');
    for (const l of rsyncs) assert.ok((l.args as string[]).includes('--dry-run'), `rsync without --dry-run: ${JSON.stringify(l.args)}`);
    assert.equal(logs.filter((l) => l.msg === 'wrote through the shell').length, 0);
    assert.ok(!rsyncs.some((l) => (l.args as string[]).some((a) => a.startsWith('--backup'))), 'no backups');
    // No deployment recorded, the unit's deployed commit unchanged.
    assert.equal((await s.api('/api/v1/deployments')).body.total, deploymentsBefore);
    assert.deepEqual((await s.api('/api/v1/units/app/prod/web/hosts')).body, webState);
    // The API shows the preview, its comment and its per-host diffs.
    // The preview's row is finished after the comment is edited: wait for it (slower on PostgreSQL under load).
    const mine = await until('the second preview of MR 7 to finish', async () => {
      const p = (await s.api('/api/v1/previews')).body.items.find((x: { source: string; number: number }) => x.source === 'gitlab' && x.number === 7);
      return p?.status === 'done' || p?.status === 'failed' ? p : undefined;
    }, 15_000);
    assert.deepEqual([mine.status, mine.commentId, mine.headSha, mine.result.head], ['done', '500', mrHead2, mrHead2]);
    assert.deepEqual(mine.result.units.map((x: { unit: string; hosts: Array<{ ip: string }> }) => [x.unit, x.hosts.map((h) => h.ip)]), [['app/prod/shop', [B, C]], ['app/prod/web', [A, B]]]);
  });

  it('a preview during a big deployment waits behind it; a newer commit supersedes the waiting one (GitHub)', async () => {
    // A deployment that takes a while: web rolls out one host at a time with a 3 s bake.
    await fx.commit({ 'app/prod/web/.gitfleet.yaml': 'rollout:\n  batchSize: 1\n  bakeSeconds: 3\n', [`${WEB}/site.conf`]: 'server_name www.example.com\n' });
    const mark = s.logs.length;
    const deployment = s.api('/sync?env=prod&app=web&force=true').then((r) => ({ ...r, at: Date.now() }));
    for (let i = 0; i < 100 && !s.ctx.deployer.busy; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(s.ctx.deployer.busy, 'the deployment is running');
    const before = forge.requests.length;
    const o = await deliver(`${s.url}/webhooks/github`, githubPr('github-pull-request-opened.json', (p) => { p.pull_request.head.sha = mrHead1; }));
    assert.equal(o.status, 202, JSON.stringify(o.body));
    // The next commit arrives while the first preview still waits: it replaces it.
    await fx.git.raw(['checkout', '-q', 'tune']);
    await writeFile(join(fx.work, SHOP, 'shop.conf'), 'timeout 90\nretries 3\n');
    await fx.git.raw(['commit', '-q', '-am', 'longer timeout']);
    const head3 = (await fx.git.revparse(['HEAD'])).trim();
    await fx.git.raw(['push', '-q', '--force', 'origin', 'HEAD:refs/pull/12/head']);
    await fx.git.raw(['checkout', '-q', 'main']);
    const sy = await deliver(`${s.url}/webhooks/github`, githubPr('github-pull-request-synchronize.json', (p) => { p.before = mrHead1; p.after = head3; p.pull_request.head.sha = head3; }));
    assert.equal(sy.status, 202);
    const done = await deployment;
    assert.equal(done.body.status, 'succeeded', JSON.stringify(done.body));
    await forge.waitFor((rs) => rs.slice(before).some((x) => x.method === 'POST'));
    await new Promise((r) => setTimeout(r, 500)); // a second request (it must not come) would be here by now
    const mine = forge.requests.slice(before);
    assert.deepEqual(mine.map((x) => `${x.method} ${x.path}`), ['POST /repos/acme/fleet-config/issues/12/comments']);
    assert.ok(mine[0]!.at >= done.at - 50, 'the comment came after the deployment finished');
    assert.equal(mine[0]!.headers.authorization, `Bearer ${GITHUB_API_TOKEN}`);
    assert.match(mine[0]!.body.body, new RegExp(`preview of \`${head3.slice(0, 12)}\``));
    assert.match(mine[0]!.body.body, /-timeout 30\n\+timeout 90\n/);
    // Compared with the merge into main: main's own later change to site.conf is not shown as reverted.
    assert.match(mine[0]!.body.body, /What each sampled host would get once merged into `main`/);
    assert.doesNotMatch(mine[0]!.body.body, /site\.conf/);
    const logs = s.logs.slice(mark);
    assert.ok(logs.some((l) => l.msg === 'preview waits for running deployments'));
    assert.ok(logs.some((l) => l.msg === 'preview superseded by a newer commit'));
    // Preview host work started only once the deployment had finished.
    const firstPreviewRsync = logs.findIndex((l) => l.msg === 'exec' && l.file === 'rsync' && (l.args as string[]).includes('--dry-run'));
    const deployEnd = logs.findIndex((l) => l.msg === 'deployment finished');
    assert.ok(deployEnd >= 0 && firstPreviewRsync > deployEnd, `preview dry run at log ${firstPreviewRsync}, deployment end at ${deployEnd}`);
    // The tokens are never logged.
    const all = JSON.stringify(s.logs);
    assert.ok(!all.includes(GITHUB_API_TOKEN) && !all.includes(GITLAB_API_TOKEN), 'no API token in the logs');
  });

  it('bad payloads get 400, other actions and branches are ignored, wrong credentials 401', async () => {
    const count = forge.requests.length;
    const gl = (file: string, patch: (p: any) => void, token?: string) => deliver(`${s.url}/webhooks/gitlab`, gitlabMr(file, patch, token));
    const gh = (file: string, patch: (p: any) => void, secret?: string) => deliver(`${s.url}/webhooks/github`, githubPr(file, patch, secret));
    const bad = await gl('gitlab-merge-request-open.json', (p) => { p.object_attributes.last_commit.id = '--upload-pack=touch /tmp/x'; });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /object_attributes\.last_commit\.id: must be a commit id/);
    assert.equal((await gl('gitlab-merge-request-open.json', (p) => { p.object_attributes.iid = 'seven'; })).status, 400);
    const notJson = await deliver(`${s.url}/webhooks/gitlab`, { headers: { 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': GITLAB_HOOK_TOKEN }, body: '{"object_kind":' });
    assert.deepEqual([notJson.status, notJson.body.error.message], [400, 'payload is not valid JSON']);
    assert.equal((await gh('github-pull-request-opened.json', (p) => { p.repository.full_name = 'acme/../../x'; })).status, 400);
    for (const action of ['approved', 'close', 'merge']) {
      const r = await gl('gitlab-merge-request-open.json', (p) => { p.object_attributes.action = action; });
      assert.equal(r.status, 200, action);
      assert.match(r.body.ignored, /is not previewed/);
    }
    const noCommits = await gl('gitlab-merge-request-update.json', (p) => { delete p.object_attributes.oldrev; });
    assert.deepEqual([noCommits.status, noCommits.body.ignored], [200, 'merge request update without new commits']);
    const other = await gl('gitlab-merge-request-open.json', (p) => { p.object_attributes.target_branch = 'release'; });
    assert.deepEqual([other.status, other.body.ignored], [200, 'target branch release is not the deployed branch main']);
    const closed = await gh('github-pull-request-opened.json', (p) => { p.action = 'closed'; });
    assert.deepEqual([closed.status, closed.body.ignored], [200, 'pull request action "closed" is not previewed']);
    assert.equal((await gl('gitlab-merge-request-open.json', () => undefined, 'wrong-token')).status, 401);
    assert.equal((await gh('github-pull-request-opened.json', () => undefined, 'wrong-secret')).status, 401);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(forge.requests.length, count, 'no preview ran');
  });

  it('an event whose commit the config repo\'s merge request does not hold (another project) gets no preview and no comment', async () => {
    const count = forge.requests.length;
    const r = await deliver(`${s.url}/webhooks/gitlab`, gitlabMr('gitlab-merge-request-open.json', (p) => { p.object_attributes.last_commit.id = 'f'.repeat(40); }));
    assert.equal(r.status, 202);
    let row: any;
    for (let i = 0; i < 200; i++) {
      row = (await s.api('/api/v1/previews')).body.items.find((p: { source: string; number: number }) => p.source === 'gitlab' && p.number === 7);
      if (row.status === 'failed') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(row.status, 'failed');
    assert.match(row.error, /refs\/merge-requests\/7\/head is at [0-9a-f]{12}, which does not contain the event's commit ffffffffffff/);
    assert.equal(forge.requests.length, count, 'no comment');
  });
});

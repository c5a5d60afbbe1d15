// Sync windows end to end on real fleet hosts: a deny window holds webhook deployments (visible, coalesced) that run
// when it ends; manual syncs get 423 unless overridden with a reason; held work survives a restart during the window;
// converge and self-heal deployments are held for their hosts and released to those hosts only.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkUnitDrift } from '../../server/src/deploy/drift.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { sleep, until } from '../helpers/wait.js';
import { deliver, gitlabPush } from '../helpers/webhooks.js';

const API_TOKEN = 'api-token-for-windows-tests-0123';

/** A 6-field UTC cron that fires once, at t (whole seconds). */
const cronAt = (t: Date) => `${t.getUTCSeconds()} ${t.getUTCMinutes()} ${t.getUTCHours()} ${t.getUTCDate()} ${t.getUTCMonth() + 1} *`;
/** The next whole second at least ms from now. */
const secondFromNow = (ms: number) => new Date(Math.ceil((Date.now() + ms) / 1000) * 1000);

describe('sync windows end to end', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let ips: string[];
  let spare: string;
  const serverConfig = () => ({
    repo: { url: fx.origin },
    api: { tokens: [API_TOKEN] },
    hostSync: { converge: { enabled: false } },
    drift: { selfHeal: true },
    syncWindows: [{ name: 'cfg-freeze', kind: 'deny', schedule: '0 0 11 11 *', timeZone: 'Asia/Shanghai', duration: '1d', envs: ['prod'] }],
    deploy: { retries: 0, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 5 } },
  });
  const fileOn = (ip: string, path: string) => readFile(fleet.path(ip, path), 'utf8').catch(() => null);
  /** A deny window for prod/<app> from start for seconds, created through the API. */
  const denyWindow = async (name: string, app: string, start: Date, seconds: number) => {
    const r = await s.api(`/api/v1/windows/${name}`, { method: 'POST', body: { kind: 'deny', schedule: cronAt(start), duration: `${seconds}s`, envs: ['prod'], apps: [app] } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return new Date(start.getTime() + seconds * 1000);
  };
  const push = async (content: string) => {
    const before = (await fx.commit({ 'app/prod/web/etc/web.conf': content }));
    const r = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before, after: before }));
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return r.body.queued[0] as number;
  };
  const releasedAfter = async (since: number, count = 1) => until('the release deployment(s)', async () => {
    const list = (await s.api('/api/v1/deployments?limit=50')).body.items as Array<{ id: number; actor: string; status: string }>;
    const done = list.filter((x) => x.id > since && x.actor.startsWith('sync window release') && !['queued', 'running'].includes(x.status));
    if (done.length < count) return undefined;
    return Promise.all(done.reverse().map(async (d) => (await s.api(`/api/v1/deployments/${d.id}`)).body));
  }, 90_000);

  before(async () => {
    tmp = await tempDir('gf-windows-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 3);
    ips = fleet.ips.slice(0, 2);
    spare = fleet.ips[2]!; // joins the inventory later (converge)
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({ 'app/prod/web/etc/web.conf': 'v0\n', 'app/prod/api/etc/api.conf': 'a0\n' });
    s = await startTestServer(join(tmp.path, 'data'), serverConfig());
    for (const ip of ips) assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['web', 'api'] } })).status, 201);
    assert.equal((await s.api('/sync?env=prod&app=web')).body.status, 'succeeded');
  });
  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('lists config windows (read-only) and refuses bad windows with the field named', async () => {
    const r = await s.api('/api/v1/windows');
    assert.equal(r.status, 200);
    const cfg = r.body.items.find((w: { name: string }) => w.name === 'cfg-freeze');
    assert.deepEqual({ source: cfg.source, active: cfg.active, kind: cfg.kind }, { source: 'config', active: false, kind: 'deny' });
    assert.match(cfg.nextOpen, /^20\d\d-11-10T16:00:00\.000Z$/);
    assert.equal(Date.parse(cfg.nextClose) - Date.parse(cfg.nextOpen), 86_400_000);
    assert.equal((await s.api('/api/v1/windows/cfg-freeze', { method: 'DELETE' })).status, 409);
    assert.equal((await s.api('/api/v1/windows/cfg-freeze', { method: 'POST', body: { kind: 'deny', schedule: '0 0 * * *', duration: '1h' } })).status, 409);
    const bad = await s.api('/api/v1/windows/x', { method: 'POST', body: { kind: 'deny', schedule: '0 0 * * *', duration: '1h', timeZone: 'Nowhere/City' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /^timeZone: timeZone "Nowhere\/City" is not an IANA time zone/);
    const cron = await s.api('/api/v1/windows/x', { method: 'POST', body: { kind: 'deny', schedule: 'every day', duration: '1h' } });
    assert.equal(cron.status, 400);
    assert.equal(cron.body.error.field, 'schedule');
    assert.equal((await s.api('/api/v1/windows/x', { method: 'DELETE' })).status, 404);
    assert.equal((await s.api('/api/v1/windows')).body.items.length, 1, 'nothing was stored');
    // Behind the API's auth like the rest of /api/v1.
    assert.equal((await fetch(`${s.url}/api/v1/windows`)).status, 401);
    assert.equal((await fetch(`${s.url}/api/v1/windows/x`, { method: 'DELETE' })).status, 401);
  });

  it('a deny window holds webhook deployments (later pushes join the held work); they run when it ends', async () => {
    const start = secondFromNow(1500);
    const close = await denyWindow('freeze', 'web', start, 8);
    await until('the window to open', async () => ((await s.api('/api/v1/windows')).body.items.find((w: { name: string }) => w.name === 'freeze')?.active ? true : undefined), 10_000);
    const listed = (await s.api('/api/v1/windows')).body.items.find((w: { name: string }) => w.name === 'freeze');
    assert.deepEqual({ source: listed.source, active: listed.active, nextClose: listed.nextClose }, { source: 'api', active: true, nextClose: close.toISOString() });
    const asked = (await s.api('/api/v1/windows?unit=app/prod/web')).body.unit;
    assert.deepEqual(asked.automatic, { unit: 'app/prod/web', windows: ['freeze'], until: close.toISOString(), message: `app/prod/web: in deny window "freeze"; may sync from ${close.toISOString()}` });
    assert.deepEqual(asked.manual?.windows, ['freeze']);
    assert.equal((await s.api('/api/v1/windows?unit=app/prod/api')).body.unit.automatic, null);
    assert.equal((await s.api('/api/v1/windows?unit=nope')).status, 400);

    const d1 = await push('v1\n');
    const held1 = await s.ctx.deployer.wait(d1);
    assert.equal(held1.status, 'held');
    const view = (await s.api(`/api/v1/deployments/${d1}`)).body;
    assert.equal(view.status, 'held');
    assert.equal(view.unitResults.length, 1);
    assert.equal(view.unitResults[0].status, 'held');
    assert.match(view.unitResults[0].reason, new RegExp(`deny window "freeze"; may sync from ${close.toISOString().replaceAll('.', '\\.')}`));
    assert.deepEqual(view.hosts, [], 'no host was contacted');
    assert.equal((await s.api('/api/v1/deployments?status=held')).body.items[0].id, d1);

    const d2 = await push('v2\n');
    assert.equal((await s.ctx.deployer.wait(d2)).status, 'held');
    const held = (await s.api('/api/v1/windows')).body.held;
    assert.equal(held.length, 1, `one held work item, not one per push: ${JSON.stringify(held)}`);
    assert.deepEqual({ unit: held[0].unit, commit: held[0].commit, hosts: held[0].hosts, ids: held[0].deploymentIds }, { unit: 'app/prod/web', commit: null, hosts: null, ids: [d1, d2] });

    // A manual sync is refused while the window is active: 423 naming it and when the unit may sync.
    const refused = await s.api('/sync?env=prod&app=web');
    assert.equal(refused.status, 423);
    assert.equal(refused.body.error.code, 'sync_window');
    assert.match(refused.body.error.message, /app\/prod\/web: in deny window "freeze"; may sync from /);
    assert.deepEqual(refused.body.error.details.blocked, [{ unit: 'app/prod/web', windows: ['freeze'], until: close.toISOString(), message: `app/prod/web: in deny window "freeze"; may sync from ${close.toISOString()}` }]);

    // Nothing lands during the window.
    while (Date.now() < close.getTime() - 300) {
      for (const ip of ips) assert.equal(await fileOn(ip, '/etc/web.conf'), 'v0\n', `${ip} during the window`);
      await sleep(500);
    }
    const [released] = await releasedAfter(d2);
    assert.equal(released.status, 'succeeded', JSON.stringify(released));
    assert.equal(released.trigger, 'gitlab');
    assert.deepEqual(released.units, ['app/prod/web']);
    assert.ok(Date.parse(released.createdAt) >= close.getTime(), `released at ${released.createdAt}, window closed ${close.toISOString()}`);
    for (const ip of ips) assert.equal(await fileOn(ip, '/etc/web.conf'), 'v2\n', `${ip} after the window: the newest push`);
    assert.deepEqual((await s.api('/api/v1/windows')).body.held, []);
    const after1 = (await s.api(`/api/v1/deployments/${d1}`)).body.unitResults[0];
    assert.match(after1.reason, new RegExp(`released as deployment #${released.id}$`));
    assert.equal((await s.api('/api/v1/windows/freeze', { method: 'DELETE' })).status, 204);
  });

  it('override with a reason passes and is recorded on the deployment; dry runs are never blocked', async () => {
    // Opened a second ago, for a minute: active at once.
    await denyWindow('api-freeze', 'api', new Date(Math.floor(Date.now() / 1000) * 1000 - 1000), 60);
    assert.equal((await s.api('/sync?env=prod&app=api')).status, 423);
    const posted = await s.api('/api/v1/deployments', { method: 'POST', body: { units: ['app/prod/api'] } });
    assert.equal(posted.status, 423);
    assert.match(posted.body.error.message, /"api-freeze"/);
    const dry = await s.api('/sync?env=prod&app=api&dryRun=true');
    assert.equal(dry.status, 200);
    assert.equal(dry.body.status, 'succeeded');
    for (const ip of ips) assert.equal(await fileOn(ip, '/etc/api.conf'), null, 'a dry run wrote nothing');
    const noReason = await s.api('/sync?env=prod&app=api&override=true');
    assert.equal(noReason.status, 400);
    assert.equal(noReason.body.error.field, 'reason');

    const mark = s.logs.length;
    const ok = await s.api('/sync?env=prod&app=api&override=true&reason=hotfix%20INC-42', { headers: { 'x-actor': 'alice' } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.status, 'succeeded');
    // The actor is the token's name (config-1: api.tokens), with the name the caller gave beside it.
    assert.deepEqual(ok.body.request.override, { actor: 'config-1 (alice)', reason: 'hotfix INC-42', windows: ['api-freeze'] });
    assert.deepEqual((await s.api(`/api/v1/deployments/${ok.body.id}`)).body.request.override, { actor: 'config-1 (alice)', reason: 'hotfix INC-42', windows: ['api-freeze'] });
    for (const ip of ips) assert.equal(await fileOn(ip, '/etc/api.conf'), 'a0\n');
    const logged = s.logs.slice(mark).filter((l) => l.msg === 'sync window overridden');
    assert.equal(logged.length, 1);
    assert.deepEqual(logged[0]!.override, { actor: 'config-1 (alice)', reason: 'hotfix INC-42', windows: ['api-freeze'], units: ['app/prod/api'] });
    // One audit row for the request, with the override, its reason and the windows it passed (the 400 has its own).
    const audit = (await s.api('/api/v1/audit?action=sync')).body.items.filter((r: { params: { reason?: string } }) => r.params.reason === 'hotfix INC-42');
    assert.equal(audit.length, 1, JSON.stringify(audit));
    assert.equal(audit[0].actor, 'config-1');
    assert.equal(audit[0].outcome, 'ok');
    assert.deepEqual([audit[0].params.reason, audit[0].params.overrideWindows], ['hotfix INC-42', ['api-freeze']]);
    // Overriding is the admin right: a token with sync on the unit gets 403 (and a denied audit row).
    const team = await s.api('/api/v1/tokens', { method: 'POST', body: { name: 'api-team', scopes: { sync: { env: ['prod'], app: ['api'] } } } });
    assert.equal(team.status, 201, JSON.stringify(team.body));
    const asTeam = { authorization: `Bearer ${team.body.secret}` };
    const refused = await s.api('/sync?env=prod&app=api&override=true&reason=mine', { headers: asTeam });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.match(refused.body.error.message, /needs the right to override/);
    assert.equal((await s.api('/sync?env=prod&app=api', { headers: asTeam })).status, 423, 'without override: the window');

    const api = await s.api('/api/v1/deployments', { method: 'POST', body: { units: ['app/prod/api'], override: true, reason: 'second fix', actor: 'bob', wait: true } });
    assert.equal(api.status, 200, JSON.stringify(api.body));
    assert.deepEqual(api.body.request.override, { actor: 'config-1 (bob)', reason: 'second fix', windows: ['api-freeze'] });
    // Removing the window lifts the block at once.
    assert.equal((await s.api('/api/v1/windows/api-freeze', { method: 'DELETE' })).status, 204);
    const free = await s.api('/sync?env=prod&app=api');
    assert.equal(free.status, 200);
    assert.equal(free.body.request.override, undefined);
  });

  it('a restart during the window keeps the held work (a poller push), which runs when the window ends', async () => {
    const close = await denyWindow('restart', 'web', new Date(Math.floor(Date.now() / 1000) * 1000 - 1000), 12);
    // Found by the poller this time (the same hold as a webhook's push).
    await fx.commit({ 'app/prod/web/etc/web.conf': 'v3\n' });
    const d = (await s.poller.tick())!;
    assert.ok(d > 0);
    const polled = await s.ctx.deployer.wait(d);
    assert.deepEqual([polled.trigger, polled.status], ['poller', 'held']);
    await s.stop();
    s = await startTestServer(join(tmp.path, 'data'), serverConfig());
    assert.ok(Date.now() < close.getTime() - 2000, 'restarted well inside the window');
    const held = (await s.api('/api/v1/windows')).body.held;
    assert.deepEqual(held.map((h: { unit: string; deploymentIds: number[] }) => [h.unit, h.deploymentIds]), [['app/prod/web', [d]]]);
    for (const ip of ips) assert.equal(await fileOn(ip, '/etc/web.conf'), 'v2\n');
    const [released] = await releasedAfter(d);
    assert.equal(released.status, 'succeeded');
    assert.ok(Date.parse(released.createdAt) >= close.getTime(), `released at ${released.createdAt}, window closed ${close.toISOString()}`);
    for (const ip of ips) assert.equal(await fileOn(ip, '/etc/web.conf'), 'v3\n');
  });

  it('converge and self-heal deployments are held for their hosts and released to those hosts only', async () => {
    const close = await denyWindow('heal', 'web', new Date(Math.floor(Date.now() / 1000) * 1000 - 1000), 10);
    // Drift on the first host; the real drift check finds it and submits a self-heal (held).
    await writeFile(fleet.path(ips[0]!, '/etc/web.conf'), 'edited by hand\n');
    const drift = await checkUnitDrift({ ...s.ctx }, 'app/prod/web', AbortSignal.timeout(60_000));
    assert.equal(drift.healed, 1);
    // The next check during the window finds the self-heal held already: no second deployment.
    const selfHeals = async () => ((await s.api('/api/v1/deployments?limit=500')).body.items as Array<{ trigger: string }>).filter((x) => x.trigger === 'self-heal').length;
    const count = await selfHeals();
    assert.equal(count, 1);
    const again = await checkUnitDrift({ ...s.ctx }, 'app/prod/web', AbortSignal.timeout(60_000));
    assert.deepEqual([again.healed, again.heldAlready], [undefined, 1]);
    assert.equal(await selfHeals(), count);
    // A new host joins: the converge deployment New-host converge would submit (held).
    assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip: spare, env: 'prod', apps: ['web'] } })).status, 201);
    const conv = await s.ctx.deployer.submit({ kind: 'sync', trigger: 'converge', actor: 'api', units: ['app/prod/web'], hosts: [spare] });
    assert.equal((await s.ctx.deployer.wait(conv.id)).status, 'held');
    const held = (await s.api('/api/v1/windows')).body.held as Array<{ trigger: string; hosts: string[]; commit: string | null }>;
    assert.deepEqual(held.map((h) => [h.trigger, h.hosts, h.commit === null]).sort(), [['converge', [spare], true], ['self-heal', [ips[0]], false]]);
    assert.equal(await fileOn(ips[0]!, '/etc/web.conf'), 'edited by hand\n');
    assert.equal(await fileOn(spare, '/etc/web.conf'), null);
    const released = await releasedAfter(conv.id, 2);
    for (const r of released) {
      assert.equal(r.status, 'succeeded', JSON.stringify(r));
      assert.ok(Date.parse(r.createdAt) >= close.getTime(), `released at ${r.createdAt}, window closed ${close.toISOString()}`);
    }
    assert.deepEqual(released.map((r: { trigger: string; hosts: Array<{ ip: string }> }) => [r.trigger, r.hosts.map((h) => h.ip)]).sort(), [['converge', [spare]], ['self-heal', [ips[0]]]]);
    assert.equal(await fileOn(ips[0]!, '/etc/web.conf'), 'v3\n');
    assert.equal(await fileOn(spare, '/etc/web.conf'), 'v3\n');
  });

  it('a held push that removed a unit removes its files when released', async () => {
    const close = await denyWindow('gone', 'api', new Date(Math.floor(Date.now() / 1000) * 1000 - 1000), 6);
    for (const ip of ips) assert.equal(await fileOn(ip, '/etc/api.conf'), 'a0\n');
    const c = await fx.commit({ 'app/prod/api/etc/api.conf': null });
    const r = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: c, after: c }));
    const d = r.body.queued[0] as number;
    assert.equal((await s.ctx.deployer.wait(d)).status, 'held');
    for (const ip of ips) assert.equal(await fileOn(ip, '/etc/api.conf'), 'a0\n', 'kept during the window');
    const [released] = await releasedAfter(d);
    assert.equal(released.status, 'succeeded', JSON.stringify(released));
    assert.deepEqual(released.request.releaseOf, [d]);
    assert.ok(Date.parse(released.createdAt) >= close.getTime());
    for (const ip of ips) assert.equal(await fileOn(ip, '/etc/api.conf'), null, `${ip}: removed after the window`);
  });
});

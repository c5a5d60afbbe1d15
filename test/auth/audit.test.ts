// The audit log on a real server, git repo and SQLite: each state-changing action leaves exactly one row with the
// right actor, source, target, parameters (secrets redacted) and outcome, and one pino line with audit: true;
// refusals are "denied" rows; webhook pushes are recorded as the pusher; the table refuses UPDATE and DELETE except
// the retention prune of old rows; GET /api/v1/audit filters.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pruneAuditLog } from '../../server/src/audit/module.js';
import { pruneAudit } from '../../server/src/db/audit-log.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { deliver, gitlabPush } from '../helpers/webhooks.js';

const CONFIG_TOKEN = 'config-admin-token-0123456789';
const HOOK_TOKEN = 'gitlab-hook-token-0123456789';

describe('audit log', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fx: GitFixture;
  let s: TestServer;
  let shop: string;
  let reader: string;
  let first: string;

  /** Run `act`, then the audit rows it added (waits for `n`, then checks no more arrive). */
  const rowsOf = async (act: () => Promise<unknown>, n = 1) => {
    const before = (await s.ctx.db.get<{ m: number | null }>('SELECT MAX(id) AS m FROM audit_log'))!.m ?? 0;
    await act();
    await until(`${n} audit row(s)`, async () => {
      const r = await s.ctx.db.all<any>('SELECT * FROM audit_log WHERE id > ? ORDER BY id', [before]);
      return r.length >= n ? r : undefined;
    }, 10_000);
    await new Promise((r) => setTimeout(r, 150));
    const all = await s.ctx.db.all<any>('SELECT * FROM audit_log WHERE id > ? ORDER BY id', [before]);
    assert.equal(all.length, n, `exactly ${n} row(s): ${JSON.stringify(all)}`);
    return all.map((r) => ({ ...r, params: JSON.parse(r.params) }));
  };
  const as = (secret: string) => ({ authorization: `Bearer ${secret}` });

  before(async () => {
    tmp = await tempDir('gf-audit-');
    fx = await createGitFixture(join(tmp.path, 'git'));
    first = await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'shop=1\n', 'nginx/prod/pay/etc/pay.conf': 'pay=1\n' });
    await writeFile(join(tmp.path, 'inv.yaml'), 'hosts: []\n');
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin }, api: { tokens: [CONFIG_TOKEN] }, webhook: { gitlab: { token: HOOK_TOKEN } },
      hostSync: { converge: { enabled: false }, sources: { inv: { type: 'file', path: join(tmp.path, 'inv.yaml'), runAtStart: false } } },
    });
    shop = (await s.api('/api/v1/tokens', { method: 'POST', body: { name: 'shop-team', scopes: { sync: { env: ['prod'], app: ['shop'] } } } })).body.secret;
    reader = (await s.api('/api/v1/tokens', { method: 'POST', body: { name: 'reader', scopes: { read: true } } })).body.secret;
    // Audit rows are written after the answer (on PostgreSQL over another pooled connection): let these two land
    // before a test takes its MAX(id) mark.
    await until('the two token.create audit rows', async () =>
      (await s.ctx.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'token.create'"))!.n >= 2 ? true : undefined, 10_000);
  });
  after(async () => {
    await s?.stop();
    await tmp?.cleanup();
  });

  it('a manual sync, a dry run, a deployment and a rollback: one row each, as the token that asked', async () => {
    const [sync] = await rowsOf(() => s.api('/sync?env=prod&app=shop&wait=true', { headers: as(shop) }));
    assert.deepEqual([sync.action, sync.actor, sync.actor_kind, sync.target, sync.outcome, sync.status, sync.source], ['sync', 'shop-team', 'token', 'prod/shop', 'ok', 200, '127.0.0.1']);
    assert.deepEqual(sync.params, { env: 'prod', app: 'shop', wait: 'true' });
    assert.match(sync.detail, /^deployment \d+$/);
    const dep = await s.api(`/api/v1/deployments/${sync.detail.split(' ')[1]}`);
    assert.equal(dep.body.actor, 'shop-team', 'the deployment records the token too');

    const [dry] = await rowsOf(() => s.api('/sync?env=prod&app=shop&dryRun=true&wait=false', { headers: as(shop) }));
    assert.deepEqual([dry.action, dry.actor, dry.outcome], ['dry-run', 'shop-team', 'ok']);
    const [deploy] = await rowsOf(() => s.api('/api/v1/deployments', { method: 'POST', body: { units: ['nginx/prod/shop'], actor: 'Ada' }, headers: as(shop) }));
    assert.deepEqual([deploy.action, deploy.actor, deploy.target, deploy.status], ['deploy', 'shop-team', 'prod/shop', 202]);
    assert.equal((await s.api(`/api/v1/deployments/${deploy.detail.split(' ')[1]}`)).body.actor, 'shop-team (Ada)');
    const [dry2] = await rowsOf(() => s.api('/api/v1/deployments', { method: 'POST', body: { env: 'prod', app: 'shop', dryRun: true } }));
    assert.deepEqual([dry2.action, dry2.actor], ['dry-run', 'config-1']);
    const [rb] = await rowsOf(() => s.api('/api/v1/rollback', { method: 'POST', body: { units: ['nginx/prod/shop'], commit: first }, headers: as(shop) }));
    assert.deepEqual([rb.action, rb.actor, rb.outcome, rb.params.commit], ['rollback', 'shop-team', 'ok', first]);
    const [conf] = await rowsOf(() => s.api('/api/v1/deployments/999999/confirm', { method: 'POST', body: {} }));
    assert.deepEqual([conf.action, conf.outcome, conf.status, conf.detail], ['deployment.confirm', 'rejected', 404, 'deployment 999999 has no unit held for confirmation']);
  });

  it('refusals are "denied" rows naming who and why; reads are not recorded', async () => {
    const [outside] = await rowsOf(() => s.api('/sync?env=prod&app=pay', { headers: as(shop) }));
    assert.deepEqual([outside.action, outside.actor, outside.outcome, outside.status, outside.target, outside.detail],
      ['sync', 'shop-team', 'denied', 403, 'prod/pay', "needs sync on prod/pay; token 'shop-team' has sync on prod/shop"]);
    const [anon] = await rowsOf(() => fetch(`${s.url}/api/v1/hosts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ip":"192.0.2.1"}' }));
    assert.deepEqual([anon.action, anon.actor, anon.actor_kind, anon.outcome, anon.status], ['host.create', 'anonymous', 'anonymous', 'denied', 401]);
    await rowsOf(async () => {
      await s.api('/api/v1/hosts', { headers: as(reader) });
      await s.api('/api/v1/deployments', { headers: as(reader) });
      await s.api('/api/v1/hosts', { method: 'DELETE', headers: as(reader) }); // no such route: 404, not audited
      await s.api('/api/v1/hosts/1', { method: 'DELETE', headers: as(reader) });
    }, 1);
  });

  it('token and host edits, host-sync run now, es-sync task edits: one row each; secrets in parameters are redacted', async () => {
    const [create] = await rowsOf(() => s.api('/api/v1/tokens', { method: 'POST', body: { name: 'tmp', scopes: { read: true } } }));
    assert.deepEqual([create.action, create.actor, create.target, create.params], ['token.create', 'config-1', 'token tmp', { name: 'tmp', scopes: { read: true } }]);
    const [revoke] = await rowsOf(() => s.api('/api/v1/tokens/tmp', { method: 'DELETE' }));
    assert.deepEqual([revoke.action, revoke.target, revoke.outcome], ['token.revoke', 'token tmp', 'ok']);

    const mark = s.logs.length;
    const [add] = await rowsOf(() => s.api('/api/v1/hosts', { method: 'POST', body: { ip: '192.0.2.10', env: 'prod', apps: ['shop'], labels: { password: 'hunter2-secret', apiKey: 'k-42' } } }));
    assert.equal(add.action, 'host.create');
    assert.deepEqual(add.params.labels, { password: '[redacted]', apiKey: '[redacted]' });
    const line = s.logs.slice(mark).find((l) => l.audit === true && l.action === 'host.create');
    assert.deepEqual([line?.actor, line?.outcome, line?.msg, (line?.params as any)?.labels?.password], ['config-1', add.outcome, 'audit', '[redacted]']);
    assert.ok(!JSON.stringify(s.logs.slice(mark)).includes('hunter2-secret'), 'the password is not in the log');
    const id = (await s.api('/api/v1/hosts?ip=192.0.2.10')).body.items[0]?.id ?? 0;
    const [upd] = await rowsOf(() => s.api(`/api/v1/hosts/${id}`, { method: 'PUT', body: { env: 'prod', apps: ['shop', 'pay'] } }));
    assert.deepEqual([upd.action, upd.target, upd.outcome], ['host.update', `host ${id}`, 'ok']);
    const [del] = await rowsOf(() => s.api(`/api/v1/hosts/${id}`, { method: 'DELETE' }));
    assert.deepEqual([del.action, del.target, del.status], ['host.delete', `host ${id}`, 204]);
    const [run] = await rowsOf(() => s.api('/api/v1/host-sync/sources/inv/run', { method: 'POST' }));
    assert.deepEqual([run.action, run.target, run.outcome], ['host-sync.run', 'source inv', 'ok']);
    const [task] = await rowsOf(() => s.api('/api/v1/es-sync/tasks', { method: 'POST', body: { name: 'nightly' } }));
    assert.equal(task.action, 'es-sync.task.create');
    const row = (await s.ctx.db.all<{ params: string }>('SELECT params FROM audit_log')).map((r) => r.params).join('\n');
    assert.ok(!row.includes('hunter2-secret') && !row.includes('k-42'), 'no secret in the audit table');
  });

  it('a webhook-triggered deployment is recorded as its pusher; a refused delivery as denied', async () => {
    const before = await fx.head();
    const after = await fx.commit({ 'nginx/prod/shop/etc/shop.conf': 'shop=2\n' });
    const [push] = await rowsOf(() => deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before, after, token: HOOK_TOKEN })));
    assert.deepEqual([push.action, push.actor, push.actor_kind, push.outcome, push.status], ['webhook.push', 'gitlab:lwei', 'webhook', 'ok', 202]);
    assert.equal(push.target, `refs/heads/main ${before.slice(0, 12)}..${after.slice(0, 12)}`);
    assert.match(push.detail, /^deployment \d+$/);
    assert.equal(push.params.after, after);
    const [bad] = await rowsOf(() => deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before, after, token: 'wrong' })));
    assert.deepEqual([bad.action, bad.actor, bad.outcome, bad.status], ['webhook.push', 'gitlab:?', 'denied', 401]);
  });

  it('GET /api/v1/audit: admin only, filtered by actor, action (or prefix), since/until, limit with paging', async () => {
    assert.equal((await s.api('/api/v1/audit', { headers: as(reader) })).status, 403);
    const mine = await s.api('/api/v1/audit?actor=shop-team&limit=1000');
    assert.ok(mine.body.items.length >= 5 && mine.body.items.every((r: any) => r.actor === 'shop-team'));
    const tokens = await s.api('/api/v1/audit?action=token.');
    assert.deepEqual([...new Set(tokens.body.items.map((r: any) => r.action))].sort(), ['token.create', 'token.revoke']);
    const page = await s.api('/api/v1/audit?limit=2');
    assert.equal(page.body.items.length, 2);
    const next = await s.api(`/api/v1/audit?limit=2&before=${page.body.next}`);
    assert.ok(next.body.items[0].id < page.body.items[1].id + 1 && next.body.items[0].id === page.body.items[1].id - 1);
    assert.equal((await s.api('/api/v1/audit?since=2999-01-01')).body.items.length, 0);
    assert.ok((await s.api('/api/v1/audit?until=2999-01-01')).body.items.length > 0);
    assert.equal((await s.api('/api/v1/audit?since=yesterday')).status, 400);
    assert.equal((await s.api('/api/v1/audit?action=DROP TABLE')).status, 400);
  });

  it('is append-only: UPDATE and DELETE are refused; the retention prune removes only rows past audit.retentionDays', async () => {
    const count = async () => (await s.ctx.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit_log'))!.n;
    const n0 = await count();
    await assert.rejects(s.ctx.db.run("UPDATE audit_log SET actor = 'someone-else'"), /audit_log is append-only/);
    await assert.rejects(s.ctx.db.run('DELETE FROM audit_log'), /audit_log is append-only/);
    await assert.rejects(s.ctx.db.run("UPDATE audit_prune_gate SET before = '2999-01-01'"), /cannot remove the last day/);
    await assert.rejects(s.ctx.db.run('DELETE FROM audit_prune_gate'), /audit_prune_gate must stay/);
    // PostgreSQL's TRUNCATE skips row triggers: a statement trigger refuses it (SQLite has no TRUNCATE).
    if (s.ctx.db.dialect === 'postgres') {
      await assert.rejects(s.ctx.db.run('TRUNCATE audit_log'), /audit_log is append-only/);
      await assert.rejects(s.ctx.db.run('TRUNCATE audit_prune_gate'), /audit_prune_gate must stay/);
    }
    assert.equal(await count(), n0);
    const old = new Date(Date.now() - 400 * 86_400_000).toISOString();
    for (let i = 0; i < 3; i++) {
      await s.ctx.db.run("INSERT INTO audit_log (at, actor, actor_kind, action, params, outcome) VALUES (?, 'old', 'system', 'sync', '{}', 'ok')", [old]);
    }
    assert.equal(await pruneAuditLog({ ...s.ctx, config: { ...s.ctx.config, audit: { retentionDays: 0 } } }), 0, '0 keeps forever');
    assert.equal(await pruneAuditLog(s.ctx), 3, 'default 365 days: the 400-day-old rows go');
    assert.equal(await count(), n0);
    // The gate closes again after the prune: a plain DELETE of old rows is refused once more.
    await s.ctx.db.run("INSERT INTO audit_log (at, actor, actor_kind, action, params, outcome) VALUES (?, 'old', 'system', 'sync', '{}', 'ok')", [old]);
    await assert.rejects(s.ctx.db.run("DELETE FROM audit_log WHERE actor = 'old'"), /append-only/);
    await assert.rejects(pruneAudit(s.ctx.db, new Date().toISOString()), /cannot remove the last day/);
    assert.equal(await count(), n0 + 1);
  });
});

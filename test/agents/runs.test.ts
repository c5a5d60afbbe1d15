// Collection runs without SSH: request validation, a run with no hosts, the schedule, recovery of runs a dead server left open.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createAgentsModule } from '../../server/src/agents/module.js';
import { parseConfig } from '../../server/src/config.js';
import { ConfigError } from '../../server/src/errors.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

describe('agents collection runs (no hosts reachable needed)', () => {
  let tmp: { path: string; cleanup(): Promise<void> };
  let srv: TestServer;
  const mod = createAgentsModule();

  before(async () => {
    tmp = await tempDir('gf-agent-runs-');
    srv = await startTestServer(join(tmp.path, 'data'), { agents: { collect: { schedule: '* * * * * *', env: 'nowhere' } } }, { modules: [mod] });
  });
  after(async () => {
    await srv.stop();
    await tmp.cleanup();
  });

  it('refuses bad collect requests with 400', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /give either ips, or env/],
      [{ ips: ['10.0.0.1'], env: 'prod' }, /give either ips, or env/],
      [{ ips: ['not-an-ip'] }, /ips\.0: must be an IPv4 or IPv6 address/],
      [{ ips: [] }, /ips/],
      [{ app: 'web' }, /app needs env/],
      [{ env: '../x' }, /env: must be a name/],
      [{ ips: ['10.0.0.1'], register: { env: 'prod', apps: 'web' } }, /register\.apps/],
      [{ ips: ['10.0.0.1'], bogus: 1 }, /bogus/],
    ];
    for (const [body, message] of cases) {
      const res = await srv.api('/api/v1/agents/collect', { method: 'POST', body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.body.error.message, message, JSON.stringify(body));
    }
    assert.equal((await srv.api('/api/v1/agents/runs?status=bogus')).status, 400);
    assert.equal((await srv.api('/api/v1/agents/runs/0')).status, 400);
    assert.equal((await srv.api('/api/v1/agents/runs/999')).status, 404);
  });

  it('records a run whose selection has no hosts as no_hosts', async () => {
    const res = await srv.api('/api/v1/agents/collect', { method: 'POST', body: { env: 'empty' } });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'no_hosts');
    assert.equal(res.body.hostCount, 0);
    assert.deepEqual(res.body.hosts, []);
  });

  it('wait:false answers 202 with the run to poll', async () => {
    const res = await srv.api('/api/v1/agents/collect', { method: 'POST', body: { env: 'empty', wait: false } });
    assert.equal(res.status, 202);
    assert.match(res.headers.get('location')!, new RegExp(`/api/v1/agents/runs/${res.body.id}$`));
  });

  it('runs the configured schedule', async () => {
    const deadline = Date.now() + 5000;
    let scheduled: any[] = [];
    while (Date.now() < deadline && scheduled.length === 0) {
      await new Promise((r) => setTimeout(r, 200));
      scheduled = (await srv.api('/api/v1/agents/runs?trigger=schedule')).body.items;
    }
    assert.ok(scheduled.length > 0, 'a scheduled run was recorded');
    assert.deepEqual(scheduled[0].request, { env: 'nowhere' });
  });

  it('closes runs a dead server left open as interrupted, their hosts as aborted', async () => {
    const now = new Date().toISOString();
    const lastID = await srv.ctx.db.insert("INSERT INTO agent_runs (trigger, request, status, host_count, created_at, started_at) VALUES ('api', '{}', 'running', 1, ?, ?)", [now, now]);
    await srv.ctx.db.run("INSERT INTO agent_run_hosts (run_id, ip, status) VALUES (?, '10.0.0.1', 'running')", [lastID]);
    await mod.service!.runner.recover();
    const run = (await srv.api(`/api/v1/agents/runs/${lastID}`)).body;
    assert.equal(run.status, 'interrupted');
    assert.equal(run.hosts[0].status, 'aborted');
    assert.match(run.hosts[0].reason, /server stopped/);
  });
});

describe('agents config', () => {
  it('names the key of a bad value', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ token: 'short' }, /agents\.token: the agent token must be at least 16 characters \(got \(hidden\)\)/],
      [{ collect: { schedule: 'every day' } }, /agents\.collect\.schedule: must be a cron expression with seconds/],
      [{ collect: { concurrency: 0 } }, /agents\.collect\.concurrency/],
      [{ defaultEnv: 'a/b' }, /agents\.defaultEnv/],
      [{ identityConflict: 'maybe' }, /agents\.identityConflict/],
      [{ unknown: 1 }, /agents: unknown key\(s\) "unknown"/],
    ];
    for (const [agents, message] of bad) {
      assert.throws(() => parseConfig({ agents }), (err: unknown) => err instanceof ConfigError && message.test(err.message), JSON.stringify(agents));
    }
    const ok = parseConfig({});
    assert.deepEqual({ ...ok.agents, collect: { ...ok.agents.collect } }, {
      maxReportBytes: 262144, autoRegister: true, defaultEnv: 'unassigned', identityConflict: 'reject',
      collect: { concurrency: 10, hostTimeout: 60, maxHosts: 10000 },
    });
  });
});

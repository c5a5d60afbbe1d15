// POST /api/v1/agents/report on a real server: the agent token, size cap, JSON and schema checks (nothing stored
// when refused), a new host added (host.added), facts shown by GET /api/v1/hosts/:id, identity pinned across a rename.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { buildCollectorScript } from '../../server/src/agents/collector-script.js';
import { createAgentsModule } from '../../server/src/agents/module.js';
import type { HostChange } from '../../server/src/inventory/events.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const AGENT_TOKEN = 'agent-token-0123456789abcdef';
const API_TOKEN = 'api-token-0123456789abcdef';

function collect(script: string, args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-s', '--', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`collector exit ${code}`))));
    child.stdin.end(script);
  });
}

describe('POST /api/v1/agents/report', () => {
  let tmp: { path: string; cleanup(): Promise<void> };
  let srv: TestServer;
  let doc: any;
  const added: HostChange[] = [];
  const post = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${AGENT_TOKEN}` }) =>
    srv.api('/api/v1/agents/report', { method: 'POST', body, headers });
  const hostCount = async () => (await srv.api('/api/v1/hosts')).body.total as number;

  before(async () => {
    tmp = await tempDir('gf-agent-report-');
    srv = await startTestServer(join(tmp.path, 'data'), { agents: { token: AGENT_TOKEN, maxReportBytes: 65536 }, api: { tokens: [API_TOKEN] } }, { modules: [createAgentsModule()] });
    srv.ctx.events.on('host.added', (c) => added.push(c));
    doc = await collect(await buildCollectorScript(), ['--via', 'agent', '--state-dir', join(tmp.path, 'state'), '--ip', '10.9.0.7', '--env', 'prod', '--apps', 'shop']);
  });
  after(async () => {
    await srv.stop();
    await tmp.cleanup();
  });

  it('refuses a missing or wrong agent token, and API tokens, with 401', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: `Bearer ${API_TOKEN}` }, { authorization: AGENT_TOKEN }]) {
      const res = await post(doc, headers as Record<string, string>);
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.body.error.code, 'unauthorized');
      assert.match(res.body.error.message, /agent token/);
    }
    assert.equal(await hostCount(), 0);
  });

  it('refuses malformed JSON with 400 invalid_json', async () => {
    const res = await post('{"schema": 1, "hostname": ');
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_json');
    assert.match(res.body.error.message, /^report is not valid JSON/);
    assert.equal(await hostCount(), 0);
  });

  it('refuses an oversized report with 413 naming the limit', async () => {
    const big = { ...doc, plugins: { ...doc.plugins, filler: { status: 'ok', data: { x: 'y'.repeat(70_000) } } } };
    const res = await post(big);
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'report_too_large');
    assert.match(res.body.error.message, /agents\.maxReportBytes \(65536 bytes\)/);
    assert.equal(await hostCount(), 0);
  });

  it('refuses wrong types with 400 naming the field', async () => {
    const cases: Array<[(d: any) => void, RegExp]> = [
      [(d) => { d.plugins.cpu.data.cores = 'two'; }, /report\.plugins\.cpu\.data\.cores: .*expected number/],
      [(d) => { d.identity.id = 'not-a-uuid'; }, /report\.identity\.id: must be a lowercase UUID/],
      [(d) => { d.ip = '10.0.0.999'; }, /report\.ip: must be an IPv4 or IPv6 address/],
      [(d) => { d.inventory.env = '../etc'; }, /report\.inventory\.env/],
      [(d) => { d.plugins.memory = { status: 'ok' }; }, /report\.plugins\.memory/],
      [(d) => { d.schema = 2; }, /report\.schema/],
      [(d) => { d.extra = true; }, /report: .*extra/],
    ];
    for (const [mutate, message] of cases) {
      const bad = structuredClone(doc);
      mutate(bad);
      const res = await post(bad);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'validation_failed');
      assert.match(res.body.error.message, message);
    }
    const arr = await post([doc]);
    assert.equal(arr.status, 400);
    assert.equal(await hostCount(), 0);
  });

  it('adds a new host with the env/apps of the report, source agent, and its facts', async () => {
    const res = await post(doc);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.matched, 'new');
    const host = (await srv.api(`/api/v1/hosts/${res.body.hostId}`)).body;
    assert.equal(host.ip, '10.9.0.7');
    assert.equal(host.env, 'prod');
    assert.deepEqual(host.apps, ['shop']);
    assert.equal(host.source, 'agent');
    assert.equal(host.identity, doc.identity.id);
    assert.equal(host.hostname, doc.hostname);
    assert.equal(host.factsVia, 'agent');
    assert.ok(Date.parse(host.factsAt) > 0);
    assert.equal(host.facts.cpu.cores, doc.plugins.cpu.data.cores);
    assert.equal(host.facts.memory.totalBytes, doc.plugins.memory.data.totalBytes);
    assert.deepEqual(Object.keys(host.facts.errors), Object.entries(doc.plugins).filter(([, o]: any) => o.status === 'error').map(([n]) => n));
    assert.equal(added.length, 1);
    assert.equal(added[0]!.origin, 'agent');
    assert.equal(added[0]!.host.ip, '10.9.0.7');
  });

  it('keeps the same host when its hostname changes (identity pinned), and leaves env/apps alone', async () => {
    const first = (await srv.api('/api/v1/hosts?ip=10.9.0.7')).body.items[0];
    await srv.api(`/api/v1/hosts/${first.id}`, { method: 'PUT', body: { apps: ['shop', 'web'] } });
    const renamed = { ...structuredClone(doc), hostname: 'renamed-host', ip: '10.9.0.8', inventory: { env: 'dev', apps: [] } };
    renamed.identity.new = false;
    const res = await post(renamed);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual({ hostId: res.body.hostId, matched: res.body.matched, hostnameChanged: res.body.hostnameChanged }, { hostId: first.id, matched: 'identity', hostnameChanged: true });
    const host = (await srv.api(`/api/v1/hosts/${first.id}`)).body;
    assert.equal(host.hostname, 'renamed-host');
    assert.equal(host.ip, '10.9.0.7', 'the inventory address is not changed by a report');
    assert.equal(host.facts.ip, '10.9.0.8');
    assert.equal(host.env, 'prod');
    assert.deepEqual(host.apps, ['shop', 'web']);
    assert.equal(host.facts.identity.pinnedHostname, doc.identity.pinnedHostname);
    assert.equal(await hostCount(), 1);
    assert.equal(added.length, 1);
  });

  it('pins the identity of a host the inventory knew by IP', async () => {
    const created = await srv.api('/api/v1/hosts', { method: 'POST', body: { ip: '10.9.0.20', env: 'prod', apps: ['db'] } });
    assert.equal(created.status, 201);
    const other = { ...structuredClone(doc), ip: '10.9.0.20', identity: { ...doc.identity, id: '33333333-3333-4333-8333-333333333333' } };
    const res = await post(other);
    assert.equal(res.status, 200);
    assert.deepEqual([res.body.hostId, res.body.matched], [created.body.id, 'ip']);
    const host = (await srv.api(`/api/v1/hosts/${created.body.id}`)).body;
    assert.equal(host.identity, '33333333-3333-4333-8333-333333333333');
    assert.equal(host.source, 'manual');
    assert.deepEqual(host.apps, ['db']);
  });

  it('refuses a report whose IP belongs to a host pinned to another identity (409), until the identity is cleared', async () => {
    const intruder = { ...structuredClone(doc), ip: '10.9.0.20', identity: { ...doc.identity, id: '44444444-4444-4444-8444-444444444444' } };
    const listed = (await srv.api('/api/v1/hosts?ip=10.9.0.20')).body.items[0];
    const before = (await srv.api(`/api/v1/hosts/${listed.id}`)).body;
    const res = await post(intruder);
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'identity_conflict');
    assert.match(res.body.error.message, /pinned to identity 33333333-/);
    const after = (await srv.api(`/api/v1/hosts/${before.id}`)).body;
    assert.equal(after.identity, '33333333-3333-4333-8333-333333333333');
    assert.equal(after.factsAt, before.factsAt, 'nothing stored');
    assert.deepEqual(after.facts, (await srv.api(`/api/v1/hosts/${before.id}`)).body.facts);
    const cleared = await srv.api(`/api/v1/agents/hosts/${before.id}/identity`, { method: 'DELETE' });
    assert.equal(cleared.status, 204);
    const again = await post(intruder);
    assert.equal(again.status, 200);
    assert.equal((await srv.api(`/api/v1/hosts/${before.id}`)).body.identity, '44444444-4444-4444-8444-444444444444');
  });

  it('serves the collector and installer for hosts to fetch', async () => {
    const res = await fetch(`${srv.url}/agents/collector.sh`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), await buildCollectorScript());
    assert.equal((await fetch(`${srv.url}/agents/install.sh`)).status, 200);
    assert.equal((await fetch(`${srv.url}/agents/nothing.sh`)).status, 404);
  });
});

describe('POST /api/v1/agents/report without agents.token', () => {
  it('is off: 403 agents_disabled', async () => {
    const tmp = await tempDir('gf-agent-off-');
    const srv = await startTestServer(join(tmp.path, 'data'), {}, { modules: [createAgentsModule()] });
    try {
      const res = await srv.api('/api/v1/agents/report', { method: 'POST', body: {}, headers: { authorization: 'Bearer anything-at-all-123' } });
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, 'agents_disabled');
    } finally {
      await srv.stop();
      await tmp.cleanup();
    }
  });
});

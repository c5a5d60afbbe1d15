// Both modes end to end on the simulated fleet (real sshd per host, own root and UTS namespace):
// SSH collection through POST /api/v1/agents/collect, identity pinned across a hostname change, an unreachable host,
// and agent mode: install.sh into a host's filesystem, its scheduled command run on the host, the report in the inventory.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createAgentsModule } from '../../server/src/agents/module.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const AGENT_TOKEN = 'fleet-agent-token-0123456789';
const INSTALL = join(import.meta.dirname, '..', '..', 'agents', 'install.sh');

describe('host agents on the test fleet', () => {
  let tmp: { path: string; cleanup(): Promise<void> };
  let fleet: Fleet;
  let srv: TestServer;
  const mod = createAgentsModule();
  let ip1: string, ip2: string, ip3: string;

  const ssh = (ip: string, cmd: string) => run('ssh', ['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${fleet.knownHostsFile}`,
    '-o', `IdentityFile=${fleet.identityFile}`, '-o', 'IdentitiesOnly=yes', `root@${ip}`, cmd], { timeout: 60_000 });
  const identityOnHost = async (ip: string) => (await readFile(fleet.path(ip, '/var/lib/gitfleet-agent/identity'), 'utf8')).split('\n')[0];
  const hostByIp = async (ip: string) => {
    const item = (await srv.api(`/api/v1/hosts?ip=${ip}`)).body.items[0];
    return item && (await srv.api(`/api/v1/hosts/${item.id}`)).body;
  };
  const collect = async (body: unknown) => {
    const res = await srv.api('/api/v1/agents/collect', { method: 'POST', body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  before(async () => {
    tmp = await tempDir('gf-agents-fleet-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 3);
    [ip1, ip2, ip3] = fleet.ips as [string, string, string];
    srv = await startTestServer(join(tmp.path, 'data'), {
      agents: { token: AGENT_TOKEN, collect: { concurrency: 2, hostTimeout: 30 } },
      deploy: { ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 5 } },
    }, { modules: [mod] });
  });
  after(async () => {
    await srv?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('collects hosts over SSH through the collect endpoint, adding them with the requested env/apps', async () => {
    let maxActive = 0;
    const sampler = setInterval(() => { maxActive = Math.max(maxActive, mod.service!.runner.active); }, 2);
    const runBody = await collect({ ips: [ip1, ip2], register: { env: 'prod', apps: ['web'] } });
    clearInterval(sampler);
    assert.equal(runBody.status, 'succeeded', JSON.stringify(runBody.hosts));
    assert.equal(runBody.trigger, 'api');
    assert.deepEqual(runBody.hosts.map((h: any) => [h.ip, h.status, h.matched, h.exitCode]), [[ip1, 'succeeded', 'new', 0], [ip2, 'succeeded', 'new', 0]]);
    assert.ok(maxActive <= 2, `at most agents.collect.concurrency hosts at once (saw ${maxActive})`);

    const nproc = Number((await run('nproc')).stdout.trim());
    const memTotalKb = Number(/^MemTotal:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'))![1]);
    for (const ip of [ip1, ip2]) {
      const host = await hostByIp(ip);
      assert.equal(host.env, 'prod');
      assert.deepEqual(host.apps, ['web']);
      assert.equal(host.source, 'agent');
      assert.equal(host.factsVia, 'ssh');
      const expectedName = (await readFile(fleet.path(ip, '/etc/hostname'), 'utf8')).trim();
      assert.equal(host.hostname, expectedName, 'the host\'s own UTS hostname, not the machine\'s');
      assert.equal(host.facts.hostname, expectedName);
      assert.equal(host.identity, await identityOnHost(ip));
      assert.equal(host.facts.identity.id, host.identity);
      assert.equal(host.facts.cpu.available, nproc);
      assert.equal(host.facts.memory.totalBytes, memTotalKb * 1024);
      assert.equal(host.facts.basic.os.id, 'debian');
      assert.equal(runBody.hosts.find((h: any) => h.ip === ip).hostId, host.id);
    }
    // The deploy path's connection manager carried the collection (ControlMaster reuse).
    assert.deepEqual(srv.ctx.ssh.openHosts().sort(), [ip1, ip2].sort());
    const listed = (await srv.api('/api/v1/agents/runs')).body;
    assert.equal(listed.items[0].id, runBody.id);
    assert.equal(listed.items[0].status, 'succeeded');
  });

  it('keeps a host the same across a hostname change: current name beside the pinned one', async () => {
    const before = await hostByIp(ip1);
    const pinned = before.facts.identity.pinnedHostname;
    await ssh(ip1, 'hostname renamed-one && echo renamed-one > /etc/hostname');
    const runBody = await collect({ env: 'prod', app: 'web' });
    assert.equal(runBody.status, 'succeeded', JSON.stringify(runBody.hosts));
    assert.equal(runBody.hosts.find((h: any) => h.ip === ip1).matched, 'identity');
    const after = await hostByIp(ip1);
    assert.equal(after.id, before.id);
    assert.equal(after.identity, before.identity);
    assert.equal(after.hostname, 'renamed-one');
    assert.equal(after.facts.hostname, 'renamed-one');
    assert.equal(after.facts.identity.pinnedHostname, pinned);
    assert.notEqual(pinned, 'renamed-one');
    assert.equal((await srv.api('/api/v1/hosts')).body.total, 2);
  });

  it('records an unreachable host as failed, with the SSH reason, while the others succeed', async () => {
    await fleet.stopHost(ip3);
    try {
      const runBody = await collect({ ips: [ip2, ip3] });
      assert.equal(runBody.status, 'partial');
      const bad = runBody.hosts.find((h: any) => h.ip === ip3);
      assert.equal(bad.status, 'failed');
      assert.equal(bad.kind, 'connection_refused');
      assert.match(bad.reason, /connection refused/);
      assert.equal(bad.hostId, null);
      assert.deepEqual(runBody.counts, { pending: 0, running: 0, succeeded: 1, failed: 1, error: 0, aborted: 0 });
      assert.equal(await hostByIp(ip3), undefined, 'nothing stored for it');
    } finally {
      await fleet.startHost(ip3);
    }
  });

  it('stops a host that hangs at agents.collect.hostTimeout and records a timeout', async () => {
    const slow = await startTestServer(join(tmp.path, 'data-timeout'), {
      agents: { collect: { hostTimeout: 2 } },
      deploy: { ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 5 } },
    }, { modules: [createAgentsModule()] });
    const idFile = fleet.path(ip2, '/var/lib/gitfleet-agent/identity');
    const saved = await readFile(idFile, 'utf8');
    // A FIFO with no writer: the collector blocks reading it, like a read on a dead NFS mount.
    await run('sh', ['-c', 'rm "$1" && mkfifo "$1"', 'sh', idFile]);
    try {
      const started = Date.now();
      const res = await slow.api('/api/v1/agents/collect', { method: 'POST', body: { ips: [ip2] } });
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'failed');
      assert.deepEqual([res.body.hosts[0].status, res.body.hosts[0].kind, res.body.hosts[0].exitCode], ['failed', 'timeout', 124]);
      assert.match(res.body.hosts[0].reason, /did not finish within 2 s \(ended on the host\)/);
      assert.ok(Date.now() - started < 10_000);
      assert.equal((await slow.api('/api/v1/hosts')).body.total, 0);
    } finally {
      await slow.stop();
      await run('sh', ['-c', 'rm -f "$1"; printf "%s" "$2" > "$1"', 'sh', idFile, saved]);
    }
  });

  it('agent mode: install.sh into the host\'s filesystem, the scheduled command reports, the host lands in the inventory', async () => {
    const root = fleet.path(ip3, '/');
    await run('sh', [INSTALL, '--root', root, '--server', srv.url, '--token', AGENT_TOKEN, '--env', 'staging', '--apps', 'api,web', '--ip', ip3, '--interval', '5', '--no-run']);
    assert.equal((await stat(fleet.path(ip3, '/etc/gitfleet-agent/agent.conf'))).mode & 0o777, 0o600);
    assert.equal((await stat(fleet.path(ip3, '/opt/gitfleet-agent/report.sh'))).mode & 0o777, 0o755);
    const conf = await readFile(fleet.path(ip3, '/etc/gitfleet-agent/agent.conf'), 'utf8');
    assert.match(conf, new RegExp(`^GITFLEET_AGENT_TOKEN='${AGENT_TOKEN}'$`, 'm'));
    // No systemd in the simulated host: a cron entry.
    const cron = await readFile(fleet.path(ip3, '/etc/cron.d/gitfleet-agent'), 'utf8');
    const line = cron.split('\n').find((l) => /^\*\/5 \* \* \* \* root /.test(l));
    assert.ok(line, cron);
    const command = line.replace(/^(\S+\s+){6}/, '').replace(/\s*(2>&1.*|>\/dev\/null.*)$/, '');
    assert.equal(command, '/opt/gitfleet-agent/report.sh --splay 30');

    // Run the scheduled command inside the host (no splay wait in the test).
    const out = await ssh(ip3, command.replace('--splay 30', '--splay 0'));
    assert.match(out.stdout, /reported to http:\/\/127\.0\.0\.1:\d+\/api\/v1\/agents\/report/);
    const host = await hostByIp(ip3);
    assert.ok(host, 'the host was added');
    assert.equal(host.env, 'staging');
    assert.deepEqual(host.apps, ['api', 'web']);
    assert.equal(host.source, 'agent');
    assert.equal(host.factsVia, 'agent');
    assert.equal(host.facts.collector.via, 'agent');
    assert.equal(host.identity, await identityOnHost(ip3));
    assert.equal(host.hostname, (await readFile(fleet.path(ip3, '/etc/hostname'), 'utf8')).trim());

    // SSH collection of the same host finds it by the same pinned identity.
    const runBody = await collect({ ips: [ip3] });
    assert.deepEqual([runBody.hosts[0].status, runBody.hosts[0].matched, runBody.hosts[0].hostId], ['succeeded', 'identity', host.id]);
    assert.equal((await hostByIp(ip3)).factsVia, 'ssh');
  });

  it('agent mode: a wrong token makes the scheduled command fail loudly, and nothing changes', async () => {
    const before = await hostByIp(ip3);
    await ssh(ip3, "sed -i \"s/^GITFLEET_AGENT_TOKEN=.*/GITFLEET_AGENT_TOKEN='wrong-token-0123456789'/\" /etc/gitfleet-agent/agent.conf");
    await assert.rejects(ssh(ip3, '/opt/gitfleet-agent/report.sh'), (err: any) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /server refused the report \(HTTP 401\): .*agent token/);
      return true;
    });
    assert.equal((await hostByIp(ip3)).factsAt, before.factsAt);
  });
});

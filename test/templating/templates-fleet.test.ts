// Templates end to end on real hosts: one template rendered per host from inventory facts and values files,
// a per-host override, an undefined variable failing only its host, and a change that renders the same for a
// host sending nothing to it.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { setHostFacts } from '../../server/src/db/agents.js';

const API_TOKEN = 'api-token-for-tests-0123456789';
const UP = 'nginx/prod/shop/etc/nginx/conf.d/upstream.conf.tmpl';

interface HostRow { ip: string; status: string; reason: string | null; changes: string[]; filesChanged: number; renderHash?: string }

describe('templates on a real fleet', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let a: string; let b: string; let c: string;

  before(async () => {
    tmp = await tempDir('gf-tmpl-');
    fleet = await startFleet(`${tmp.path}/fleet`, 3);
    [a, b, c] = fleet.ips as [string, string, string];
    fx = await createGitFixture(`${tmp.path}/git`);
    await fx.commit({
      'vars.yaml': 'port: 80\nupstreams:\n  bx: [10.1.0.1, 10.1.0.2]\n  wgq: [10.2.0.1]\n',
      'nginx/prod/vars.yaml': 'port: 8080\n',
      [`nginx/prod/shop/.gitfleet/hosts/${c}.yaml`]: 'port: 9090\n',
      [UP]: '# {{ host.hostname }} ({{ host.idc }}), {{ host.cpus | default: 1 }} cpus\nupstream shop {\n{% for s in upstreams[host.idc] %}  server {{ s }}:{{ port }};\n{% endfor %}}\n',
      'nginx/prod/shop/etc/nginx/conf.d/plain.conf': 'plain\n',
    });
    s = await startTestServer(`${tmp.path}/data`, {
      repo: { url: fx.origin },
      api: { tokens: [API_TOKEN] },
      deploy: { retries: 0, hostTimeout: 30, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 5 } },
    });
    for (const [ip, hostname, idc] of [[a, 'web-a', 'bx'], [b, 'web-b', 'wgq'], [c, 'web-c', 'bx']] as const) {
      const r = await s.api('/api/v1/hosts', { method: 'POST', body: { ip, hostname, env: 'prod', apps: ['shop'], labels: { idc, ...(ip === b ? {} : { rack: `r-${hostname}` }) } } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      // Agent facts (as an agent report stores them): the cpu count.
      if (ip === a) await setHostFacts(s.ctx.db, r.body.id, { facts: { via: 'agent', cpu: { available: 4, cores: 4 } }, at: new Date().toISOString(), via: 'agent' });
    }
  });

  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  const sync = async (): Promise<{ status: string; hosts: Map<string, HostRow> }> => {
    const r = await s.api('/sync?env=prod&app=shop');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return { status: r.body.status, hosts: new Map((r.body.hosts as HostRow[]).map((h) => [h.ip, h])) };
  };
  const onHost = (ip: string) => readFile(fleet.path(ip, '/etc/nginx/conf.d/upstream.conf'), 'utf8');

  it('renders one template differently on three hosts, from their facts; a per-host value overrides the env value', async () => {
    const d = await sync();
    assert.equal(d.status, 'succeeded', JSON.stringify([...d.hosts.values()]));
    assert.equal(await onHost(a), '# web-a (bx), 4 cpus\nupstream shop {\n  server 10.1.0.1:8080;\n  server 10.1.0.2:8080;\n}\n');
    assert.equal(await onHost(b), '# web-b (wgq), 1 cpus\nupstream shop {\n  server 10.2.0.1:8080;\n}\n');
    assert.equal(await onHost(c), '# web-c (bx), 1 cpus\nupstream shop {\n  server 10.1.0.1:9090;\n  server 10.1.0.2:9090;\n}\n', 'the host file wins over nginx/prod/vars.yaml');
    for (const ip of [a, b, c]) {
      assert.equal(await readFile(fleet.path(ip, '/etc/nginx/conf.d/plain.conf'), 'utf8'), 'plain\n');
      await assert.rejects(readFile(fleet.path(ip, '/etc/nginx/conf.d/upstream.conf.tmpl')), /ENOENT/, 'the template itself is not sent');
      await assert.rejects(readFile(fleet.path(ip, '/.gitfleet/hosts/' + c + '.yaml')), /ENOENT/);
      assert.deepEqual(d.hosts.get(ip)!.changes.sort(), ['+etc/nginx/conf.d/plain.conf', '+etc/nginx/conf.d/upstream.conf']);
    }
  });

  it('an undefined variable fails only the host that lacks it, naming the file, line and variable; nothing is pushed there', async () => {
    const before = await onHost(b);
    await fx.commit({ [UP]: '# rack {{ host.labels.rack }}\n# {{ host.hostname }} ({{ host.idc }})\nupstream shop {\n{% for s in upstreams[host.idc] %}  server {{ s }}:{{ port }};\n{% endfor %}}\n', 'nginx/prod/shop/etc/nginx/conf.d/plain.conf': 'plain 2\n' });
    const d = await sync();
    assert.equal(d.status, 'partial');
    const hb = d.hosts.get(b)!;
    assert.equal(hb.status, 'failed');
    assert.equal(hb.reason, `template ${UP} line 1: undefined variable "host.labels.rack"; nothing was pushed to this host`);
    assert.deepEqual(hb.changes, []);
    assert.equal(await onHost(b), before);
    assert.equal(await readFile(fleet.path(b, '/etc/nginx/conf.d/plain.conf'), 'utf8'), 'plain\n', 'not even the plain file');
    for (const ip of [a, c]) {
      assert.equal(d.hosts.get(ip)!.status, 'succeeded');
      assert.match(await onHost(ip), new RegExp(`^# rack r-web-${ip === a ? 'a' : 'c'}\\n`));
    }
    const hostsOfUnit = (await s.api('/api/v1/units/nginx/prod/shop/hosts')).body.hosts as Array<{ ip: string; commit: string }>;
    const head = await fx.head();
    assert.deepEqual(hostsOfUnit.filter((h) => h.commit === head).map((h) => h.ip).sort(), [a, c].sort(), 'the failed host keeps its last commit');
  });

  it('a template change that renders the same for a host sends nothing to it (its record has no changes)', async () => {
    // Give b its rack, then change the template only where b's idc is concerned.
    await fx.commit({ [`nginx/prod/shop/.gitfleet/hosts/${b}.yaml`]: 'host:\n  labels:\n    rack: r-web-b\n' });
    const first = await sync();
    assert.equal(first.status, 'succeeded', JSON.stringify([...first.hosts.values()]));
    assert.deepEqual(first.hosts.get(a)!.changes, [], 'a: rendered the same, nothing changed');
    assert.deepEqual(first.hosts.get(b)!.changes.sort(), ['+etc/nginx/conf.d/plain.conf', '+etc/nginx/conf.d/upstream.conf']);
    const beforeA = await onHost(a);
    const mark = s.logs.length;
    await fx.commit({ [UP]: '# rack {{ host.labels.rack }}\n# {{ host.hostname }} ({{ host.idc }})\n{% if host.idc == "wgq" %}# wgq has one upstream\n{% endif %}upstream shop {\n{% for s in upstreams[host.idc] %}  server {{ s }}:{{ port }};\n{% endfor %}}\n' });
    const d = await sync();
    assert.equal(d.status, 'succeeded');
    for (const ip of [a, c]) {
      const h = d.hosts.get(ip)!;
      assert.equal(h.status, 'succeeded');
      assert.deepEqual(h.changes, [], `${ip}: unchanged render, nothing sent`);
      assert.equal(h.filesChanged, 0);
      assert.equal(h.renderHash, first.hosts.get(ip)!.renderHash, `${ip}: the record shows the same rendered copy as before`);
    }
    assert.notEqual(d.hosts.get(b)!.renderHash, first.hosts.get(b)!.renderHash);
    assert.match(d.hosts.get(b)!.renderHash!, /^[0-9a-f]{16}$/);
    assert.equal(await onHost(a), beforeA);
    assert.deepEqual(d.hosts.get(b)!.changes, ['+etc/nginx/conf.d/upstream.conf']);
    assert.match(await onHost(b), /# wgq has one upstream\n/);
    // Nothing was written on a or c, through the shell or otherwise.
    assert.deepEqual(s.logs.slice(mark).filter((l) => l.msg === 'wrote through the shell' && (l.host === a || l.host === c)), []);
  });

  it('drift and the dry run compare with what each host\'s templates render to', async () => {
    const check = async () => {
      const r = await s.api('/api/v1/drift/check', { method: 'POST', body: { unit: 'nginx/prod/shop' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return new Map((r.body.results[0].rows as Array<{ ip: string; state: string; files: string[] }>).map((x) => [x.ip, x]));
    };
    await fx.commit({ [UP]: '# {{ host.hostname }}, {{ host.cpus | default: 1 }} cpus\n' });
    assert.equal((await sync()).status, 'succeeded');
    let d = await check();
    for (const ip of [a, b, c]) assert.equal(d.get(ip)!.state, 'in_sync', `${ip}: rendered content is what the host has`);
    // A hand edit on one host, and a fact change of another (more CPUs): both drift, the third does not.
    await writeFile(fleet.path(c, '/etc/nginx/conf.d/upstream.conf'), 'edited by hand\n');
    const id = (await s.api(`/api/v1/hosts?ip=${a}`)).body.items[0].id;
    await setHostFacts(s.ctx.db, id, { facts: { via: 'agent', cpu: { available: 8, cores: 8 } }, at: new Date().toISOString(), via: 'agent' });
    d = await check();
    assert.equal(d.get(a)!.state, 'drifted');
    assert.deepEqual(d.get(a)!.files, ['+etc/nginx/conf.d/upstream.conf']);
    assert.equal(d.get(c)!.state, 'drifted');
    assert.equal(d.get(b)!.state, 'in_sync');
    // The dry run says, per host, what would change; nothing is written.
    const r = await s.api('/sync?env=prod&app=shop&dryRun=true');
    assert.equal(r.status, 200);
    const hosts = new Map((r.body.hosts as HostRow[]).map((h) => [h.ip, h]));
    assert.deepEqual(hosts.get(a)!.changes, ['+etc/nginx/conf.d/upstream.conf']);
    assert.deepEqual(hosts.get(c)!.changes, ['+etc/nginx/conf.d/upstream.conf']);
    assert.deepEqual(hosts.get(b)!.changes, []);
    assert.match(await onHost(a), /, 4 cpus\n/, 'dry run wrote nothing');
    assert.equal(await onHost(c), 'edited by hand\n');
  });

  it('a change of a values file outside the unit redeploys the units below it', async () => {
    const push = async () => {
      const { id } = await s.ctx.deployer.submit({ kind: 'push', trigger: 'api', actor: 'test' });
      await s.ctx.deployer.wait(id);
      return (await s.api(`/api/v1/deployments/${id}`)).body as { status: string; units: string[] };
    };
    await push(); // the branch's last processed commit is now the head
    await fx.commit({ 'nginx/prod/vars.yaml': 'port: 8081\n', [UP]: '{% for s in upstreams[host.idc] %}server {{ s }}:{{ port }};\n{% endfor %}' });
    await push();
    await fx.commit({ 'nginx/prod/vars.yaml': 'port: 8082\n' });
    const d = await push();
    assert.equal(d.status, 'succeeded');
    assert.deepEqual(d.units, ['nginx/prod/shop']);
    assert.equal(await onHost(b), 'server 10.2.0.1:8082;\n');
    assert.equal(await onHost(c), 'server 10.1.0.1:9090;\nserver 10.1.0.2:9090;\n', 'the host file still wins');
  });
});

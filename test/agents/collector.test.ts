// The collector run on this machine and checked against what the machine has; identity pinning; a failing plugin;
// JSON escaping; the bundle (server) equals the installed collector (install.sh); plugins on disk = plugins the server knows.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AGENTS_DIR, buildCollectorScript, pluginNames } from '../../server/src/agents/collector-script.js';
import { KNOWN_PLUGINS, parseReport } from '../../server/src/agents/report-schema.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

/** Run the bundled collector with `sh -s` (as over SSH), script on stdin. */
function runScript(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-s', '--', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(script);
  });
}

describe('collector on this machine', () => {
  let tmp: { path: string; cleanup(): Promise<void> };
  let script: string;
  let doc: any;
  before(async () => {
    tmp = await tempDir('gf-collector-');
    script = await buildCollectorScript();
    const out = await runScript(script, ['--via', 'ssh', '--state-dir', join(tmp.path, 'state'), '--env', 'prod', '--apps', 'shop,web']);
    assert.equal(out.code, 0, out.stderr);
    doc = JSON.parse(out.stdout);
  });
  after(() => tmp.cleanup());

  it('prints one document the server accepts', () => {
    const report = parseReport(doc);
    assert.equal(report.collector.via, 'ssh');
    assert.deepEqual(report.inventory, { env: 'prod', apps: ['shop', 'web'] });
    assert.deepEqual(Object.keys(doc.plugins).sort(), Object.keys(KNOWN_PLUGINS).sort());
  });

  it('reports the hostname, core count and memory this machine has', async () => {
    assert.equal(doc.hostname, hostname());
    assert.equal(doc.plugins.basic.status, 'ok');
    assert.equal(doc.plugins.basic.data.hostname, hostname());
    assert.equal(doc.plugins.basic.data.kernel.release, (await run('uname', ['-r'])).stdout.trim());
    const nproc = Number((await run('nproc')).stdout.trim());
    const nprocAll = Number((await run('nproc', ['--all'])).stdout.trim());
    assert.equal(doc.plugins.cpu.data.available, nproc);
    assert.equal(doc.plugins.cpu.data.cores, nprocAll);
    const memTotalKb = Number(/^MemTotal:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'))![1]);
    assert.equal(doc.plugins.memory.data.totalBytes, memTotalKb * 1024);
  });

  it('lists the block devices, the root filesystem and the network interfaces', async () => {
    const disks = doc.plugins.disks.data;
    const sysBlock = (await readdir('/sys/block').catch(() => [] as string[])).filter((n) => !/^(loop|ram|zram|fd)/.test(n));
    for (const name of sysBlock) {
      const sectors = Number((await readFile(`/sys/block/${name}/size`, 'utf8')).trim());
      if (sectors > 0) assert.equal(disks.devices.find((d: any) => d.name === name)?.sizeBytes, sectors * 512, name);
    }
    assert.ok(disks.filesystems.some((f: any) => f.mountpoint === '/'), JSON.stringify(disks.filesystems));
    const net = doc.plugins.network.data;
    const lo = net.interfaces.find((i: any) => i.name === 'lo');
    assert.ok(lo.addresses.some((a: any) => a.address === '127.0.0.1' && a.prefix === 8));
    for (const i of net.interfaces) {
      const mac = (await readFile(`/sys/class/net/${i.name}/address`, 'utf8').catch(() => '')).trim();
      if (mac) assert.equal(i.mac, mac, i.name);
    }
  });

  it('pins an identity at first collection and reports the same one after', async () => {
    const file = await readFile(join(tmp.path, 'state', 'identity'), 'utf8');
    assert.equal(file.split('\n')[0], doc.identity.id);
    assert.equal(doc.identity.new, true);
    assert.equal(doc.identity.pinnedHostname, hostname());
    const again = JSON.parse((await runScript(script, ['--state-dir', join(tmp.path, 'state')])).stdout);
    assert.equal(again.identity.id, doc.identity.id);
    assert.equal(again.identity.new, false);
  });

  it('reports an unusable identity file instead of pinning a new one', async () => {
    const dir = join(tmp.path, 'corrupt');
    await run('mkdir', ['-p', dir]);
    await writeFile(join(dir, 'identity'), 'not-a-uuid\n');
    const out = JSON.parse((await runScript(script, ['--state-dir', dir, '--plugins', 'memory'])).stdout);
    assert.equal(out.identity, null);
    assert.match(out.identityError, /does not start with a UUID/);
    assert.equal(await readFile(join(dir, 'identity'), 'utf8'), 'not-a-uuid\n');
  });

  it('reports a failing plugin inside the document while the others still report', async () => {
    const broken = 'GF_PLUGINS="$GF_PLUGINS broken"\nplugin_broken() { echo "cannot read /nonexistent: \\"quoted\\"" >&2; exit 3; }\n'
      + 'GF_PLUGINS="$GF_PLUGINS silent"\nplugin_silent() { return 0; }\n';
    const withBroken = script.replace(/\n# main\.sh:/, `\n${broken}# main.sh:`);
    assert.notEqual(withBroken, script);
    const out = await runScript(withBroken, ['--state-dir', join(tmp.path, 'state')]);
    assert.equal(out.code, 0);
    const d = JSON.parse(out.stdout);
    assert.deepEqual(d.plugins.broken, { status: 'error', error: 'cannot read /nonexistent: "quoted"' });
    assert.deepEqual(d.plugins.silent, { status: 'error', error: 'plugin printed no JSON object' });
    for (const p of ['basic', 'cpu', 'memory', 'disks', 'network']) assert.equal(d.plugins[p].status, 'ok', p);
    parseReport(d);
  });

  it('escapes strings so any hostname or model text stays valid JSON', async () => {
    const lib = await readFile(join(AGENTS_DIR, 'collector', 'lib.sh'), 'utf8');
    const samples = ['plain', 'quote " and \\ backslash', 'tab\tnew\nline', 'ctl \u0001\u001b\u007f', 'utf8 é 中文', '', '{"x":1}'];
    for (const s of samples) {
      const sh = `${lib}\nLC_ALL=C; export LC_ALL\ngf_str "$1"`;
      const { stdout } = await run('sh', ['-c', sh, 'sh', s]);
      assert.equal(JSON.parse(stdout), s, JSON.stringify(s));
    }
  });

  it('still prints valid JSON without awk (the plugins that need it report so)', async () => {
    const noAwk = script.replace(/\n# main\.sh:/, '\nGF_AWK=\n# main.sh:');
    const out = await runScript(noAwk, ['--state-dir', join(tmp.path, 'state'), '--env', 'a"b']);
    const d = JSON.parse(out.stdout);
    assert.equal(d.inventory.env, 'a"b');
    assert.equal(d.plugins.memory.status, 'ok');
    assert.deepEqual(d.plugins.network, { status: 'error', error: 'this plugin needs awk, which is not installed' });
  });

  it('refuses unknown options with a usage hint', async () => {
    const out = await runScript(script, ['--bogus']);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /unknown option --bogus/);
  });
});

describe('collector files', () => {
  it('every plugin file registers itself, and the server knows each plugin', async () => {
    const names = await pluginNames();
    assert.deepEqual(names, Object.keys(KNOWN_PLUGINS).sort());
    for (const n of names) {
      const text = await readFile(join(AGENTS_DIR, 'collector', 'plugins', `${n}.sh`), 'utf8');
      assert.match(text, new RegExp(`^GF_PLUGINS="\\$GF_PLUGINS ${n}"$`, 'm'), n);
      assert.match(text, new RegExp(`^plugin_${n}\\(\\) \\{$`, 'm'), n);
    }
  });

  it('install.sh installs the same program the server sends over SSH', async () => {
    const tmp = await tempDir('gf-bundle-');
    try {
      await run('sh', [join(AGENTS_DIR, 'install.sh'), '--root', tmp.path, '--server', 'http://127.0.0.1:1', '--token', 'x'.repeat(32), '--scheduler', 'none', '--no-run']);
      const installed = await readFile(join(tmp.path, 'opt/gitfleet-agent/collect.sh'), 'utf8');
      const served = await buildCollectorScript();
      assert.equal(installed, served);
    } finally {
      await tmp.cleanup();
    }
  });
});

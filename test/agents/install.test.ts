// install.sh into a temporary root: systemd timer where systemd runs, cron otherwise; its input checks; report.sh --print;
// report.sh over wget where curl is missing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createAgentsModule } from '../../server/src/agents/module.js';
import { parseReport } from '../../server/src/agents/report-schema.js';
import { startTestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const AGENTS = join(import.meta.dirname, '..', '..', 'agents');
const TOKEN = 'install-token-0123456789';

describe('agents/install.sh', () => {
  let tmp: { path: string; cleanup(): Promise<void> };
  before(async () => { tmp = await tempDir('gf-install-'); });
  after(() => tmp.cleanup());

  it('installs a systemd service and timer where systemd runs', async () => {
    const root = join(tmp.path, 'systemd');
    await mkdir(join(root, 'run/systemd/system'), { recursive: true });
    const { stdout } = await run('sh', [join(AGENTS, 'install.sh'), '--root', root, '--server', 'https://gitfleet.example.com', '--token', TOKEN, '--interval', '30']);
    assert.match(stdout, /schedule: systemd, every 30 min/);
    const service = await readFile(join(root, 'etc/systemd/system/gitfleet-agent.service'), 'utf8');
    assert.match(service, /^ExecStart=\/opt\/gitfleet-agent\/report\.sh$/m);
    assert.match(service, /^Type=oneshot$/m);
    const timer = await readFile(join(root, 'etc/systemd/system/gitfleet-agent.timer'), 'utf8');
    assert.match(timer, /^OnUnitActiveSec=30min$/m);
    assert.match(timer, /^WantedBy=timers\.target$/m);
    await assert.rejects(stat(join(root, 'etc/cron.d/gitfleet-agent')));
    assert.equal((await stat(join(root, 'etc/gitfleet-agent/agent.conf'))).mode & 0o777, 0o600);
  });

  it('installs a cron entry where there is no systemd, hourly intervals included', async () => {
    const root = join(tmp.path, 'cron');
    await mkdir(root);
    await run('sh', [join(AGENTS, 'install.sh'), '--root', root, '--server', 'http://10.0.0.1:8080', '--token', TOKEN, '--interval', '120']);
    const cron = await readFile(join(root, 'etc/cron.d/gitfleet-agent'), 'utf8');
    assert.match(cron, /^\d{1,2} \*\/2 \* \* \* root \/opt\/gitfleet-agent\/report\.sh --splay 30 /m);
    await assert.rejects(run('sh', [join(AGENTS, 'install.sh'), '--root', root, '--server', 'http://10.0.0.1:8080', '--token', TOKEN, '--interval', '90']), /does not fit/);
  });

  it('refuses bad input with a message naming the option', async () => {
    const root = join(tmp.path, 'bad');
    await mkdir(root);
    const cases: Array<[string[], RegExp]> = [
      [['--server', 'http://x'], /agent token is required/],
      [['--server', 'ftp://x', '--token', TOKEN], /--server must be an http\(s\) URL/],
      [['--server', 'http://x', '--token', "bad'quote-0123456789"], /the agent token must be/],
      [['--server', 'http://x', '--token', TOKEN, '--env', 'a b'], /--env must match/],
      [['--server', 'http://x', '--token', TOKEN, '--apps', 'ok,../x'], /--apps: each app must match/],
      [['--server', 'http://x', '--token', TOKEN, '--scheduler', 'launchd'], /--scheduler must be/],
      [['--server', 'http://x', '--token', TOKEN, '--bogus', '1'], /unknown option --bogus/],
    ];
    for (const [args, message] of cases) {
      await assert.rejects(run('sh', [join(AGENTS, 'install.sh'), '--root', root, ...args], { env: { PATH: process.env.PATH } }), (err: any) => {
        assert.match(err.stderr, message, args.join(' '));
        return true;
      });
    }
  });

  it('report.sh --print shows the document the host would send (env/apps/ip from agent.conf)', async () => {
    const root = join(tmp.path, 'print');
    await mkdir(root);
    await run('sh', [join(AGENTS, 'install.sh'), '--root', root, '--server', 'http://10.0.0.1:8080', '--token', TOKEN, '--env', 'prod', '--apps', 'shop', '--ip', '10.0.0.42']);
    const conf = join(root, 'etc/gitfleet-agent/agent.conf');
    await run('sh', ['-c', `printf "GITFLEET_STATE_DIR='%s'\\n" "$1" >> "$2"`, 'sh', join(root, 'var/lib/gitfleet-agent'), conf]);
    const { stdout } = await run('sh', [join(root, 'opt/gitfleet-agent/report.sh'), '--print'], {
      env: { PATH: process.env.PATH, GITFLEET_AGENT_CONF: conf, GITFLEET_AGENT_DIR: join(root, 'opt/gitfleet-agent') },
    });
    const report = parseReport(JSON.parse(stdout));
    assert.equal(report.collector.via, 'agent');
    assert.equal(report.ip, '10.0.0.42');
    assert.deepEqual(report.inventory, { env: 'prod', apps: ['shop'] });
    assert.equal(report.identity!.id, (await readFile(join(root, 'var/lib/gitfleet-agent/identity'), 'utf8')).split('\n')[0]);
  });
});

describe('agents/report.sh transport', () => {
  it('falls back to wget where curl is missing, and the report lands', async () => {
    const tmp = await tempDir('gf-wget-');
    const srv = await startTestServer(join(tmp.path, 'data'), { agents: { token: TOKEN } }, { modules: [createAgentsModule()] });
    try {
      const root = join(tmp.path, 'root');
      await mkdir(root);
      await run('sh', [join(AGENTS, 'install.sh'), '--root', root, '--server', srv.url, '--token', TOKEN, '--ip', '10.77.0.1', '--env', 'edge']);
      const conf = join(root, 'etc/gitfleet-agent/agent.conf');
      await run('sh', ['-c', `printf "GITFLEET_STATE_DIR='%s'\\n" "$1" >> "$2"`, 'sh', join(root, 'var/lib/gitfleet-agent'), conf]);
      // A PATH with everything of /usr/bin and /usr/sbin but curl.
      const bin = join(tmp.path, 'bin');
      await mkdir(bin);
      for (const dir of ['/usr/bin', '/usr/sbin']) {
        for (const f of await readdir(dir)) if (f !== 'curl') await symlink(join(dir, f), join(bin, f)).catch(() => undefined);
      }
      const env = { PATH: bin, GITFLEET_AGENT_CONF: conf, GITFLEET_AGENT_DIR: join(root, 'opt/gitfleet-agent') };
      await assert.rejects(run('sh', ['-c', 'command -v curl'], { env }));
      const { stdout } = await run('sh', [join(root, 'opt/gitfleet-agent/report.sh')], { env });
      assert.match(stdout, /reported to/);
      const host = (await srv.api('/api/v1/hosts?ip=10.77.0.1')).body.items[0];
      assert.equal(host.env, 'edge');
      assert.equal(host.factsVia, 'agent');
    } finally {
      await srv.stop();
      await tmp.cleanup();
    }
  });
});

// The gitfleet CLI against a real server with real fleet hosts (sshd + rsync): exit codes, JSON output, the tables,
// rollback and diff as they land on (or stay off) the hosts, usage errors, and where the server URL and token come from.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI_BIN, runCli, startCli, startCliOnTty, type CliResult } from '../helpers/cli.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { freePort } from '../helpers/net.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const TOKEN = 'cli-test-token-0123456789';

describe('gitfleet CLI', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let A: string, B: string, C: string;
  let home: string;
  const commits: Record<string, string> = {};

  /** The CLI with the server and token from the environment (as scripts set them). */
  const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { home, env: { GITFLEET_SERVER: s.url, GITFLEET_TOKEN: TOKEN, ...env } });
  const json = (r: CliResult) => {
    assert.equal(r.stderr, '', 'nothing on stderr off a terminal');
    return JSON.parse(r.stdout);
  };
  const read = (ip: string, p: string) => readFile(fleet.path(ip, p), 'utf8');
  const deploymentCount = async () => (await s.api('/api/v1/deployments?limit=1')).body.total as number;

  before(async () => {
    tmp = await tempDir('gf-cli-');
    home = join(tmp.path, 'home');
    await mkdir(home);
    fleet = await startFleet(join(tmp.path, 'fleet'), 3);
    [A, B, C] = fleet.ips as [string, string, string];
    fx = await createGitFixture(join(tmp.path, 'git'));
    commits.v1 = await fx.commit({ 'app/prod/web/etc/web/a.conf': 'v1\n' });
    s = await startTestServer(join(tmp.path, 'data'), {
      repo: { url: fx.origin },
      api: { tokens: [TOKEN] },
      deploy: { retries: 0, hostTimeout: 20, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 3 } },
      hostSync: { converge: { enabled: false } },
    });
    for (const ip of [A, B]) assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['web'] } })).status, 201);
    assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip: C, hostname: 'stage-1', env: 'stage', apps: ['web'] } })).status, 201);
  });

  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('sync --wait exits 0 once every host has the files, and prints the per-host table', async () => {
    const r = await cli(['sync', 'prod/web', '--wait']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(r.stderr, '', 'no progress off a terminal');
    for (const ip of [A, B]) assert.equal(await read(ip, '/etc/web/a.conf'), 'v1\n');
    assert.match(r.stdout, /^Status: +succeeded$/m);
    assert.match(r.stdout, /^UNIT +HOST +STATUS +ATTEMPTS +DURATION +FILES +REASON$/m);
    for (const ip of [A, B]) assert.match(r.stdout, new RegExp(`^app/prod/web +${ip.replaceAll('.', '\\.')} +succeeded +1 `, 'm'));
  });

  it('sync --wait --output json is one parseable document with the deployment, its units and hosts', async () => {
    commits.v2 = await fx.commit({ 'app/prod/web/etc/web/a.conf': 'v2\n' });
    const r = await cli(['sync', 'prod/web', '--mod', 'app', '--wait', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const d = json(r);
    assert.equal(d.status, 'succeeded');
    assert.equal(d.trigger, 'manual');
    // The token's name, with who ran the CLI beside it (cli:<login>).
    assert.match(d.actor, /^config-1 \(cli:[^)]+\)$/, 'the deployment records the token and who ran the CLI');
    assert.deepEqual(d.units, ['app/prod/web']);
    assert.deepEqual(d.unitResults.map((u: { unit: string; status: string; commit: string }) => [u.unit, u.status, u.commit]), [['app/prod/web', 'succeeded', commits.v2]]);
    assert.deepEqual(d.hosts.map((h: { ip: string; status: string; changes: string[] }) => [h.ip, h.status, h.changes]), [[A, 'succeeded', ['+etc/web/a.conf']], [B, 'succeeded', ['+etc/web/a.conf']]]);
    for (const ip of [A, B]) assert.equal(await read(ip, '/etc/web/a.conf'), 'v2\n');
  });

  it('sync without --wait answers with the queued deployment at once', async () => {
    const r = await cli(['-o', 'json', 'sync', 'app/prod/web']);
    assert.equal(r.code, 0, r.stderr);
    const q = json(r);
    assert.ok(Number.isInteger(q.id));
    assert.deepEqual(q.units, ['app/prod/web']);
    await s.ctx.deployer.wait(q.id);
  });

  let failedId: number;
  it('sync --wait exits 1 when a host fails, naming the host and why', async () => {
    await fleet.stopHost(B);
    try {
      commits.v3 = await fx.commit({ 'app/prod/web/etc/web/a.conf': 'v3\n' });
      const r = await cli(['sync', 'prod/web', '--wait', '-o', 'json']);
      assert.equal(r.code, 1, r.stderr);
      const d = json(r);
      failedId = d.id;
      assert.equal(d.status, 'partial');
      const b = d.hosts.find((h: { ip: string }) => h.ip === B);
      assert.equal(b.status, 'failed');
      assert.ok(b.reason, 'a reason for the failed host');
      assert.equal(d.hosts.find((h: { ip: string }) => h.ip === A).status, 'succeeded');
      assert.equal(await read(A, '/etc/web/a.conf'), 'v3\n');
      // The table form of the same outcome: exit 1 too, the failed host's row with its reason.
      const t = await cli(['deployment', String(d.id)]);
      assert.equal(t.code, 0, 'looking at a deployment is not its outcome');
      assert.match(t.stdout, /^Status: +partial$/m);
      assert.ok(t.stdout.split('\n').some((l) => l.startsWith('app/prod/web') && l.includes(B) && l.includes('failed') && l.includes(b.reason)), t.stdout);
      const waited = await cli(['deployment', String(d.id), '--wait']);
      assert.equal(waited.code, 1, 'deployment --wait reports the outcome');
    } finally {
      await fleet.startHost(B);
    }
    const healed = await cli(['sync', 'prod/web', '--wait']);
    assert.equal(healed.code, 0, healed.stdout + healed.stderr);
    assert.equal(await read(B, '/etc/web/a.conf'), 'v3\n');
  });

  it('deployments lists the latest, as a table and as JSON', async () => {
    const r = await cli(['deployments', '--limit', '3', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const page = json(r);
    assert.equal(page.items.length, 3);
    assert.ok(page.total >= 5);
    assert.ok(page.items[0].id > page.items[1].id, 'newest first');
    assert.ok(page.items.some((d: { id: number }) => d.id === failedId));
    const t = await cli(['deployments', '--limit', '10']);
    assert.equal(t.code, 0);
    const lines = t.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID +STATUS +TRIGGER +ACTOR +UNITS +COMMIT +AGE +DURATION$/);
    assert.ok(lines.some((l) => new RegExp(`^${failedId} +partial +manual +config-1 \\(cli:\\S+\\) +app/prod/web +${commits.v3!.slice(0, 10)} `).test(l)), t.stdout);
    const partial = json(await cli(['deployments', '--status', 'partial', '--unit', 'app/prod/web', '-o', 'json']));
    assert.deepEqual(partial.items.map((d: { id: number; status: string }) => [d.id, d.status]), [[failedId, 'partial']]);
    const bogus = await cli(['deployments', '--status', 'bogus']);
    assert.equal(bogus.code, 6);
    assert.match(bogus.stderr, /status must be one of queued, running, succeeded, partial, failed, interrupted, held \(HTTP 400 validation_failed\)/);
  });

  it('deployments --watch prints a deployment as it appears and ends cleanly on Ctrl-C', async () => {
    const w = startCli(['deployments', '--watch', '--limit', '5', '-o', 'json'], { home, env: { GITFLEET_SERVER: s.url, GITFLEET_TOKEN: TOKEN } });
    const lines = () => w.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: number; status: string });
    await until('the first listing', async () => (lines().length >= 5 ? true : undefined), 20_000);
    const queued = await s.api('/sync?env=prod&app=web&wait=false');
    const id = queued.body.id as number;
    await until('the new deployment, finished, on the watch', async () => (lines().some((d) => d.id === id && d.status === 'succeeded') ? true : undefined), 30_000);
    w.child.kill('SIGINT');
    const r = await w.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('deployment <id> of an unknown id exits 5 with the server message', async () => {
    const r = await cli(['deployment', '999999']);
    assert.equal(r.code, 5);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /deployment 999999 not found \(HTTP 404 not_found\)/);
  });

  it('hosts lists the inventory, filtered by env', async () => {
    const all = await cli(['hosts']);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID +IP +HOSTNAME +ENV +APPS +SOURCE +RSYNC$/);
    assert.equal(lines.length, 4);
    assert.ok(lines.some((l) => l.includes(C) && /stage-1 +stage +web +manual/.test(l)), all.stdout);
    const prod = json(await cli(['hosts', '--env', 'prod', '-o', 'json']));
    assert.deepEqual(prod.items.map((h: { ip: string }) => h.ip).sort(), [A, B].sort());
    assert.equal(prod.total, 2);
    assert.ok(prod.items.every((h: { rsync: { supported: boolean } | null }) => h.rsync?.supported === true), 'rsync as the last push saw it');
  });

  it('diff names the changed file per host and changes nothing', async () => {
    commits.v4 = await fx.commit({ 'app/prod/web/etc/web/a.conf': 'v4\n', 'app/prod/web/etc/web/b.conf': 'new\n' });
    const r = await cli(['diff', 'app/prod/web']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const ip of [A, B]) {
      const section = r.stdout.split(`app/prod/web on ${ip}:`)[1]?.split('\napp/prod/web on ')[0] ?? '';
      assert.match(section, /^ {2}\+etc\/web\/a\.conf$/m, r.stdout);
      assert.match(section, /^ {2}\+etc\/web\/b\.conf$/m, r.stdout);
      // The content diff the dry run read from the host (v3 there, v4 in git).
      assert.match(section, /^ {2}-v3\n {2}\+v4$/m, r.stdout);
    }
    assert.match(r.stdout, new RegExp(`at ${commits.v4}`));
    const j = json(await cli(['diff', 'app/prod/web', '--host', A, '-o', 'json']));
    assert.equal(j.request.dryRun, true);
    assert.deepEqual(j.hosts.map((h: { ip: string; changes: string[] }) => [h.ip, [...h.changes].sort()]), [[A, ['+etc/web/a.conf', '+etc/web/b.conf']]]);
    for (const ip of [A, B]) {
      assert.equal(await read(ip, '/etc/web/a.conf'), 'v3\n', 'a dry run changes nothing');
      assert.equal(existsSync(fleet.path(ip, '/etc/web/b.conf')), false);
    }
  });

  it('rollback refuses without --yes off a terminal, and with --yes deploys the older commit', async () => {
    const before = await deploymentCount();
    const refused = await cli(['rollback', 'app/prod/web', commits.v1!.slice(0, 8)]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /refusing to roll back without --yes/);
    assert.match(refused.stderr, /Usage: gitfleet rollback/);
    assert.equal(await deploymentCount(), before, 'nothing submitted');

    const r = await cli(['rollback', 'app/prod/web', commits.v1!.slice(0, 8), '--yes', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const d = json(r);
    assert.equal(d.trigger, 'rollback');
    assert.equal(d.status, 'succeeded');
    assert.equal(d.unitResults[0].commit, commits.v1);
    for (const ip of [A, B]) assert.equal(await read(ip, '/etc/web/a.conf'), 'v1\n', `${ip} holds the rolled-back content`);
    const unit = await s.api('/api/v1/units/app/prod/web/hosts');
    assert.equal(unit.body.lastCommit, commits.v1);

    const unknown = await cli(['rollback', 'app/prod/web', 'abcdef1234', '--yes']);
    assert.equal(unknown.code, 6, 'a commit the repo does not have: the server refuses (400)');
    assert.match(unknown.stderr, /not a commit of the config repo/);
  });

  it('on a terminal: sync shows progress; rollback shows the dry run, asks, and does nothing on "n", deploys on "y"', async () => {
    const env = { GITFLEET_SERVER: s.url, GITFLEET_TOKEN: TOKEN };
    const synced = startCliOnTty(['sync', 'prod/web', '--wait'], { home, env });
    const r = await synced.done;
    assert.equal(r.code, 0, synced.output());
    assert.match(synced.output(), /deployment \d+ (queued|running|succeeded): \d\/\d hosts done/, 'a progress line');
    for (const ip of [A, B]) assert.equal(await read(ip, '/etc/web/a.conf'), 'v4\n');

    const ask = async (answer: string) => {
      const t = startCliOnTty(['rollback', 'app/prod/web', commits.v2!.slice(0, 12)], { home, env });
      const prompt = new RegExp(`Roll back app/prod/web to ${commits.v2} on 2 hosts\\? \\[y/N\\] `);
      try {
        await until('the question', async () => (prompt.test(t.output()) ? true : undefined), 30_000);
        for (const ip of [A, B]) assert.match(t.output(), new RegExp(`app/prod/web on ${ip.replaceAll('.', '\\.')}:\\r?\\n {2}-etc/web/b\\.conf\\r?\\n {2}\\+etc/web/a\\.conf`), t.output());
      } catch (err) {
        t.child.stdin!.end(); // Ctrl-D: a "no", so the CLI ends
        throw err;
      }
      t.child.stdin!.write(`${answer}\r`);
      return { r: await t.done, out: t.output() };
    };
    const no = await ask('n');
    assert.equal(no.r.code, 8, no.out);
    assert.match(no.out, /rollback cancelled; nothing was changed/);
    for (const ip of [A, B]) assert.equal(await read(ip, '/etc/web/a.conf'), 'v4\n', 'a "no" changes nothing');
    const yes = await ask('y');
    assert.equal(yes.r.code, 0, yes.out);
    for (const ip of [A, B]) {
      assert.equal(await read(ip, '/etc/web/a.conf'), 'v2\n');
      assert.equal(existsSync(fleet.path(ip, '/etc/web/b.conf')), false);
    }
  });

  it('bad arguments exit 2 with the usage', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['sync'], /missing required argument 'target'/],
      [['sync', 'prodweb'], /the target must be <env>\/<app>/],
      [['sync', 'prod/a..b'], /app in "prod\/a..b" must match/],
      [['sync', 'prod/web', '--mod=-x'], /--mod must match/],
      [['sync', 'prod/web', '--host', 'not-an-ip'], /--host must be an IPv4 or IPv6 address/],
      [['sync', 'prod/web', '--override'], /--override needs --reason/],
      [['deployments', '--limit', '0'], /--limit must be an integer from 1 to 500/],
      [['deployment', 'abc'], /the deployment id must be an integer/],
      [['rollback', 'app/prod/web', 'zzz', '--yes'], /commit must be 7 to 64 hex digits/],
      [['--output', 'yaml', 'hosts'], /argument 'yaml' is invalid/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['hosts', '--bogus'], /unknown option '--bogus'/],
    ];
    const before = await deploymentCount();
    for (const [args, message] of cases) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.match(r.stderr, /Usage: gitfleet/, `${args.join(' ')} shows the usage`);
      assert.equal(r.stdout, '');
    }
    assert.equal(await deploymentCount(), before, 'no request for a bad command line');
  });

  it('takes the server and token from flags over env over the config file, and says what is wrong', async () => {
    const configFile = join(home, '.config', 'gitfleet', 'cli.yaml');
    await mkdir(join(home, '.config', 'gitfleet'), { recursive: true });
    const bare = (args: string[], env: Record<string, string> = {}) => runCli(args, { home, env });
    // No token anywhere: 401, the server's message as is, exit 4.
    const none = await bare(['hosts', '--server', s.url]);
    assert.equal(none.code, 4);
    assert.match(none.stderr, /a valid bearer token is required \(Authorization: Bearer <token>\) \(HTTP 401 unauthorized\)/);
    assert.match(none.stderr, /no token given/);
    // The default config file alone: server and token from it.
    await writeFile(configFile, `server: ${s.url}\ntoken: ${TOKEN}\n`);
    assert.equal((await bare(['hosts'])).code, 0);
    // The environment wins over the file...
    const envWrong = await bare(['hosts'], { GITFLEET_TOKEN: 'wrong-token-from-the-env' });
    assert.equal(envWrong.code, 4);
    assert.match(envWrong.stderr, /the token from GITFLEET_TOKEN was not accepted/);
    // ...and the flag over the environment.
    assert.equal((await bare(['hosts', '--token', TOKEN], { GITFLEET_TOKEN: 'wrong-token-from-the-env' })).code, 0);
    const flagWrong = await bare(['hosts', '--token', 'wrong-token-from-a-flag'], { GITFLEET_TOKEN: TOKEN });
    assert.equal(flagWrong.code, 4);
    assert.match(flagWrong.stderr, /the token from --token was not accepted/);
    // Server: env over file.
    const closed = `http://127.0.0.1:${await freePort()}`;
    const envServer = await bare(['hosts'], { GITFLEET_SERVER: closed });
    assert.equal(envServer.code, 3);
    assert.equal(envServer.stderr.split('\n')[0], `gitfleet: cannot reach gitfleet at ${closed}/: connection refused`);
    // --config names another file (which must exist); a bad file is a usage error naming the key.
    const other = join(home, 'other.yaml');
    await writeFile(other, `server: ${s.url}\ntoken: wrong-token-in-other-file\n`);
    assert.equal((await bare(['hosts', '--config', other])).code, 4);
    const missing = await bare(['hosts', '--config', join(home, 'absent.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read config file .*absent\.yaml/);
    await writeFile(other, `server: ${s.url}\ntokn: x\n`);
    const typo = await bare(['hosts', '--config', other]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /Unrecognized key.*"tokn"/);
    // version asks /healthz (no token needed) and reports the server's head.
    const v = json(await bare(['version', '-o', 'json']));
    assert.equal(v.server.status, 'ok');
    assert.equal(v.server.head, await fx.head());
  });

  it('Ctrl-C while following a deployment stops following (exit 8); the deployment goes on', async () => {
    await fx.commit({ 'slow/prod/web/etc/slow.conf': 'x\n', 'slow/prod/web/.gitfleet.yaml': 'hooks:\n  validate: "sleep 3"\n' });
    const w = startCli(['sync', 'slow/prod/web', '--wait'], { home, env: { GITFLEET_SERVER: s.url, GITFLEET_TOKEN: TOKEN } });
    const running = await until('the deployment to run', async () => {
      const top = (await s.api('/api/v1/deployments?limit=1')).body.items[0];
      return top?.units.includes('slow/prod/web') && top.status === 'running' ? top.id as number : undefined;
    }, 30_000);
    w.child.kill('SIGINT');
    const r = await w.done;
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, new RegExp(`stopped following deployment ${running} before it finished\\n {2}\\(it goes on on the server: gitfleet deployment ${running} --wait\\)`));
    assert.equal(r.stdout, '');
    assert.equal((await s.ctx.deployer.wait(running)).status, 'succeeded');
    for (const ip of [A, B]) assert.equal(await read(ip, '/etc/slow.conf'), 'x\n');
  });

  it('the built bin is executable and runs', { skip: !existsSync(CLI_BIN) && 'needs `npm run build` (npm test builds first)' }, async () => {
    assert.ok((statSync(CLI_BIN).mode & 0o111) !== 0, 'executable');
    const r = await runCli(['version', '--client'], { home, bin: CLI_BIN });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^gitfleet CLI \d+\.\d+\.\d+ \(Node v\d+/);
  });
});

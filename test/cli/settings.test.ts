// Where the CLI's settings come from (flags > environment > config file > defaults), argument checks, and how
// HTTP answers and network failures become messages and exit codes — against real local HTTP servers.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { apiUrl, createApiClient, describeHttpError } from '../../server/src/cli/api-client.js';
import { parseCommit, parseSyncTarget, parseUnit } from '../../server/src/cli/args.js';
import { CliError, EXIT } from '../../server/src/cli/exit-codes.js';
import { defaultConfigPath, resolveSettings } from '../../server/src/cli/settings.js';
import { syncQuery } from '../../server/src/cli/commands/sync.js';
import { tempDir } from '../helpers/tmp.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => { tmp = await tempDir('gf-cli-settings-'); });
after(async () => { await tmp.cleanup(); });

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CliError, String(err));
    return err.exitCode;
  }
  return undefined;
};

it('takes each setting from the flag, else the environment, else the config file, else the default', async () => {
  const home = join(tmp.path, 'home');
  await mkdir(join(home, '.config', 'gitfleet'), { recursive: true });
  await writeFile(join(home, '.config', 'gitfleet', 'cli.yaml'), 'server: http://file.example:8080\ntoken: file-token\noutput: json\ntimeout: 5\n');
  const file = await resolveSettings({}, {}, home);
  assert.deepEqual(file, { server: 'http://file.example:8080/', token: 'file-token', output: 'json', timeoutMs: 5000, sources: { server: `config file ${join(home, '.config/gitfleet/cli.yaml')}`, token: `config file ${join(home, '.config/gitfleet/cli.yaml')}` } });
  const env = await resolveSettings({}, { GITFLEET_SERVER: 'https://env.example/gitfleet', GITFLEET_TOKEN: 'env-token' }, home);
  assert.deepEqual([env.server, env.token, env.sources.token], ['https://env.example/gitfleet/', 'env-token', 'GITFLEET_TOKEN']);
  const flags = await resolveSettings({ server: 'http://flag.example', token: 'flag-token', output: 'table', timeout: '0.5' }, { GITFLEET_SERVER: 'http://env.example', GITFLEET_TOKEN: 'env-token' }, home);
  assert.deepEqual([flags.server, flags.token, flags.output, flags.timeoutMs], ['http://flag.example/', 'flag-token', 'table', 500]);
  const none = await resolveSettings({}, { XDG_CONFIG_HOME: join(tmp.path, 'nowhere') }, home);
  assert.deepEqual(none, { server: 'http://127.0.0.1:8080/', output: 'table', timeoutMs: 30_000, sources: { server: 'the default' } });
  assert.equal(defaultConfigPath({ XDG_CONFIG_HOME: '/x' }, '/home/u'), '/x/gitfleet/cli.yaml');
});

it('refuses a bad config file, server URL or timeout as a usage error naming it', async () => {
  const bad = join(tmp.path, 'bad.yaml');
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['server: [1, 2]\n', {}, /server: Invalid input/],
    ['timeout: -1\n', {}, /timeout: Too small/],
    ['server: ftp://x\n', {}, /must be an http:\/\/ or https:\/\/ URL/],
    ['token: "a\n', {}, /is not valid YAML/],
    ['', { server: 'not a url' }, /server "not a url" \(from --server\) is not a URL/],
    ['', { timeout: 'soon' }, /--timeout must be a number of seconds/],
  ];
  for (const [text, flags, msg] of cases) {
    await writeFile(bad, text);
    await assert.rejects(resolveSettings({ config: bad, ...flags }, {}, tmp.path), (err: CliError) => err.exitCode === EXIT.usage && msg.test(err.message));
  }
});

it('checks targets, units, commits and sync options before any request', () => {
  assert.deepEqual(parseSyncTarget('prod/web', undefined), { env: 'prod', app: 'web' });
  assert.deepEqual(parseSyncTarget('prod/web', 'nginx'), { env: 'prod', app: 'web', mod: 'nginx' });
  assert.deepEqual(parseSyncTarget('nginx/prod/web', undefined), { env: 'prod', app: 'web', mod: 'nginx' });
  assert.equal(code(() => parseSyncTarget('nginx/prod/web', 'nginx')), EXIT.usage);
  for (const bad of ['prod', 'prod/', '/web', 'a/b/c/d', 'prod/-web', 'prod/we..b']) assert.equal(code(() => parseSyncTarget(bad, undefined)), EXIT.usage, bad);
  assert.equal(parseUnit('nginx/prod/web'), 'nginx/prod/web');
  assert.equal(code(() => parseUnit('prod/web')), EXIT.usage);
  assert.equal(parseCommit('ABCDEF1'), 'abcdef1');
  for (const bad of ['abc', 'HEAD', 'main', 'g'.repeat(40)]) assert.equal(code(() => parseCommit(bad)), EXIT.usage, bad);
  assert.deepEqual(syncQuery('prod/web', { host: ['192.0.2.1', '2001:db8::1'], dryRun: true, override: true, reason: ' change freeze exception ' }),
    { env: 'prod', app: 'web', mod: undefined, dryRun: 'true', force: undefined, host: ['192.0.2.1', '2001:db8::1'], override: 'true', reason: 'change freeze exception', wait: 'false' });
  assert.equal(code(() => syncQuery('prod/web', { reason: 'x' })), EXIT.usage, '--reason without --override');
  assert.equal(code(() => syncQuery('prod/web', { override: true })), EXIT.usage, '--override without --reason');
  assert.equal(code(() => syncQuery('prod/web', { host: ['web-1'] })), EXIT.usage);
});

it('joins API paths under a server prefix with repeated query values', () => {
  assert.equal(apiUrl('http://h:8080/', 'api/v1/hosts', { env: 'prod', app: undefined }), 'http://h:8080/api/v1/hosts?env=prod');
  assert.equal(apiUrl('https://h/gitfleet/', 'sync', { host: ['192.0.2.1', '192.0.2.2'] }), 'https://h/gitfleet/sync?host=192.0.2.1&host=192.0.2.2');
});

it('maps answers to exit codes with the server message as is', () => {
  const s = { token: 't', sources: { server: 'x', token: 'GITFLEET_TOKEN' } };
  const forbidden = describeHttpError(403, { error: { code: 'forbidden', message: 'token "ci" lacks the right deploy:prod' } }, '', s);
  assert.deepEqual([forbidden.exitCode, forbidden.message, forbidden.hint], [EXIT.auth, 'token "ci" lacks the right deploy:prod (HTTP 403 forbidden)', 'the token (from GITFLEET_TOKEN) lacks this right']);
  const locked = describeHttpError(423, { error: { code: 'sync_window_closed', message: 'prod/web is outside its sync window "business-hours"' } }, '', s);
  assert.deepEqual([locked.exitCode, locked.message], [EXIT.rejected, 'prod/web is outside its sync window "business-hours" (HTTP 423 sync_window_closed)']);
  assert.equal(describeHttpError(409, { error: { code: 'conflict', message: 'x' } }, '', s).exitCode, EXIT.rejected);
  assert.equal(describeHttpError(404, { error: { code: 'not_found', message: 'x' } }, '', s).exitCode, EXIT.notFound);
  const proxy = describeHttpError(502, undefined, '<html>Bad Gateway</html>', s);
  assert.deepEqual([proxy.exitCode, proxy.message], [EXIT.server, '<html>Bad Gateway</html> (HTTP 502)']);
});

it('reports a server that does not answer in time, or answers something that is not the API', async () => {
  const servers: Server[] = [];
  const listen = async (handler: Parameters<typeof createServer>[1]) => {
    const srv = createServer(handler);
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(srv.address() as { port: number }).port}/`;
  };
  try {
    const silent = await listen(() => { /* never answers */ });
    const slow = createApiClient({ server: silent, output: 'table', timeoutMs: 300, sources: { server: '--server' } });
    const t0 = Date.now();
    await assert.rejects(slow.get('api/v1/hosts'), (err: CliError) => err.exitCode === EXIT.unreachable && err.message === `no answer from ${silent} within 0.3 s`);
    assert.ok(Date.now() - t0 < 3000, 'the timeout holds');
    const stop = new AbortController();
    const stoppable = createApiClient({ server: silent, output: 'table', timeoutMs: 30_000, sources: { server: '--server' } }, {}, stop.signal);
    setTimeout(() => stop.abort(), 200);
    const t1 = Date.now();
    await assert.rejects(stoppable.get('api/v1/hosts'), (err: CliError) => err.exitCode === EXIT.cancelled && err.message === 'interrupted');
    assert.ok(Date.now() - t1 < 3000, 'Ctrl-C ends a request in flight');
    const html = await listen((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'); });
    const wrong = createApiClient({ server: html, output: 'table', timeoutMs: 2000, sources: { server: '--server' } });
    await assert.rejects(wrong.get('api/v1/hosts'), (err: CliError) => err.exitCode === EXIT.server && /answered HTTP 200 with no JSON: <html>login<\/html>/.test(err.message));
    let auth: string | undefined;
    const echo = await listen((req, res) => { auth = req.headers.authorization; res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'); });
    assert.deepEqual(await createApiClient({ server: echo, token: 'tok', output: 'table', timeoutMs: 2000, sources: { server: 'x', token: 'y' } }).get('healthz'), { ok: true });
    assert.equal(auth, 'Bearer tok');
  } finally {
    for (const s of servers) s.closeAllConnections();
    for (const s of servers) s.close();
  }
});

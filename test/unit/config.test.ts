import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, parseConfig } from '../../server/src/config.js';
import { ConfigError } from '../../server/src/errors.js';

const problems = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected a ConfigError');
};

describe('config', () => {
  it('starts from embedded defaults with no file', () => {
    const c = loadConfig([], {});
    assert.equal(c.server.port, 8080);
    assert.equal(c.repo.branch, 'main');
    assert.equal(c.repo.pollInterval, 60);
    assert.equal(c.inventory.provider, 'builtin');
    assert.equal(c.deploy.concurrency, 20);
    assert.equal(c.deploy.ssh.hostKeyPolicy, 'strict');
    assert.ok(c.dataDir.endsWith('/data'));
  });
  it('names the key and the value of every bad setting', () => {
    const p = problems(() => parseConfig({ server: { port: 'eighty' }, deploy: { concurrency: 0, ssh: { hostKeyPolicy: 'yolo' } }, repo: { branch: '--upload-pack=x' } }));
    assert.ok(p.some((m) => m.startsWith('server.port') && m.includes('"eighty"')), p.join('\n'));
    assert.ok(p.some((m) => m.startsWith('deploy.concurrency') && m.includes('0')));
    assert.ok(p.some((m) => m.startsWith('deploy.ssh.hostKeyPolicy') && m.includes('"yolo"')));
    assert.ok(p.some((m) => m.startsWith('repo.branch')));
  });
  it('rejects unknown keys (typos) and hides secret values', () => {
    const p = problems(() => parseConfig({ deploy: { concurency: 5 }, api: { tokens: ['short'] } }));
    assert.ok(p.some((m) => m.includes('"concurency"')), p.join('\n'));
    assert.ok(p.some((m) => m.startsWith('api.tokens') && m.includes('(hidden)')));
  });
  it('reads YAML from --config and lets the environment override secrets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gf-cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'server:\n  port: 9000\nwebhook:\n  gitlab:\n    token: from-file\ndeploy:\n  units:\n    nginx/prod/shop: { owner: nginx }\n');
    const c = loadConfig(['--config', file], { GITFLEET_GITLAB_TOKEN: 'from-env', GITFLEET_API_TOKENS: 'aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb' });
    assert.equal(c.server.port, 9000);
    assert.equal(c.webhook.gitlab.token, 'from-env');
    assert.deepEqual(c.api.tokens, ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
    assert.equal(c.deploy.units['nginx/prod/shop']?.owner, 'nginx');
    assert.equal(c.configFile, file);
    writeFileSync(file, 'deploy:\n  units:\n    nginx/prod: { owner: nginx }\n');
    assert.ok(problems(() => loadConfig(['--config', file], {})).some((m) => m.includes('<mod>/<env>/<app>')));
    writeFileSync(file, 'server: [1, 2\n');
    assert.ok(problems(() => loadConfig(['--config', file], {}))[0]!.includes('not valid YAML'));
    assert.ok(problems(() => loadConfig(['--config', join(dir, 'missing.yaml')], {}))[0]!.includes('missing.yaml'));
    assert.ok(problems(() => loadConfig([], { GITFLEET_PORT: 'abc' }))[0]!.startsWith('GITFLEET_PORT'));
    rmSync(dir, { recursive: true, force: true });
  });
  it('takes PORT and HOST where neither the file nor GITFLEET_PORT/GITFLEET_HOST say otherwise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gf-cfg-'));
    const withPort = join(dir, 'port.yaml');
    writeFileSync(withPort, 'server:\n  port: 9000\n  host: 10.0.0.1\n');
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, 'repo:\n  branch: main\n');
    const cases: Array<[string[], NodeJS.ProcessEnv, number, string]> = [
      [[], {}, 8080, '127.0.0.1'],
      [[], { PORT: '3000', HOST: '0.0.0.0' }, 3000, '0.0.0.0'],
      [['--config', empty], { PORT: '3000', HOST: '::' }, 3000, '::'],
      [['--config', withPort], { PORT: '3000', HOST: '0.0.0.0' }, 9000, '10.0.0.1'],
      [[], { PORT: '3000', GITFLEET_PORT: '4000', HOST: '0.0.0.0', GITFLEET_HOST: '127.0.0.2' }, 4000, '127.0.0.2'],
      [['--config', withPort], { PORT: '3000', GITFLEET_PORT: '4000', GITFLEET_HOST: '127.0.0.2' }, 4000, '127.0.0.2'],
      [[], { PORT: '' }, 8080, '127.0.0.1'],
    ];
    for (const [argv, env, port, host] of cases) {
      const c = loadConfig(argv, env);
      assert.deepEqual([c.server.port, c.server.host], [port, host], JSON.stringify({ argv, env }));
    }
    assert.ok(problems(() => loadConfig([], { PORT: 'http' }))[0]!.startsWith('PORT: not a number'));
    assert.ok(problems(() => loadConfig([], { PORT: '70000' })).some((m) => m.startsWith('server.port') && m.includes('70000')));
    // A bad PORT is irrelevant when the file sets the port.
    assert.equal(loadConfig(['--config', withPort], { PORT: 'http' }).server.port, 9000);
    rmSync(dir, { recursive: true, force: true });
  });
});

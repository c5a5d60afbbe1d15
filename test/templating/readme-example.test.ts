// The README's worked example ("Templates and secrets"), run as written: its files are read from README.md
// (the host addresses 10.1.0.5/10.1.0.6 replaced by the test fleet's), committed, synced, and the results it
// shows are compared with the hosts' files.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureAgeIdentity, encryptForRecipients } from '../../server/src/templating/secrets.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const API_TOKEN = 'api-token-for-readme-example-01';
const README = resolve(import.meta.dirname, '..', '..', 'README.md');

interface Block { kind: 'file' | 'secret' | 'result'; args: string[]; text: string }

/** `<!-- example KIND ARGS -->` followed by a fenced block. */
async function exampleBlocks(): Promise<Block[]> {
  const md = await readFile(README, 'utf8');
  const out: Block[] = [];
  for (const m of md.matchAll(/<!-- example (file|secret|result) ([^>]+?) -->\n```[a-z]*\n([\s\S]*?)```\n/g)) {
    out.push({ kind: m[1] as Block['kind'], args: m[2]!.split(' '), text: m[3]! });
  }
  return out;
}

describe('README worked example: templates and secrets', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let blocks: Block[];
  let ips: Record<string, string>;
  const swap = (t: string) => t.replaceAll('10.1.0.5', ips['10.1.0.5']!).replaceAll('10.1.0.6', ips['10.1.0.6']!);

  before(async () => {
    blocks = await exampleBlocks();
    assert.ok(blocks.filter((b) => b.kind === 'file').length >= 5 && blocks.some((b) => b.kind === 'secret') && blocks.filter((b) => b.kind === 'result').length >= 2, 'the README example is found');
    tmp = await tempDir('gf-readme-tmpl-');
    fleet = await startFleet(join(tmp.path, 'fleet'), 2);
    ips = { '10.1.0.5': fleet.ips[0]!, '10.1.0.6': fleet.ips[1]! };
    const identityFile = join(tmp.path, 'age.txt');
    const [recipient] = await ensureAgeIdentity(identityFile);
    fx = await createGitFixture(join(tmp.path, 'git'));
    const files: Record<string, string> = {};
    for (const b of blocks) {
      if (b.kind === 'file') files[swap(b.args[0]!)] = b.text;
      if (b.kind === 'secret') files[`${b.args[0]}.age`] = await encryptForRecipients(Buffer.from(b.text), [recipient!]);
    }
    await fx.commit(files);
    s = await startTestServer(join(tmp.path, 'data'), {
      api: { tokens: [API_TOKEN] }, repo: { url: fx.origin }, secrets: { identityFile },
      deploy: { retries: 0, hostTimeout: 20, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 3 } },
    });
    for (const [ip, hostname] of [[ips['10.1.0.5']!, 'shop-bx-1'], [ips['10.1.0.6']!, 'shop-bx-2']]) {
      const r = await s.api('/api/v1/hosts', { method: 'POST', body: { ip, hostname, env: 'prod', apps: ['shop'], labels: { idc: 'bx' } } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
  });

  after(async () => {
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('deploys what the README shows', async () => {
    const r = await s.api('/sync?env=prod&app=shop');
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body.hosts));
    for (const b of blocks.filter((x) => x.kind === 'result')) {
      const [addr, path, mode] = b.args as [string, string, string | undefined];
      const file = fleet.path(ips[addr]!, path);
      assert.equal(await readFile(file, 'utf8'), b.text, `${addr}:${path}`);
      if (mode) assert.equal((await stat(file)).mode & 0o777, parseInt(mode, 8));
    }
    // "and 10.1.0.6 (shop-bx-2, also in bx) the same upstreams on port 9090"
    assert.equal(await readFile(fleet.path(ips['10.1.0.6']!, '/etc/nginx/conf.d/upstream.conf'), 'utf8'),
      '# shop-bx-2 in bx\nupstream shop {\n    server 10.1.0.11:9090;\n    server 10.1.0.12:9090;\n}\n');
  });

  it('a host without the idc label fails, naming the variable; the others are deployed', async () => {
    const id = (await s.api(`/api/v1/hosts?ip=${ips['10.1.0.6']}`)).body.items[0].id;
    const put = await s.api(`/api/v1/hosts/${id}`, { method: 'PUT', body: { ip: ips['10.1.0.6'], hostname: 'shop-bx-2', env: 'prod', apps: ['shop'], labels: {} } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const r = await s.api('/sync?env=prod&app=shop');
    const byIp = new Map((r.body.hosts as Array<{ ip: string; status: string; reason: string }>).map((h) => [h.ip, h]));
    assert.equal(byIp.get(ips['10.1.0.5']!)!.status, 'succeeded');
    const failed = byIp.get(ips['10.1.0.6']!)!;
    assert.equal(failed.status, 'failed');
    assert.equal(failed.reason, 'template nginx/prod/shop/etc/nginx/conf.d/upstream.conf.tmpl line 3: undefined variable "upstreams[…]" (looked up with an empty or null key); nothing was pushed to this host');
  });
});

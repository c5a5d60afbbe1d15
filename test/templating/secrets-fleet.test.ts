// Secrets end to end on a real host: a `.age` file lands decrypted with mode 0600, a template reads
// `secrets.*`, a file encrypted for another recipient fails its host with a clear reason, and the plain
// secrets appear nowhere else: every log line, every database row, every API answer (dry run included),
// every notification body and the metrics are searched for them.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { createNotifyModule } from '../../server/src/notify/module.js';
import { createSecretsModule } from '../../server/src/templating/module.js';
import { createFssyncModule } from '../../server/src/fssync/module.js';
import { ensureAgeIdentity, encryptForRecipients } from '../../server/src/templating/secrets.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { startReceiver, type Receiver } from '../notify/receiver.js';

const API_TOKEN = 'api-token-for-secret-tests-01234';
const DB_PASSWORD = 'Zq8-pl41n-DBpass-4471';
const FILE_SECRET = 'file-only-S3CRET-9911';
const TMPL_SECRET = 'tmpl-S3CRET-7788-abc';
const BROKEN_SECRET = 'broken-S3CRET-5566';
const UNIT = 'nginx/prod/db';

describe('secrets on a real host', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let rx: Receiver;
  let ip: string;
  let recipient = '';
  const answers: unknown[] = [];

  const api = async (path: string, init?: Parameters<TestServer['api']>[1]) => {
    const r = await s.api(path, init);
    answers.push({ path, status: r.status, body: r.body, headers: Object.fromEntries(r.headers) });
    return r;
  };

  before(async () => {
    tmp = await tempDir('gf-secrets-');
    [fleet, rx] = await Promise.all([startFleet(join(tmp.path, 'fleet'), 1), startReceiver()]);
    ip = fleet.ips[0]!;
    const identityFile = join(tmp.path, 'age', 'identity.txt');
    recipient = (await ensureAgeIdentity(identityFile))[0]!;
    fx = await createGitFixture(join(tmp.path, 'git'));
    await fx.commit({
      'nginx/prod/secrets.yaml.age': await encryptForRecipients(Buffer.from(`db_password: ${DB_PASSWORD}\n`), [recipient!]),
      [`${UNIT}/etc/app/db.conf.age`]: await encryptForRecipients(Buffer.from(`token=${FILE_SECRET}\n`), [recipient!]),
      [`${UNIT}/etc/app/app.ini.tmpl`]: 'user=app\npassword={{ secrets.db_password }}\nhost={{ host.ip }}\n',
      [`${UNIT}/etc/app/readme.txt`]: 'plain\n',
    });
    s = await startTestServer(join(tmp.path, 'data'), {
      api: { tokens: [API_TOKEN] }, repo: { url: fx.origin }, secrets: { identityFile },
      deploy: { retries: 0, hostTimeout: 20, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 3 } },
      notifications: { targets: { all: { url: `${rx.url}/hook`, format: 'json', on: 'all', retries: 0 } } },
    }, { modules: [createNotifyModule(), createSecretsModule(), createFssyncModule()] });
    const r = await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['db'] } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });

  after(async () => {
    await s?.stop();
    await rx?.close();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('serves the public recipient, never the identity', async () => {
    const r = await api('/api/v1/secrets/recipient');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { recipient, recipients: [recipient] });
    assert.equal((await s.api('/api/v1/secrets/recipient', { headers: { authorization: 'Bearer wrong-token-0000000000' } })).status, 401);
  });

  it('a .age file lands decrypted with mode 0600; a template reads secrets.*', async () => {
    const r = await api('/sync?env=prod&app=db');
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body.hosts));
    assert.equal(await readFile(fleet.path(ip, '/etc/app/db.conf'), 'utf8'), `token=${FILE_SECRET}\n`);
    assert.equal((await stat(fleet.path(ip, '/etc/app/db.conf'))).mode & 0o777, 0o600);
    assert.equal(await readFile(fleet.path(ip, '/etc/app/app.ini'), 'utf8'), `user=app\npassword=${DB_PASSWORD}\nhost=${ip}\n`);
    assert.equal((await stat(fleet.path(ip, '/etc/app/app.ini'))).mode & 0o777, 0o600, 'a template reading secrets: 0600 too');
    assert.equal((await stat(fleet.path(ip, '/etc/app/readme.txt'))).mode & 0o777, 0o644);
    await assert.rejects(stat(fleet.path(ip, '/etc/app/db.conf.age')), /ENOENT/);
    assert.deepEqual([...r.body.hosts[0].changes].sort(), ['+etc/app/app.ini', '+etc/app/db.conf', '+etc/app/readme.txt']);
  });

  it('a hook printing a secret has it masked in the record; a dry run shows nothing secret', async () => {
    await fx.commit({ [`${UNIT}/.gitfleet.yaml`]: 'hooks:\n  validate: "cat /etc/app/app.ini /etc/app/db.conf >&2; exit 3"\n', [`${UNIT}/etc/app/readme.txt`]: 'plain 2\n' });
    const dry = await api('/sync?env=prod&app=db&dryRun=true');
    assert.equal(dry.status, 200);
    assert.equal(dry.body.hosts[0].status, 'succeeded');
    const r = await api('/sync?env=prod&app=db');
    const h = r.body.hosts[0];
    assert.equal(h.status, 'failed');
    assert.match(h.reason, /validate/);
    assert.match(`${h.reason}\n${h.stderrTail}`, /password=\[secret\]/, 'the hook output is kept, the secret masked');
    // A line of a decrypted file is masked whole.
    assert.match(`${h.reason}\n${h.stderrTail}`, /\n\[secret\]/);
    await rx.waitFor(2);
  });

  it('a dry run\'s content diff shows the rendered template with the secret masked', async () => {
    await fx.commit({ [`${UNIT}/.gitfleet.yaml`]: null, [`${UNIT}/etc/app/app.ini.tmpl`]: 'user=app2\npassword={{ secrets.db_password }}\nhost={{ host.ip }}\n' });
    const dry = await api('/sync?env=prod&app=db&dryRun=true');
    assert.equal(dry.status, 200);
    const h = dry.body.hosts[0];
    assert.equal(h.status, 'succeeded', JSON.stringify(h));
    const text = JSON.stringify(h.diff);
    assert.match(text, /-user=app\\n\+user=app2/, text);
    assert.match(text, /password=\[secret\]/, 'the context line with the secret is masked');
    assert.ok(!text.includes(DB_PASSWORD) && !text.includes(FILE_SECRET), 'no plain secret in the diff');
    await fx.commit({ [`${UNIT}/etc/app/app.ini.tmpl`]: 'user=app\npassword={{ secrets.db_password }}\nhost={{ host.ip }}\n' });
  });

  it('a file encrypted for another recipient fails the host with the file and the recipient named', async () => {
    const other = await identityToRecipient(await generateIdentity());
    await fx.commit({
      [`${UNIT}/.gitfleet.yaml`]: '',
      [`${UNIT}/etc/app/other.conf.age`]: await encryptForRecipients(Buffer.from('x=1\n'), [other]),
    });
    const r = await api('/sync?env=prod&app=db');
    const h = r.body.hosts[0];
    assert.equal(h.status, 'failed');
    assert.equal(h.reason, `cannot decrypt ${UNIT}/etc/app/other.conf.age: it is not encrypted for this server's recipient ${recipient} (re-encrypt it for that recipient); nothing was pushed to this host`);
    await assert.rejects(stat(fleet.path(ip, '/etc/app/other.conf')), /ENOENT/);
  });

  it('x.tmpl.age is decrypted, then rendered; a syntax error in it is reported without its text', async () => {
    await fx.commit({
      [`${UNIT}/etc/app/other.conf.age`]: null,
      [`${UNIT}/etc/app/api.conf.tmpl.age`]: await encryptForRecipients(Buffer.from(`key=${TMPL_SECRET}\nip={{ host.ip }}\n`), [recipient]),
    });
    let r = await api('/sync?env=prod&app=db');
    assert.equal(r.body.hosts[0].status, 'succeeded', JSON.stringify(r.body.hosts));
    assert.equal(await readFile(fleet.path(ip, '/etc/app/api.conf'), 'utf8'), `key=${TMPL_SECRET}\nip=${ip}\n`);
    assert.equal((await stat(fleet.path(ip, '/etc/app/api.conf'))).mode & 0o777, 0o600);
    await fx.commit({ [`${UNIT}/etc/app/broken.conf.tmpl.age`]: await encryptForRecipients(Buffer.from(`x\n{% if ${BROKEN_SECRET} == %}y{% endif %}\n`), [recipient]) });
    r = await api('/sync?env=prod&app=db');
    const h = r.body.hosts[0];
    assert.equal(h.status, 'failed');
    assert.match(h.reason, /^template nginx\/prod\/db\/etc\/app\/broken\.conf\.tmpl\.age line 2: .*; nothing was pushed to this host$/);
    assert.equal(h.reason.includes(BROKEN_SECRET), false, h.reason);
    await fx.commit({ [`${UNIT}/etc/app/broken.conf.tmpl.age`]: null });
    assert.equal((await api('/sync?env=prod&app=db')).body.hosts[0].status, 'succeeded');
  });

  it('modify refuses an encrypted file', async () => {
    const r = await api(`/api/v1/units/${UNIT}/modify`, { method: 'POST', body: { path: 'etc/app/db.conf.age', set: { a: 'b' }, author: { name: 'Ada', email: 'ada@example.com' } } });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /is encrypted \(age\): modify cannot edit it/);
  });

  it('the plain secrets are nowhere: logs, database rows, API answers, notifications, metrics, file APIs', async () => {
    const head = await fx.head();
    for (const p of ['/api/v1/deployments?limit=100', `/api/v1/units`, `/api/v1/units/${UNIT}/hosts`, `/api/v1/units/${UNIT}/files`,
      `/api/v1/units/${UNIT}/file?path=etc/app/db.conf.age`, `/getfile?env=prod&app=db&path=etc/app/db.conf.age`, `/api/v1/units/${UNIT}/file?path=etc/app/app.ini.tmpl`,
      `/api/v1/hosts`, '/metrics', '/healthz']) await api(p);
    for (const d of (await s.api('/api/v1/deployments?limit=100')).body.items as Array<{ id: number }>) await api(`/api/v1/deployments/${d.id}`);
    const tables = await s.ctx.db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'");
    const rows: unknown[] = [];
    for (const t of tables) rows.push(...(await s.ctx.db.all(`SELECT * FROM "${t.name}"`)));
    const haystacks: Record<string, string> = {
      logs: JSON.stringify(s.logs), db: JSON.stringify(rows), api: JSON.stringify(answers), notifications: JSON.stringify(rx.requests),
    };
    assert.ok(rows.length > 10 && s.logs.length > 20 && rx.requests.length >= 2 && answers.length > 15, 'the search covered real material');
    assert.ok(haystacks.api!.includes('BEGIN AGE ENCRYPTED FILE'), 'the file APIs serve the encrypted form');
    for (const secret of [DB_PASSWORD, FILE_SECRET, TMPL_SECRET, BROKEN_SECRET]) {
      for (const form of [secret, Buffer.from(secret).toString('base64').replace(/=+$/, '')]) {
        for (const [where, text] of Object.entries(haystacks)) assert.equal(text.includes(form), false, `${where} holds a secret`);
      }
    }
    assert.equal((await readFile(fleet.path(ip, '/etc/app/app.ini'), 'utf8')).includes(DB_PASSWORD), true, 'control: the host has it');
    assert.ok(head);
  });
});

// scripts/secret.mjs, the repo-side helper: prints the server's recipient, encrypts for it (the server decrypts
// what it wrote), refuses what is not a recipient; and the server's identity file is created 0600, once.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ensureAgeIdentity, openSecretBox } from '../../server/src/templating/secrets.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const SCRIPT = resolve(import.meta.dirname, '..', '..', 'scripts', 'secret.mjs');

describe('scripts/secret.mjs and the age identity', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let idFile: string;
  let recipient: string;
  before(async () => {
    tmp = await tempDir('gf-secret-script-');
    idFile = join(tmp.path, 'secrets', 'age-identity.txt');
    recipient = (await ensureAgeIdentity(idFile))[0]!;
  });
  after(async () => { await tmp?.cleanup(); });

  it('creates the identity once, mode 0600, in age-keygen format', async () => {
    const text = await readFile(idFile, 'utf8');
    assert.match(text, /^# created: .+\n# public key: age1[0-9a-z]+\nAGE-SECRET-KEY-1[0-9A-Z]+\n$/);
    assert.equal((await stat(idFile)).mode & 0o777, 0o600);
    assert.deepEqual(await ensureAgeIdentity(idFile), [recipient], 'a second start keeps it');
    assert.equal(await readFile(idFile, 'utf8'), text);
  });

  it('prints the recipient and encrypts for it; the server decrypts the result', async () => {
    const r = await run(process.execPath, [SCRIPT, 'recipient', '--identity', idFile]);
    assert.equal(r.stdout, `${recipient}\n`);
    const plain = join(tmp.path, 'db.conf');
    await writeFile(plain, 'password=hunter2-long\n');
    const e = await run(process.execPath, [SCRIPT, 'encrypt', '-r', recipient, plain]);
    assert.equal(e.stdout, `${plain}.age (for ${recipient})\n`);
    const enc = await readFile(`${plain}.age`);
    assert.match(enc.toString(), /^-----BEGIN AGE ENCRYPTED FILE-----\n/);
    assert.equal(enc.includes('hunter2'), false);
    assert.equal((await openSecretBox(idFile).decrypt('db.conf.age', enc)).toString(), 'password=hunter2-long\n');
  });

  it('refuses what is not a recipient, and an identity file without a key', async () => {
    await assert.rejects(run(process.execPath, [SCRIPT, 'encrypt', '-r', 'ssh-ed25519 AAAA', join(tmp.path, 'x')]), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /not an age recipient: ssh-ed25519 AAAA/);
      return true;
    });
    const empty = join(tmp.path, 'empty.txt');
    await writeFile(empty, '# nothing\n');
    await assert.rejects(openSecretBox(empty).decrypt('x.age', Buffer.from('age-encryption.org/v1\n')), /cannot decrypt x\.age: the server's age identity is not readable \(.*holds no age identity/);
  });
});

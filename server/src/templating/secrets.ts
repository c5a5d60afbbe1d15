// The server's age identity (created at first start like the SSH key) and decryption of the repo's `*.age`
// files with it (the `age-encryption` package: the reference TypeScript implementation of age v1).
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Decrypter, Encrypter, armor, generateIdentity, identityToRecipient } from 'age-encryption';

/** A file that could not be decrypted: names the file and why, never a byte of content. */
export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}

export const defaultIdentityFile = (dataDir: string): string => join(dataDir, 'secrets', 'age-identity.txt');
export const identityFileOf = (config: { dataDir: string; secrets: { identityFile?: string } }): string =>
  config.secrets.identityFile ?? defaultIdentityFile(config.dataDir);

const KEY_RE = /^AGE-SECRET-KEY-1[0-9A-Z]+$/;

/** The identities in an age identity file (`age-keygen` format: comments, one key per line). */
export async function readIdentities(file: string): Promise<string[]> {
  const keys = (await readFile(file, 'utf8')).split('\n').map((l) => l.trim()).filter((l) => KEY_RE.test(l));
  if (!keys.length) throw new SecretError(`${file} holds no age identity (AGE-SECRET-KEY-1… line)`);
  return keys;
}

/** Create the identity file (mode 0600, `age-keygen` format) if missing; returns the recipients (public keys) of every identity in it. */
export async function ensureAgeIdentity(file: string, now = new Date()): Promise<string[]> {
  if (!(await access(file).then(() => true, () => false))) {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const id = await generateIdentity();
    const rec = await identityToRecipient(id);
    await writeFile(file, `# created: ${now.toISOString()}\n# public key: ${rec}\n${id}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(file, 0o600);
  }
  return recipientsOf(file);
}

export async function recipientsOf(file: string): Promise<string[]> {
  return Promise.all((await readIdentities(file)).map((k) => identityToRecipient(k)));
}

export interface SecretBox {
  /** The server's recipients (what files must be encrypted to). */
  recipients: string[];
  /** Decrypt one repo file; throws SecretError naming the file. */
  decrypt(path: string, data: Uint8Array): Promise<Buffer>;
}

/** A decrypter for the identities in `file`; loading errors surface at the first decrypt (units without secrets never need the file). */
export function openSecretBox(file: string): SecretBox & { ready: Promise<void> } {
  let dec: Decrypter | undefined;
  const recipients: string[] = [];
  const ready = (async () => {
    const keys = await readIdentities(file);
    dec = new Decrypter();
    for (const k of keys) dec.addIdentity(k);
    recipients.push(...(await Promise.all(keys.map((k) => identityToRecipient(k)))));
  })();
  const box = {
    recipients, ready,
    async decrypt(path: string, data: Uint8Array): Promise<Buffer> {
      try {
        await box.ready;
      } catch (err) {
        throw new SecretError(`cannot decrypt ${path}: the server's age identity is not readable (${(err as Error).message})`);
      }
      try {
        return Buffer.from(await dec!.decrypt(dearmor(data)));
      } catch (err) {
        const msg = String((err as Error).message ?? err);
        const why = /no identity matched/i.test(msg)
          ? `it is not encrypted for this server's recipient ${box.recipients.join(', ')} (re-encrypt it for that recipient)`
          : /header|intro|invalid|armor|version/i.test(msg) ? 'it is not an age file (or is damaged)' : 'decryption failed (damaged or tampered)';
        throw new SecretError(`cannot decrypt ${path}: ${why}`);
      }
    },
  };
  box.ready.catch(() => undefined);
  return box;
}

const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';

/** age files come binary or ASCII-armored (`age -a`, and what encryptForRecipients writes): both are read. */
function dearmor(data: Uint8Array): Uint8Array {
  const head = Buffer.from(data.subarray(0, 64)).toString('latin1').trimStart();
  return head.startsWith(ARMOR_BEGIN) ? armor.decode(Buffer.from(data).toString('latin1')) : data;
}

/** Encrypt for recipients (`age1…`), ASCII-armored: text that git diffs and stores well; `age -d` reads it too. */
export async function encryptForRecipients(plain: Uint8Array, recipients: string[]): Promise<string> {
  if (!recipients.length) throw new Error('no recipient given');
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return armor.encode(await e.encrypt(plain));
}

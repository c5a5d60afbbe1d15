// gitfleet's own SSH identity and known_hosts: created on first start when the defaults are used.
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { runCommand } from '../util/exec.js';

/** Create the key pair (ed25519, no passphrase) if missing; returns the public key line. */
export async function ensureIdentity(identityFile: string): Promise<string> {
  const exists = await access(identityFile).then(() => true, () => false);
  if (!exists) {
    await mkdir(dirname(identityFile), { recursive: true, mode: 0o700 });
    const res = await runCommand('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'gitfleet', '-f', identityFile]);
    if (res.exitCode !== 0) throw new Error(`ssh-keygen failed: ${res.stderr.trim()}`);
  }
  return (await readFile(`${identityFile}.pub`, 'utf8').catch(() => '')).trim();
}

export async function ensureKnownHosts(file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  if (!(await access(file).then(() => true, () => false))) await writeFile(file, '', { mode: 0o600 });
}

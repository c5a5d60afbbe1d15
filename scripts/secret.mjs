#!/usr/bin/env node
// Repo-side helper for gitfleet secrets (README "Templates and secrets"). Plain Node, no build needed.
//   node scripts/secret.mjs recipient [--identity FILE]     print the server's age recipient(s)
//                                                           (default ./data/secrets/age-identity.txt)
//   node scripts/secret.mjs encrypt (-r age1… | -R FILE | --server URL)… IN [OUT]
//       encrypt IN for the recipient(s) into OUT (default IN.age), ASCII-armored; --server asks a running
//       gitfleet (GET /api/v1/secrets/recipient, token from GITFLEET_API_TOKEN). The plain file is left alone:
//       delete it (never commit it).
import { readFile, writeFile } from 'node:fs/promises';
import { Encrypter, armor, identityToRecipient } from 'age-encryption';

const usage = () => {
  process.stderr.write('usage: secret.mjs recipient [--identity FILE] | encrypt (-r RECIPIENT | -R FILE | --server URL)... IN [OUT]\n');
  process.exit(2);
};
const [cmd, ...args] = process.argv.slice(2);
const RECIPIENT_RE = /^age1[0-9a-z]{20,}$/;

if (cmd === 'recipient') {
  const i = args.indexOf('--identity');
  const file = i >= 0 ? args[i + 1] : './data/secrets/age-identity.txt';
  if (!file) usage();
  const keys = (await readFile(file, 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('AGE-SECRET-KEY-1'));
  if (!keys.length) { process.stderr.write(`${file}: no age identity in it\n`); process.exit(1); }
  for (const k of keys) process.stdout.write(`${await identityToRecipient(k)}\n`);
} else if (cmd === 'encrypt') {
  const recipients = [];
  const files = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-r') recipients.push(args[++i] ?? usage());
    else if (a === '-R') recipients.push(...(await readFile(args[++i] ?? usage(), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
    else if (a === '--server') {
      const url = `${(args[++i] ?? usage()).replace(/\/+$/, '')}/api/v1/secrets/recipient`;
      const token = process.env.GITFLEET_API_TOKEN;
      const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      if (!res.ok) { process.stderr.write(`${url} answered ${res.status}\n`); process.exit(1); }
      recipients.push(...(await res.json()).recipients);
    } else files.push(a);
  }
  const [input, output = `${files[0]}.age`] = files;
  if (!input || files.length > 2 || !recipients.length) usage();
  const bad = recipients.filter((r) => !RECIPIENT_RE.test(r));
  if (bad.length) { process.stderr.write(`not an age recipient: ${bad.join(', ')}\n`); process.exit(2); }
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  await writeFile(output, armor.encode(await e.encrypt(await readFile(input))));
  process.stdout.write(`${output} (for ${recipients.join(', ')})\n`);
} else usage();

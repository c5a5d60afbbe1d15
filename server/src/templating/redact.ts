// PURE: masking secrets out of text that leaves the server's memory (dry-run diffs, reasons, stderr tails).
// A decrypted file is masked whole (a keyed digest stands in for it, so a diff still shows that it changed);
// elsewhere every secret value — and each line of a decrypted file — is replaced where it appears verbatim
// (or base64-encoded).
import { createHmac, randomBytes } from 'node:crypto';

export const MASK = '[secret]';
/** Shorter values are not masked inside other text: "1" or "on" would blank every line (README says so). */
export const MIN_MASKED_LENGTH = 4;

export interface Redactor {
  /** What may be shown of a host file's staged (or current) content: `path` is the unit-relative host path. */
  redact(path: string, text: string): string;
  /** Any other text (reasons, hook output): every secret value replaced by [secret]. */
  mask(text: string): string;
  /** Is this host path a decrypted file? */
  isSecretFile(path: string): boolean;
}

/** Leaf values of a secrets tree, as text. */
export function secretLeaves(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (typeof v === 'number' || typeof v === 'bigint') out.push(String(v));
  else if (Array.isArray(v)) for (const x of v) secretLeaves(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) secretLeaves(x, out);
  return out;
}

export function createRedactor(o: { secretFiles: Iterable<string>; secretValues: Iterable<string>; key?: Buffer }): Redactor {
  const files = new Set(o.secretFiles);
  const key = o.key ?? randomBytes(32);
  const needles = new Set<string>();
  for (const v of o.secretValues) {
    for (const s of [v, v.trim()]) {
      if (s.length < MIN_MASKED_LENGTH) continue;
      needles.add(s);
      needles.add(Buffer.from(s).toString('base64').replace(/=+$/, ''));
    }
  }
  // Longest first: a value that contains another is masked whole.
  const list = [...needles].sort((a, b) => b.length - a.length);
  const mask = (text: string): string => {
    let out = text;
    for (const n of list) if (out.includes(n)) out = out.split(n).join(MASK);
    return out;
  };
  return {
    mask,
    isSecretFile: (p) => files.has(p),
    redact(path, text) {
      if (!files.has(path)) return mask(text);
      const digest = createHmac('sha256', key).update(text).digest('hex').slice(0, 12);
      return `[secret file: content masked, digest ${digest}]\n`;
    },
  };
}

/** A redactor that masks nothing (units without secrets). */
export const NO_SECRETS: Redactor = { redact: (_p, t) => t, mask: (t) => t, isSecretFile: () => false };

// PURE: webhook authentication — GitLab token, Standard Webhooks signature (GitLab signing token), GitHub HMAC.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const digest = (b: Buffer | string) => createHash('sha256').update(b).digest();

/** Constant-time string equality (over digests, so unequal lengths do not short-circuit). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export function verifyGitlabToken(header: string | undefined, token: string): boolean {
  return typeof header === 'string' && safeEqual(header, token);
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256(id.timestamp.body)>` (space-separated list), timestamp within tolerance. */
export function verifyStandardWebhook(
  headers: { id?: string; timestamp?: string; signature?: string },
  body: Buffer,
  secret: string,
  nowSeconds: number,
  toleranceSeconds: number,
): SignatureCheck {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'webhook-timestamp is not a number of seconds' };
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return { ok: false, reason: 'webhook-timestamp outside the allowed window (replay?)' };
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
  const match = signature.split(' ').some((part) => {
    const [version, sig] = part.split(',', 2);
    return version === 'v1' && typeof sig === 'string' && safeEqual(sig, expected);
  });
  return match ? { ok: true } : { ok: false, reason: 'webhook-signature does not match' };
}

/** GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. */
export function verifyGithubSignature(header: string | undefined, body: Buffer, secret: string): boolean {
  if (typeof header !== 'string') return false;
  const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return safeEqual(header, expected);
}

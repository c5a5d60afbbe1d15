// Signed webhook deliveries built from the fixture payloads, with the commit range of a real test repo.
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
export const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;

export interface Delivery { headers: Record<string, string>; body: string }

/** A GitLab push delivery (fixture shape) for before..after on a branch. */
export function gitlabPush(opts: { before: string; after: string; token?: string; branch?: string; idempotencyKey?: string }): Delivery {
  const payload = { ...fixture('gitlab-push.json'), before: opts.before, after: opts.after, checkout_sha: opts.after, ref: `refs/heads/${opts.branch ?? 'main'}` };
  const headers: Record<string, string> = {
    'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'user-agent': 'GitLab/17.8.2',
    'idempotency-key': opts.idempotencyKey ?? randomUUID(), 'x-gitlab-event-uuid': randomUUID(),
  };
  if (opts.token !== undefined) headers['x-gitlab-token'] = opts.token;
  return { headers, body: JSON.stringify(payload) };
}

/** A GitHub push delivery signed with the secret. */
export function githubPush(opts: { before: string; after: string; secret: string; branch?: string; delivery?: string }): Delivery {
  const body = JSON.stringify({ ...fixture('github-push.json'), before: opts.before, after: opts.after, ref: `refs/heads/${opts.branch ?? 'main'}` });
  return {
    body,
    headers: {
      'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': opts.delivery ?? randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', opts.secret).update(body).digest('hex')}`,
    },
  };
}

export async function deliver(url: string, d: Delivery): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: d.headers, body: d.body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// PURE: the few fields of a GitLab/GitHub push payload we use, validated; everything else is ignored.
import { createHash } from 'node:crypto';
import { SHA_RE, ZERO_SHA_RE } from '../util/validate.js';

export interface PushEvent {
  ref: string;
  before: string;
  after: string;
  actor: string | null;
  projectId: string | null;
}

export type ParseResult = { ok: true; event: PushEvent } | { ok: false; reason: string };

const sha = (v: unknown) => typeof v === 'string' && (SHA_RE.test(v) || (ZERO_SHA_RE.test(v) && (v.length === 40 || v.length === 64)));

export function parsePushPayload(body: unknown, source: 'gitlab' | 'github'): ParseResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, reason: 'payload is not a JSON object' };
  const b = body as Record<string, unknown>;
  if (source === 'gitlab' && b.object_kind !== 'push') return { ok: false, reason: `object_kind is ${JSON.stringify(b.object_kind)}, expected "push"` };
  if (typeof b.ref !== 'string' || b.ref.length > 1024) return { ok: false, reason: 'ref is missing or not a string' };
  if (!sha(b.before) || !sha(b.after)) return { ok: false, reason: 'before/after are not commit ids' };
  let actor: string | null = null;
  let projectId: string | null = null;
  if (source === 'gitlab') {
    actor = typeof b.user_username === 'string' ? b.user_username : typeof b.user_name === 'string' ? b.user_name : null;
    projectId = typeof b.project_id === 'number' || typeof b.project_id === 'string' ? String(b.project_id) : null;
  } else {
    const sender = b.sender as Record<string, unknown> | undefined;
    const pusher = b.pusher as Record<string, unknown> | undefined;
    actor = typeof sender?.login === 'string' ? sender.login : typeof pusher?.name === 'string' ? pusher.name : null;
    const repo = b.repository as Record<string, unknown> | undefined;
    projectId = typeof repo?.id === 'number' ? String(repo.id) : null;
  }
  return { ok: true, event: { ref: b.ref, before: b.before as string, after: b.after as string, actor: actor?.slice(0, 200) ?? null, projectId } };
}

/** Dedupe key of a delivery: the sender's idempotency id, else a hash of what the event says. */
export function deliveryKey(source: string, idHeader: string | undefined, e: PushEvent): string {
  if (idHeader && /^[A-Za-z0-9._:-]{1,200}$/.test(idHeader)) return `${source}:${idHeader}`;
  return `${source}:${createHash('sha256').update([e.projectId, e.ref, e.before, e.after].join('|')).digest('hex')}`;
}

export const isBranchDeletion = (e: PushEvent): boolean => ZERO_SHA_RE.test(e.after);

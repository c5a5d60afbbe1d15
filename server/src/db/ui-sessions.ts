// Dashboard sessions (see ui/session.ts): rows keyed by the digest of the cookie's session id.
import type { Queryable } from './connection.js';

export interface UiSession { tokenDigest: string; actor: string; csrf: string; createdAt: string; expiresAt: string }

type Row = { token_digest: string; actor: string; csrf: string; created_at: string; expires_at: string };

export async function insertSession(q: Queryable, idDigest: string, s: UiSession): Promise<void> {
  await q.run('INSERT INTO ui_sessions (id_digest, token_digest, actor, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
    [idDigest, s.tokenDigest, s.actor, s.csrf, s.createdAt, s.expiresAt]);
}

/** The live session (not expired at `now`), if any. */
export async function getSession(q: Queryable, idDigest: string, now: string): Promise<UiSession | undefined> {
  const r = await q.get<Row>('SELECT token_digest, actor, csrf, created_at, expires_at FROM ui_sessions WHERE id_digest = ? AND expires_at > ?', [idDigest, now]);
  return r && { tokenDigest: r.token_digest, actor: r.actor, csrf: r.csrf, createdAt: r.created_at, expiresAt: r.expires_at };
}

export async function deleteSession(q: Queryable, idDigest: string): Promise<boolean> {
  return (await q.run('DELETE FROM ui_sessions WHERE id_digest = ?', [idDigest])).changes > 0;
}

export async function pruneSessions(q: Queryable, now: string): Promise<number> {
  return (await q.run('DELETE FROM ui_sessions WHERE expires_at <= ?', [now])).changes;
}

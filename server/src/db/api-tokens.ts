// The api_tokens table: tokens made through the API, looked up by the SHA-256 of their secret.
import type { Queryable } from './connection.js';
import type { Scopes } from '../auth/scopes.js';

export interface StoredToken {
  name: string; scopes: Scopes; createdAt: string; createdBy: string;
  expiresAt: string | null; revokedAt: string | null; revokedBy: string | null; lastUsedAt: string | null;
}

type Row = { id: number; name: string; scopes: string; created_at: string; created_by: string; expires_at: string | null; revoked_at: string | null; revoked_by: string | null; last_used_at: string | null };
const view = (r: Row): StoredToken => ({
  name: r.name, scopes: JSON.parse(r.scopes) as Scopes, createdAt: r.created_at, createdBy: r.created_by,
  expiresAt: r.expires_at, revokedAt: r.revoked_at, revokedBy: r.revoked_by, lastUsedAt: r.last_used_at,
});

export async function insertToken(q: Queryable, t: { name: string; sha256: string; scopes: Scopes; createdAt: string; createdBy: string; expiresAt: string | null }): Promise<void> {
  await q.run('INSERT INTO api_tokens (name, secret_sha256, scopes, created_at, created_by, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
    [t.name, t.sha256, JSON.stringify(t.scopes), t.createdAt, t.createdBy, t.expiresAt]);
}

export async function tokenBySha(q: Queryable, sha256: string): Promise<StoredToken | undefined> {
  const r = await q.get<Row>('SELECT * FROM api_tokens WHERE secret_sha256 = ?', [sha256]);
  return r && view(r);
}

export async function tokenByName(q: Queryable, name: string): Promise<StoredToken | undefined> {
  const r = await q.get<Row>('SELECT * FROM api_tokens WHERE name = ?', [name]);
  return r && view(r);
}

export async function listTokens(q: Queryable): Promise<StoredToken[]> {
  return (await q.all<Row>('SELECT * FROM api_tokens ORDER BY id')).map(view);
}

/** Tokens neither revoked nor expired at `now`. */
export async function countLiveTokens(q: Queryable, now: string): Promise<number> {
  return (await q.get<{ n: number }>('SELECT COUNT(*) AS n FROM api_tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)', [now]))!.n;
}

/** Revoke a live token; false when there is none of that name or it is revoked already. */
export async function revokeToken(q: Queryable, name: string, at: string, by: string): Promise<boolean> {
  return (await q.run('UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE name = ? AND revoked_at IS NULL', [at, by, name])).changes > 0;
}

export async function touchToken(q: Queryable, name: string, at: string): Promise<void> {
  await q.run('UPDATE api_tokens SET last_used_at = ? WHERE name = ?', [at, name]);
}

// The audit_log table: append rows, query them, and the retention prune (the only delete its triggers let through).
import type { Db, Queryable } from './connection.js';

export interface AuditRow {
  id: number; at: string; actor: string; actorKind: string; source: string | null; action: string;
  target: string | null; params: Record<string, unknown>; outcome: string; status: number | null; detail: string | null;
}
export type AuditInsert = Omit<AuditRow, 'id'>;
export interface AuditFilter { actor?: string; action?: string; since?: string; until?: string; limit: number; beforeId?: number }

type Row = { id: number; at: string; actor: string; actor_kind: string; source: string | null; action: string; target: string | null; params: string; outcome: string; status: number | null; detail: string | null };
const view = (r: Row): AuditRow => ({
  id: r.id, at: r.at, actor: r.actor, actorKind: r.actor_kind, source: r.source, action: r.action, target: r.target,
  params: JSON.parse(r.params) as Record<string, unknown>, outcome: r.outcome, status: r.status, detail: r.detail,
});

export async function insertAudit(q: Queryable, e: AuditInsert): Promise<number> {
  return q.insert('INSERT INTO audit_log (at, actor, actor_kind, source, action, target, params, outcome, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [e.at, e.actor, e.actorKind, e.source, e.action, e.target, JSON.stringify(e.params), e.outcome, e.status, e.detail]);
}

/** Newest first; `action` matches exactly or as a prefix ending in "." ("token." = token.create and token.revoke). */
export async function queryAudit(q: Queryable, f: AuditFilter): Promise<AuditRow[]> {
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (f.actor !== undefined) { where.push('actor = ?'); params.push(f.actor); }
  if (f.action !== undefined) {
    if (f.action.endsWith('.')) { where.push('substr(action, 1, ?) = ?'); params.push(f.action.length, f.action); } else { where.push('action = ?'); params.push(f.action); }
  }
  if (f.since !== undefined) { where.push('at >= ?'); params.push(f.since); }
  if (f.until !== undefined) { where.push('at < ?'); params.push(f.until); }
  if (f.beforeId !== undefined) { where.push('id < ?'); params.push(f.beforeId); }
  const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
  return (await q.all<Row>(sql, [...params, f.limit])).map(view);
}

/** Delete rows older than `before` (ISO): opens the triggers' gate for this transaction only. */
export async function pruneAudit(db: Db, before: string): Promise<number> {
  return db.tx(async (q) => {
    await q.run('UPDATE audit_prune_gate SET before = ? WHERE id = 1', [before]);
    const n = (await q.run('DELETE FROM audit_log WHERE at < ?', [before])).changes;
    await q.run("UPDATE audit_prune_gate SET before = '' WHERE id = 1");
    return n;
  });
}

// Merge-request previews: one row per merge request (its comment id, its newest head, its last result).
import type { Queryable } from './connection.js';

export type PreviewStatus = 'queued' | 'waiting' | 'running' | 'done' | 'failed';

export interface PreviewKey { source: string; project: string; number: number }

export interface PreviewRow extends PreviewKey {
  url: string | null; headSha: string; status: PreviewStatus; commentId: string | null; result: unknown; error: string | null;
  requestedAt: string; startedAt: string | null; finishedAt: string | null;
}

type Row = { source: string; project: string; number: number; url: string | null; head_sha: string; status: string; comment_id: string | null; result: string | null; error: string | null; requested_at: string; started_at: string | null; finished_at: string | null };

const view = (r: Row): PreviewRow => ({
  source: r.source, project: r.project, number: r.number, url: r.url, headSha: r.head_sha, status: r.status as PreviewStatus,
  commentId: r.comment_id, result: r.result ? JSON.parse(r.result) as unknown : null, error: r.error,
  requestedAt: r.requested_at, startedAt: r.started_at, finishedAt: r.finished_at,
});

const WHERE = 'source = ? AND project = ? AND number = ?';
const keyArgs = (k: PreviewKey) => [k.source, k.project, k.number];

/** A preview was asked for (a newer head replaces the one waiting). */
export async function requestPreview(q: Queryable, k: PreviewKey & { headSha: string; url: string | null }, now: string): Promise<void> {
  await q.run(`INSERT INTO previews (source, project, number, url, head_sha, status, requested_at) VALUES (?, ?, ?, ?, ?, 'queued', ?)
    ON CONFLICT (source, project, number) DO UPDATE SET url = COALESCE(excluded.url, previews.url), head_sha = excluded.head_sha, status = 'queued', requested_at = excluded.requested_at`,
  [k.source, k.project, k.number, k.url, k.headSha, now]);
}

export async function setPreviewStatus(q: Queryable, k: PreviewKey, status: PreviewStatus, now: string): Promise<void> {
  const col = status === 'running' ? ', started_at = ?' : '';
  await q.run(`UPDATE previews SET status = ?${col} WHERE ${WHERE}`, [status, ...(col ? [now] : []), ...keyArgs(k)]);
}

export async function finishPreview(q: Queryable, k: PreviewKey, f: { status: 'done' | 'failed'; result: unknown; error: string | null; commentId: string | null }, now: string): Promise<void> {
  await q.run(`UPDATE previews SET status = ?, result = ?, error = ?, comment_id = COALESCE(?, comment_id), finished_at = ? WHERE ${WHERE}`,
    [f.status, f.result === undefined ? null : JSON.stringify(f.result), f.error, f.commentId, now, ...keyArgs(k)]);
}

export async function setCommentId(q: Queryable, k: PreviewKey, id: string): Promise<void> {
  await q.run(`UPDATE previews SET comment_id = ? WHERE ${WHERE}`, [id, ...keyArgs(k)]);
}

export async function getPreview(q: Queryable, k: PreviewKey): Promise<PreviewRow | undefined> {
  const r = await q.get<Row>(`SELECT * FROM previews WHERE ${WHERE}`, keyArgs(k));
  return r && view(r);
}

/** Previews not finished (re-queued at start). */
export async function openPreviews(q: Queryable): Promise<PreviewRow[]> {
  return (await q.all<Row>("SELECT * FROM previews WHERE status IN ('queued','waiting','running') ORDER BY requested_at")).map(view);
}

export async function listPreviews(q: Queryable, limit: number): Promise<PreviewRow[]> {
  return (await q.all<Row>('SELECT * FROM previews ORDER BY requested_at DESC LIMIT ?', [limit])).map(view);
}

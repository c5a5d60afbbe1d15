// Fire-once records of scheduled runs (migration 110): the first process to record a (job, nominal time) runs it.
import type { Queryable } from './connection.js';

/**
 * Record that `node` fires `job` for its nominal time `fireAt` (ISO); true when this call recorded it, false when
 * another process (or an earlier call) did: the caller then skips the run.
 */
export async function claimFire(q: Queryable, job: string, fireAt: string, node: string, now: string): Promise<boolean> {
  const r = await q.run('INSERT INTO schedule_fires (job, fire_at, node, at) VALUES (?, ?, ?, ?) ON CONFLICT (job, fire_at) DO NOTHING', [job, fireAt, node, now]);
  return r.changes === 1;
}

/** Delete fire records written before `before` (ISO); returns how many. */
export async function pruneFires(q: Queryable, before: string): Promise<number> {
  return (await q.run('DELETE FROM schedule_fires WHERE at < ?', [before])).changes;
}

// What a host push still owes (its hooks), recorded before the transfer so that it survives a crash.
import type { Queryable } from './connection.js';

/** The deployment whose push to this host may have changed files without running the hooks, by IP. */
export async function pendingHooks(q: Queryable, unit: string): Promise<Map<string, number>> {
  const rows = await q.all<{ ip: string; deployment_id: number }>('SELECT ip, deployment_id FROM host_pending WHERE unit = ?', [unit]);
  return new Map(rows.map((r) => [r.ip, r.deployment_id]));
}

/** Before a transfer: keeps the oldest deployment that owes hooks (its backup holds the files to restore). */
export async function markPending(q: Queryable, unit: string, ip: string, deploymentId: number, now: string): Promise<void> {
  await q.run('INSERT INTO host_pending (unit, ip, deployment_id, since) VALUES (?, ?, ?, ?) ON CONFLICT (unit, ip) DO NOTHING', [unit, ip, deploymentId, now]);
}

export async function clearPending(q: Queryable, unit: string, ip: string): Promise<void> {
  await q.run('DELETE FROM host_pending WHERE unit = ? AND ip = ?', [unit, ip]);
}

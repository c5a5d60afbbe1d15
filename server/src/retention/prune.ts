// History retention: finished deployments (with their unit and host rows), finished runs of host sync, upstream
// sync and agent collection, and webhook delivery keys older than their limit. Never what is still running, and
// never a deployment that a unit or a host still names as the one that gave it its current commit.
import type { Db } from '../db/connection.js';

export interface RetentionDays { deployments: number; runs: number; webhookDeliveries: number }
export interface PruneCounts { deployments: number; hostSyncRuns: number; upstreamSyncRuns: number; agentRuns: number; webhookDeliveries: number }

const DAY_MS = 86_400_000;
/** ISO cutoff for "older than `days` days" (timestamps are stored as ISO strings, so they compare as text). */
const cutoff = (now: Date, days: number) => new Date(now.getTime() - days * DAY_MS).toISOString();

/** Delete what is past its limit (0 days = keep forever), in one transaction; returns how many rows of each. */
export async function pruneHistory(db: Db, now: Date, days: RetentionDays): Promise<PruneCounts> {
  return db.tx(async (q) => {
    const del = async (limit: number, sql: string): Promise<number> => (limit > 0 ? (await q.run(sql, [cutoff(now, limit)])).changes : 0);
    return {
      // deployment_units and host_pushes go with them (ON DELETE CASCADE).
      deployments: await del(days.deployments, `DELETE FROM deployments
        WHERE status NOT IN ('queued', 'running') AND COALESCE(finished_at, created_at) < ?
          AND id NOT IN (SELECT deployment_id FROM unit_state WHERE deployment_id IS NOT NULL)
          AND id NOT IN (SELECT deployment_id FROM unit_hosts WHERE deployment_id IS NOT NULL)`),
      hostSyncRuns: await del(days.runs, "DELETE FROM host_sync_runs WHERE status <> 'running' AND started_at < ?"),
      upstreamSyncRuns: await del(days.runs, "DELETE FROM upstream_sync_runs WHERE status <> 'running' AND started_at < ?"),
      agentRuns: await del(days.runs, "DELETE FROM agent_runs WHERE status NOT IN ('queued', 'running') AND COALESCE(finished_at, created_at) < ?"),
      webhookDeliveries: await del(days.webhookDeliveries, 'DELETE FROM webhook_deliveries WHERE received_at < ?'),
    };
  });
}

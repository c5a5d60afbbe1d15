// Units that keep failing: a streak per unit, started by a failed or partial run, ended by a full success.
import type { Queryable } from './connection.js';

export interface UnitFailing { unit: string; since: string; failures: number; lastDeploymentId: number; lastReason: string | null }

type Row = { unit: string; since: string; failures: number; last_deployment_id: number; last_reason: string | null };
const view = (r: Row): UnitFailing => ({ unit: r.unit, since: r.since, failures: r.failures, lastDeploymentId: r.last_deployment_id, lastReason: r.last_reason });

/** One more failed run of the unit; returns the streak (1 = it just started failing). */
export async function recordUnitFailure(q: Queryable, unit: string, deploymentId: number, reason: string | null, now: string): Promise<number> {
  await q.run(`INSERT INTO unit_failures (unit, since, failures, last_deployment_id, last_reason) VALUES (?, ?, 1, ?, ?)
    ON CONFLICT (unit) DO UPDATE SET failures = failures + 1, last_deployment_id = excluded.last_deployment_id, last_reason = excluded.last_reason`,
  [unit, now, deploymentId, reason]);
  return (await q.get<{ failures: number }>('SELECT failures FROM unit_failures WHERE unit = ?', [unit]))!.failures;
}

export async function clearUnitFailure(q: Queryable, unit: string): Promise<boolean> {
  return (await q.run('DELETE FROM unit_failures WHERE unit = ?', [unit])).changes > 0;
}

export async function failingUnits(q: Queryable): Promise<Map<string, UnitFailing>> {
  return new Map((await q.all<Row>('SELECT * FROM unit_failures')).map((r) => [r.unit, view(r)]));
}

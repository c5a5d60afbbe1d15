// What the records know of units: which units were ever deployed (fully, or to some hosts only, e.g. by new-host
// converge), and when their hosts last received them. Every parameter bound.
import type { Queryable } from './connection.js';

export interface DeployedUnit {
  unit: string;
  /** The commit every host of the unit last received (null: only some hosts ever got it, e.g. by converge). */
  lastCommit: string | null;
  lastDeployedAt: string;
  /** Hosts with a recorded commit of the unit. */
  hosts: number;
}

/** Every unit with a deployment recorded: a full one (unit_state) or pushes to some of its hosts (unit_hosts). */
export async function deployedUnits(q: Queryable): Promise<DeployedUnit[]> {
  const rows = await q.all<{ unit: string; last_commit: string | null; state_at: string | null; hosts_at: string | null; hosts: number }>(
    `SELECT u.unit, s.last_commit, s.last_deployed_at AS state_at,
            (SELECT max(deployed_at) FROM unit_hosts h WHERE h.unit = u.unit) AS hosts_at,
            (SELECT count(*) FROM unit_hosts h WHERE h.unit = u.unit) AS hosts
       FROM (SELECT unit FROM unit_state UNION SELECT unit FROM unit_hosts) u
       LEFT JOIN unit_state s ON s.unit = u.unit
      ORDER BY u.unit`);
  return rows.map((r) => ({ unit: r.unit, lastCommit: r.last_commit, lastDeployedAt: [r.state_at, r.hosts_at].filter((x): x is string => !!x).sort().at(-1)!, hosts: r.hosts }));
}

/** Does any record name this unit (deployed, pushed to a host, or drift-checked)? */
export async function unitRecorded(q: Queryable, unit: string): Promise<boolean> {
  return !!(await q.get(
    `SELECT 1 AS x FROM unit_state WHERE unit = ? UNION ALL SELECT 1 FROM unit_hosts WHERE unit = ? UNION ALL SELECT 1 FROM drift_status WHERE unit = ? LIMIT 1`,
    [unit, unit, unit]));
}

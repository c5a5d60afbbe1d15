// Whether this process runs a scheduled fire: only the leader does, and (on PostgreSQL) only the first process to
// record the fire's nominal time in schedule_fires (two nodes may briefly both believe they lead).
import type { Cron } from 'croner';
import type { Logger } from 'pino';
import type { Db } from '../db/connection.js';
import { claimFire } from '../db/schedule-fires.js';
import type { Leader } from './leader.js';
import type { ClusterNode } from './node.js';

export interface GateDeps { leader: Leader; db: Db; node: ClusterNode; clock: () => Date; log: Logger }

/** Decides one fire of a scheduled job; fireAt is its nominal time (null for interval schedules: leadership only). */
export type FireGate = (fireAt: Date | null) => Promise<boolean>;

/**
 * The nominal time of the cron run in progress. croner's currentRun() is the wall clock when the callback started
 * (a few ms after the scheduled instant); the latest scheduled instant at or before it is the same on every node.
 */
export function nominalRun(job: Cron): Date | null {
  const started = job.currentRun();
  if (!started) return null;
  return job.previousRuns(1, new Date(started.getTime() + 1))[0] ?? started;
}

/** The gate of one scheduled job, named `job` in schedule_fires (e.g. `hostsync:<source>`). */
export function fireGate(deps: GateDeps, job: string): FireGate {
  return async (fireAt) => {
    if (!deps.leader.isLeader) return false;
    // SQLite: one process, nothing to race with (and no row per fire of a seconds cron to write).
    if (!fireAt || deps.db.dialect === 'sqlite') return true;
    try {
      const mine = await claimFire(deps.db, job, fireAt.toISOString(), deps.node.id, deps.clock().toISOString());
      if (!mine) deps.log.info({ job, fireAt: fireAt.toISOString() }, 'scheduled fire skipped: another node recorded it');
      return mine;
    } catch (err) {
      // Unrecorded means possibly run twice; better skip this fire than risk it (the next fire runs as usual).
      deps.log.warn({ err, job }, 'scheduled fire not recorded: skipped');
      return false;
    }
  };
}

/** The gate of duties without a nominal time (poller, drift, retention): run while this process leads. */
export const leads = (leader: Leader | undefined): boolean => leader?.isLeader ?? true;

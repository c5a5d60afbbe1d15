// The coordinator's side of a unit run in a cluster: the unit's host rows carry their data centre and are queued
// batch by batch; workers of each data centre claim them (host-executor.ts); the coordinator waits until the
// batch's rows are final and reads their results from the store. It never pushes a host itself.
import type { Db } from '../db/connection.js';
import { ensureHostPushes, hostPushStates, outstandingHostPushes, queueHostPushes, requeueHostPush, skipHostPush } from '../db/work-queue.js';
import { sleep } from '../util/sleep.js';
import { hostInfoByIp } from '../db/host-facts.js';
import type { Dispatch } from '../deploy/unit-run.js';
import { TRANSIENT, type HostDone } from '../deploy/host-work.js';
import type { HostPushStatus } from '../deploy/types.js';

/** A coordinator reads its batch's progress at most this often (a 5,000-host batch wakes it on every host). */
const MIN_READ_MS = 100;

/** Thrown out of a unit run whose deployment this process no longer holds (handed over or lease lost): write nothing more. */
export class HandedOver extends Error {
  constructor(readonly deploymentId: number) {
    super(`deployment ${deploymentId} is no longer held by this process`);
  }
}

export interface ClusterDispatchOptions {
  db: Db;
  /** The inventory label naming a host's data centre (cluster.dcField). */
  dcField: string;
  pollMs: number;
  /** Aborted when this process stops coordinating the deployment (lost lease, shutdown hand-over). */
  handover: AbortSignal;
  /** Wake workers (a hint; they poll anyway) and wait for a change of host rows (resolves early on a hint). */
  announce(dcs: Array<string | null>): void;
  changed(signal: AbortSignal, ms: number): Promise<void>;
}

/** Data centres of hosts as the inventory labels them (hosts it does not hold: null, any worker). */
export async function dataCentres(db: Db, ips: string[], field: string): Promise<Map<string, string | null>> {
  const infos = await hostInfoByIp(db, ips);
  return new Map(ips.map((ip) => {
    const v = infos.get(ip)?.labels?.[field];
    return [ip, typeof v === 'string' && v ? v : null];
  }));
}

export function clusterDispatch(o: ClusterDispatchOptions): Dispatch {
  return async ({ deps, prep, work, targets }) => {
    const dcs = await dataCentres(o.db, targets.map((t) => t.ip), o.dcField);
    const rows = await ensureHostPushes(o.db, work.deploymentId, prep.key, targets.map((t) => ({ ...t, dc: dcs.get(t.ip) ?? null })));
    const ran = new Set<number>();
    const run = async (batch: typeof targets): Promise<HostDone[]> => {
      const ids = batch.map((t) => rows.get(t.ip)!);
      for (const id of ids) if (ran.has(id)) await requeueHostPush(o.db, id); // a deferred host's second try
      for (const id of ids) ran.add(id);
      await queueHostPushes(o.db, ids);
      o.announce([...new Set(batch.map((t) => dcs.get(t.ip) ?? null))]);
      // Count what is still open (one small query on the open-rows index), at most every MIN_READ_MS however
      // often hints arrive; read the batch's results once, when nothing is open.
      for (;;) {
        if (o.handover.aborted) throw new HandedOver(work.deploymentId);
        const t0 = Date.now();
        if ((await outstandingHostPushes(o.db, work.deploymentId, prep.key)) === 0) break;
        await o.changed(o.handover, o.pollMs);
        const gap = MIN_READ_MS - (Date.now() - t0);
        if (gap > 0) await sleep(gap, o.handover);
      }
      const states = await hostPushStates(o.db, ids);
      return states.map((s) => ({
        ip: s.ip, status: s.status as HostPushStatus, recorded: true,
        transient: s.status === 'failed' && TRANSIENT.has(s.failureKind ?? ''),
        seconds: s.durationMs === null ? -1 : s.durationMs / 1000,
      }));
    };
    return {
      run,
      skip: (t, reason) => skipHostPush(o.db, rows.get(t.ip)!, reason, deps.clock().toISOString()),
    };
  };
}

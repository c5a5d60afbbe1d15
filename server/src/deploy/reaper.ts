// The reaper: a deployment whose end could not be recorded (a full data disk fails the last writes) would stay
// `running`, with its host rows, until the next restart. Once the deployer is done with it, its open rows are closed
// here (interrupted / aborted), as soon as a write succeeds: at once, then every few seconds until space returns.
// An interrupted deployment is queued again, as at start (Deployer.recover).
import type { Logger } from 'pino';
import type { Db } from '../db/connection.js';
import * as rec from '../db/deployments.js';
import { isStorageFull } from '../util/storage-full.js';
import type { Deployer } from './deployer.js';
import type { DeploymentView } from './types.js';

export interface ReaperDeps { db: Db; deployer: Deployer; log: Logger; clock: () => Date; intervalMs?: number }

const REASON = 'the server could not record the end of this deployment (data disk full or not writable)';

export function startReaper(deps: ReaperDeps): { stop(): void; pending(): number[] } {
  const orphans = new Set<number>();
  let sweeping: Promise<void> | null = null;
  let stopped = false;

  const reap = async (id: number): Promise<void> => {
    try {
      const now = deps.clock().toISOString();
      const wasOpen = await deps.db.tx((q) => rec.closeOrphan(q, id, REASON, now));
      orphans.delete(id);
      deps.log.warn({ deploymentId: id }, 'closed the open records of a finished deployment');
      if (wasOpen && !stopped && !deps.deployer.stopping) await resubmit(id);
    } catch (err) {
      // Still full: try again at the next sweep.
      if (!isStorageFull(err)) deps.log.warn({ err, deploymentId: id }, 'closing the records of a finished deployment failed');
    }
  };

  const resubmit = async (id: number): Promise<void> => {
    const d = await rec.getDeployment(deps.db, id);
    if (!d) return;
    try {
      const { id: resumed } = await deps.deployer.submit({ ...d.request, resumeOf: id, actor: d.request.actor ?? `recovery of #${id}` });
      await rec.setResumedBy(deps.db, id, resumed);
      deps.log.warn({ deploymentId: id, resumedAs: resumed }, 'interrupted deployment queued again');
    } catch (err) {
      // Not lost: the next start queues an interrupted deployment that nothing resumed.
      deps.log.warn({ err, deploymentId: id }, 'could not queue an interrupted deployment again');
    }
  };

  const sweep = () => {
    sweeping ??= (async () => {
      for (const id of [...orphans]) await reap(id);
    })().finally(() => { sweeping = null; });
    return sweeping;
  };

  const onFinished = (d: DeploymentView) => {
    void (async () => {
      try {
        if (!(await rec.hasOpenRecords(deps.db, d.id))) return;
      } catch { /* cannot even read: treat as open */ }
      orphans.add(d.id);
      deps.log.error({ deploymentId: d.id, status: d.status }, 'deployment finished but its records are still open; closing them once the data dir is writable');
      await sweep();
    })();
  };
  deps.deployer.events.on('finished', onFinished);
  const timer = setInterval(() => { if (orphans.size) void sweep(); }, deps.intervalMs ?? 5000);
  timer.unref();

  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
      deps.deployer.events.off('finished', onFinished);
    },
    pending: () => [...orphans],
  };
}

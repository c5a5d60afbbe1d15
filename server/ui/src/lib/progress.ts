// PURE: how far a deployment is, from its host rows (hosts done / total, failures so far).
import type { HostPushView } from './types.js';

export interface Progress { total: number; done: number; failed: number; running: number; succeeded: number; skipped: number }

const FINISHED = new Set(['succeeded', 'failed', 'skipped', 'aborted']);

export function progressOf(hosts: readonly HostPushView[]): Progress {
  const p: Progress = { total: hosts.length, done: 0, failed: 0, running: 0, succeeded: 0, skipped: 0 };
  for (const h of hosts) {
    if (FINISHED.has(h.status)) p.done++;
    if (h.status === 'failed') p.failed++;
    if (h.status === 'running') p.running++;
    if (h.status === 'succeeded') p.succeeded++;
    if (h.status === 'skipped' || h.status === 'aborted') p.skipped++;
  }
  return p;
}

/** Per unit, its host rows in address order (the deployment page's tables). */
export function hostsByUnit(hosts: readonly HostPushView[]): Map<string, HostPushView[]> {
  const out = new Map<string, HostPushView[]>();
  for (const h of hosts) out.set(h.unit, [...(out.get(h.unit) ?? []), h]);
  return out;
}

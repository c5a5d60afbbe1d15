// PURE: split a unit's hosts into canary and batches, and judge when failures stop the rollout.
import { resolveShare, type UnitMetadata } from './metadata.js';

export type Rollout = NonNullable<UnitMetadata['rollout']>;

/** Batches of hosts in order: [canary, batch, batch, ...]; one batch of everything without a rollout. */
export function planBatches<T>(hosts: T[], r: Rollout | undefined): T[][] {
  if (!r || hosts.length === 0) return hosts.length ? [hosts] : [];
  const canary = Math.min(resolveShare(r.canary, hosts.length) ?? 0, hosts.length);
  const size = Math.max(1, resolveShare(r.batchSize, hosts.length) ?? hosts.length);
  const out: T[][] = [];
  if (canary > 0) out.push(hosts.slice(0, canary));
  for (let i = canary; i < hosts.length; i += size) out.push(hosts.slice(i, i + size));
  return out;
}

/** Failures allowed before the rest of the rollout is stopped. */
export function failureLimit(r: Rollout | undefined, total: number): number {
  if (!r) return Number.POSITIVE_INFINITY;
  return resolveShare(r.maxFailures, total) ?? 0;
}

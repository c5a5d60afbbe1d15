// What the deployer asks of sync windows (implemented in windows/service.ts; a type here so deploy/ imports nothing of it).
import type { Unit } from '../gitops/targets.js';
import type { DeployRequest, Trigger } from './types.js';

export interface WindowGate {
  /**
   * The units of an automatic deployment a sync window holds now: recorded as held work (and as held units of the
   * deployment) in one transaction, to run when the unit may sync again. Returns unit key → reason.
   */
  hold(deploymentId: number, req: DeployRequest, units: Unit[], commit: string): Promise<Map<string, string>>;
}

/** Deployments nobody asked for by hand: held by windows. Manual ones are refused at the API (423) instead. */
export const AUTOMATIC_TRIGGERS: ReadonlySet<Trigger> = new Set(['gitlab', 'github', 'poller', 'converge', 'self-heal']);

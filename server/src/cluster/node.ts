// Who this process is in a cluster: a unique id (host:pid:boot), its role and data centre.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ClusterRole } from './config-schema.js';

export interface ClusterNode {
  /** Lease owner: unique per process start, so a restarted worker never mistakes a dead one's leases for its own. */
  readonly id: string;
  readonly role: ClusterRole;
  readonly dc: string | null;
  /** Claims deployments and host pushes (role worker or all). */
  readonly works: boolean;
  /** Serves HTTP and may lead (role api or all). */
  readonly serves: boolean;
  /** Shares work with other processes through the store (cluster.enabled, or a role other than all). */
  readonly clustered: boolean;
}

export function clusterNode(cfg: { role: ClusterRole; dc?: string; enabled?: boolean }): ClusterNode {
  return {
    id: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    role: cfg.role,
    dc: cfg.dc ?? null,
    works: cfg.role !== 'api',
    serves: cfg.role !== 'worker',
    clustered: !!cfg.enabled || cfg.role !== 'all',
  };
}

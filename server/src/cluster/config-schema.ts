// cluster: how this process takes part when several share one PostgreSQL database (README "Scale-out").
import { z } from 'zod';

export const CLUSTER_ROLES = ['all', 'api', 'worker'] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

export const clusterConfigSchema = z.strictObject({
  /** Several processes share the PostgreSQL store (implied by role api/worker); off: one process, in-memory queue. */
  enabled: z.boolean().default(false),
  /** api: HTTP, webhooks, leader duties; worker: claims deployments and host pushes; all: both (the single-box default). */
  role: z.enum(CLUSTER_ROLES).default('all'),
  /** This worker's data centre: it claims host pushes of hosts in it (and of hosts with none). Absent: any. */
  dc: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (at most 64)').optional(),
  /** The host inventory field that names a host's data centre: a label (CMDB custom field) such as idc. */
  dcField: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('idc'),
  /** How long a claimed deployment or host push stays owned without a heartbeat (database clock). */
  leaseSeconds: z.number().int().min(3).max(600).default(15),
  /** Host pushes one worker runs at once (deploy.concurrency is the cap per data centre). Absent: deploy.concurrency. */
  workerConcurrency: z.number().int().min(1).max(1000).optional(),
  /** Deployments one worker coordinates at once. */
  workerDeployments: z.number().int().min(1).max(100).default(4),
  /** How often an idle worker looks for work when no notification woke it (milliseconds). */
  pollMs: z.number().int().min(50).max(60_000).default(1000),
}).prefault({});

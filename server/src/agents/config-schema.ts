// Config of host agents (`agents` section): the agent token, report limits, new-host defaults, SSH collection.
import { Cron } from 'croner';
import { z } from 'zod';
import { SEGMENT_RE } from '../util/validate.js';

const segment = z.string().regex(SEGMENT_RE, 'must be a name like "prod" (letters, digits, . _ -)');

/** A 6-field cron expression (seconds first) that croner accepts and that fires at least once. */
const cronExpr = z.string().trim().min(1).refine((expr) => {
  try {
    const job = new Cron(expr, { mode: '6-part', paused: true });
    const next = job.nextRun();
    job.stop();
    return next !== null;
  } catch {
    return false;
  }
}, 'must be a cron expression with seconds that fires, e.g. "0 0 */6 * * *" (sec min hour day month weekday)');

export const agentsConfigSchema = z.strictObject({
  /** Shared secret of agent reports (Authorization: Bearer <token>); unset = agent mode off. Env: GITFLEET_AGENT_TOKEN. */
  token: z.string().min(16, 'the agent token must be at least 16 characters').optional(),
  /** Largest report accepted, in bytes (a typical one is 3-20 KiB). */
  maxReportBytes: z.number().int().min(4096).max(16 * 1024 * 1024).default(256 * 1024),
  /** Add hosts the inventory does not know yet (else their reports are refused with 404). */
  autoRegister: z.boolean().default(true),
  /** Env of a new host whose report names none (installer --env). */
  defaultEnv: segment.default('unassigned'),
  /** A report whose IP belongs to a host pinned to another identity: refuse it (409), or re-pin that host. */
  identityConflict: z.enum(['reject', 'replace']).default('reject'),
  /** Collection over SSH (POST /api/v1/agents/collect and the schedule). */
  collect: z.strictObject({
    concurrency: z.number().int().min(1).max(1000).default(10),
    /** Seconds per host, connection included. */
    hostTimeout: z.number().int().min(1).max(3600).default(60),
    /** When to collect from every inventory host (or the env/app below); unset = never on a schedule. */
    schedule: cronExpr.optional(),
    timezone: z.string().min(1).optional(),
    env: segment.optional(),
    app: segment.optional(),
    /** Most hosts one run may cover. */
    maxHosts: z.number().int().min(1).max(100_000).default(10_000),
  }).prefault({}),
});

export type AgentsConfig = z.infer<typeof agentsConfigSchema>;

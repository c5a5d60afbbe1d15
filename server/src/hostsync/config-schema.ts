// Config of the incremental host sync (`hostSync` section): named sources (type + schedule + mapping), safety limits,
// new-host converge, and the upstream CMDB sync.
import { Cron } from 'croner';
import { z } from 'zod';
import { SEGMENT_RE } from '../util/validate.js';
import { mapConfigSchema } from './mapping.js';
import { sourceTypes } from './registry.js';

/** Source names that hosts.source already uses for other writers. */
export const RESERVED_SOURCE_NAMES = new Set(['manual', 'api', 'agent', 'agents']);

const cronField = z.string().min(1).superRefine((pattern, ctx) => {
  try {
    new Cron(pattern, { paused: true }).stop();
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a valid cron pattern: ${(err as Error).message}` });
  }
});

/** When a job runs: every `interval` seconds, or on a `cron` pattern (seconds field optional); neither = only on demand. */
const scheduleFields = {
  interval: z.number().int().min(1).max(7 * 86_400).optional(),
  cron: cronField.optional(),
  /** Cron time zone (IANA name); default the server's. */
  timezone: z.string().min(1).optional(),
};

const commonSourceFields = {
  ...scheduleFields,
  enabled: z.boolean().default(true),
  /** Also run once when the server starts. */
  runAtStart: z.boolean().default(true),
  /** Seconds a whole listing may take. */
  timeout: z.number().int().min(1).max(3600).default(120),
  /** Refuse a run that would delete more than this share of the source's hosts (default hostSync.maxDeleteShare). */
  maxDeleteShare: z.number().min(0).max(1).optional(),
  map: mapConfigSchema.optional(),
};

const sourceSchemas = [...sourceTypes.values()].map((t) => z.strictObject({ type: z.literal(t.id), ...commonSourceFields, ...t.options }));
const sourceSchema = z.discriminatedUnion('type', sourceSchemas as unknown as [typeof sourceSchemas[number], ...typeof sourceSchemas]);

export type SourceConfig = z.infer<typeof sourceSchema> & { type: string; enabled: boolean; runAtStart: boolean; timeout: number; interval?: number; cron?: string; timezone?: string; maxDeleteShare?: number; map?: z.infer<typeof mapConfigSchema> };

const httpUrl = z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL');

export const upstreamSchema = z.strictObject({
  ...scheduleFields,
  /** Head-office CMDB endpoint that starts a sync there: POSTed `body` as JSON. */
  url: httpUrl.optional(),
  body: z.record(z.string(), z.unknown()).default({ model: 'host' }),
  /** Head-office endpoint that receives this inventory: POST {site, generatedAt, hosts: [...]}. */
  pushUrl: httpUrl.optional(),
  /** Name of this site in pushed inventories (default: the server's host name). */
  site: z.string().min(1).optional(),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string()).default({}),
  authHeader: z.string().regex(/^[A-Za-z0-9-]+$/).default('Authorization'),
  /** GITFLEET_UPSTREAM_AUTH */
  authValue: z.string().min(1).optional(),
  timeout: z.number().int().min(1).max(3600).default(60),
});

export const hostSyncConfigSchema = z.strictObject({
  sources: z.record(z.string().regex(SEGMENT_RE, 'source names must match [A-Za-z0-9_][A-Za-z0-9._-]*'), sourceSchema).default({}),
  /** Default for sources: refuse a run that would delete more than this share of the source's hosts. */
  maxDeleteShare: z.number().min(0).max(1).default(0.5),
  /** Per-record errors kept in a run record (the count is always exact). */
  maxRecordedErrors: z.number().int().min(0).max(10_000).default(100),
  /** Runs kept per source. */
  keepRuns: z.number().int().min(1).max(100_000).default(500),
  /** Credentials shared by aliyun sources. */
  aliyun: z.strictObject({
    accessKeyId: z.string().min(1).optional(),
    accessKeySecret: z.string().min(1).optional(),
    securityToken: z.string().min(1).optional(),
  }).prefault({}),
  /** New-host converge: a host added to the inventory, or moved to another env/apps, gets its units' files. */
  converge: z.strictObject({
    enabled: z.boolean().default(true),
    /** Hosts that appear within this many ms share one deployment per unit set. */
    debounceMs: z.number().int().min(0).max(60_000).default(500),
  }).prefault({}),
  upstream: upstreamSchema.optional(),
}).superRefine((cfg, ctx) => {
  for (const name of Object.keys(cfg.sources)) {
    if (RESERVED_SOURCE_NAMES.has(name)) ctx.addIssue({ code: 'custom', path: ['sources', name], message: `"${name}" is reserved (used by other inventory writers)` });
  }
  const schedules: Array<[Array<string | number>, { interval?: number; cron?: string }]> = Object.entries(cfg.sources).map(([n, s]) => [['sources', n], s]);
  if (cfg.upstream) schedules.push([['upstream'], cfg.upstream]);
  for (const [path, s] of schedules) {
    if (s.interval !== undefined && s.cron !== undefined) ctx.addIssue({ code: 'custom', path: [...path, 'cron'], message: 'give either interval or cron, not both' });
  }
  // (An upstream section holding only the secret from GITFLEET_UPSTREAM_AUTH is "not configured", not an error.)
  const up = cfg.upstream;
  if (up && !up.url && !up.pushUrl && (up.interval !== undefined || up.cron !== undefined)) ctx.addIssue({ code: 'custom', path: ['upstream', 'url'], message: 'give url (trigger a sync there) and/or pushUrl (push the inventory there)' });
});

// Config of the Elasticsearch metrics sync (`esSync` section): where ES is, how to log in, which fields hold the metrics.
import { z } from 'zod';
import { INDEX_PATTERN_RE } from './task-input.js';
import { timeRangeMs } from './time-range.js';

/** An http(s) base URL without credentials in it (they belong in `auth`, where they are redacted). */
export const esUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password && !u.search && !u.hash;
  } catch {
    return false;
  }
}, 'must be an http(s) URL without credentials, query or fragment');

const fieldName = z.string().regex(/^[A-Za-z0-9@_][A-Za-z0-9@_.-]{0,254}$/, 'must be an Elasticsearch field name');

const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as "Asia/Shanghai"');

/** Field names default to Metricbeat's system module (the Elastic Agent System integration uses the same names). */
const fieldsSchema = z.strictObject({
  hostIp: fieldName.default('host.ip'),
  hostName: fieldName.default('host.name'),
  timestamp: fieldName.default('@timestamp'),
  cpu: fieldName.default('system.cpu.total.norm.pct'),
  memory: fieldName.default('system.memory.actual.used.pct'),
  disk: fieldName.default('system.filesystem.used.pct'),
  dataset: fieldName.default('event.dataset'),
});

export const esSyncConfigSchema = z.strictObject({
  /** Default Elasticsearch URL of tasks that name none. */
  endpoint: esUrl.default('http://127.0.0.1:9200'),
  /** Further URLs a task may name; the configured credentials are sent only to `endpoint` and these. */
  allowedEndpoints: z.array(esUrl).default([]),
  auth: z.strictObject({
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    apiKey: z.string().min(1).optional(),
  }).superRefine((a, ctx) => {
    // Reported on `password` so the config error hides the value (it prints values of keys not named like secrets).
    if (a.apiKey && (a.username || a.password)) ctx.addIssue({ code: 'custom', path: ['password'], message: 'set either apiKey or username/password, not both' });
    else if (!a.username !== !a.password) ctx.addIssue({ code: 'custom', path: ['password'], message: 'username and password go together' });
  }).prefault({}),
  /** SHA-256 fingerprint of the cluster's CA certificate (https with a self-signed CA). */
  caFingerprint: z.string().regex(/^([0-9A-Fa-f]{2}:?){32}$/, 'must be a SHA-256 fingerprint (64 hex digits, colons allowed)').optional(),
  /** Defaults for new tasks. */
  indexPattern: z.string().regex(INDEX_PATTERN_RE, 'must be lower-case index names or patterns separated by commas').default('metricbeat-*'),
  timeRange: z.string().refine((s) => timeRangeMs(s) !== null, 'must be a number followed by m, h, d or w (e.g. 30d), at most 366d').default('30d'),
  fields: fieldsSchema.prefault({}),
  /** Restrict documents to these `event.dataset` values; [] = no dataset filter. */
  datasets: z.array(z.string().min(1)).default(['system.cpu', 'system.memory', 'system.filesystem']),
  /** IPs per aggregation request (one request covers this many hosts). Keep below the cluster's search.max_buckets. */
  batchSize: z.number().int().min(1).max(10_000).default(1000),
  /** Aggregation requests in flight at once within one run (the ES sync design: 10; measured in the README). */
  concurrency: z.number().int().min(1).max(16).default(10),
  /** Seconds one request may take (fractions allowed). */
  requestTimeout: z.number().min(0.05).max(600).default(30),
  /** Client retries on connection errors and 502/503/504. */
  maxRetries: z.number().int().min(0).max(10).default(10),
  /** Time zone of cron expressions; unset = the server's local time. */
  timezone: timezone.optional(),
  /** Largest uploaded IP file, bytes. */
  maxUploadBytes: z.number().int().min(1024).max(50 * 1024 * 1024).default(2 * 1024 * 1024),
  /** Most IPs one manual run may name. */
  maxManualIps: z.number().int().min(1).max(1_000_000).default(100_000),
  /** Execution logs kept per task (older ones and their host rows are deleted). */
  retainExecutions: z.number().int().min(1).max(100_000).default(200),
});

export type EsSyncConfig = z.infer<typeof esSyncConfigSchema>;

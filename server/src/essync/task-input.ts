// Validation of task bodies (create and partial update): one ValidationError naming the field. PURE.
import { Cron } from 'croner';
import { ValidationError } from '../errors.js';
import { timeRangeMs } from './time-range.js';
import type { TaskInput } from './types.js';

const ALLOWED = new Set(['name', 'description', 'esEndpoint', 'indexPattern', 'cron', 'timeRange', 'enabled', 'createdBy']);
// Control characters make names unreadable in logs and tables.
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
/** Lower-case index names and patterns, comma-separated, with * wildcards, `-` exclusions and `cluster:` prefixes. */
export const INDEX_PATTERN_RE = /^[a-z0-9*][a-z0-9_.*:+,-]{0,254}$/;

export interface TaskDefaults {
  endpoint: string;
  allowedEndpoints: readonly string[];
  indexPattern: string;
  timeRange: string;
  timezone?: string;
}

/** URL text as stored and compared: origin plus path, no trailing slash. */
export function normalizeEndpoint(url: string): string {
  const u = new URL(url);
  return u.origin + u.pathname.replace(/\/+$/, '');
}

/** Is this endpoint one the configuration allows (and so may receive the configured credentials)? */
export function isAllowedEndpoint(url: string, d: Pick<TaskDefaults, 'endpoint' | 'allowedEndpoints'>): boolean {
  const allowed = new Set([d.endpoint, ...d.allowedEndpoints].map(normalizeEndpoint));
  try {
    return allowed.has(normalizeEndpoint(url));
  } catch {
    return false;
  }
}

/** A 6-field cron expression (seconds first) that fires at least once; returns it trimmed. */
export function requireCron(value: unknown, timezone?: string, field = 'cron'): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 200) {
    throw new ValidationError(`${field} must be a cron expression with seconds, e.g. "0 */5 * * * *"; got ${JSON.stringify(value)}`, field);
  }
  const expr = value.trim().replace(/\s+/g, ' ');
  let next: Date | null;
  try {
    const job = new Cron(expr, { mode: '6-part', paused: true, timezone });
    next = job.nextRun();
    job.stop();
  } catch (err) {
    throw new ValidationError(`${field} is not a valid cron expression with seconds (6 fields: sec min hour day month weekday): ${(err as Error).message}`, field);
  }
  if (!next) throw new ValidationError(`${field} ${JSON.stringify(expr)} never fires`, field);
  return expr;
}

function text(b: Record<string, unknown>, key: string, max: number, required: boolean): string | undefined {
  const v = b[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || (required && v.trim() === '') || v.length > max || CONTROL_RE.test(v)) {
    throw new ValidationError(`${key} must be ${required ? 'a non-empty' : 'a'} string of at most ${max} characters without control characters; got ${JSON.stringify(v)?.slice(0, 80)}`, key);
  }
  return v.trim();
}

/** Parse a create body (no `base`) or an update body merged onto `base`. */
export function parseTaskInput(body: unknown, d: TaskDefaults, base?: TaskInput): TaskInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!ALLOWED.has(key)) throw new ValidationError(`unknown field ${JSON.stringify(key)}; allowed: ${[...ALLOWED].join(', ')}`, key);
  }
  if (base && 'createdBy' in b) throw new ValidationError('createdBy is set when the task is created and cannot change', 'createdBy');
  const name = text(b, 'name', 128, !base) ?? base!.name;
  const description = text(b, 'description', 2000, false) ?? base?.description ?? '';
  const createdBy = base ? base.createdBy : b.createdBy === undefined || b.createdBy === null ? null : text(b, 'createdBy', 128, true)!;

  let esEndpoint = base?.esEndpoint ?? null;
  if ('esEndpoint' in b) {
    const v = b.esEndpoint;
    if (v === null || v === '') esEndpoint = null;
    else if (typeof v !== 'string' || !isAllowedEndpoint(v, d)) {
      throw new ValidationError(`esEndpoint must be null (= esSync.endpoint) or one of the configured esSync.endpoint / esSync.allowedEndpoints; got ${JSON.stringify(v)?.slice(0, 200)}`, 'esEndpoint');
    } else esEndpoint = normalizeEndpoint(v);
  }

  let indexPattern = base?.indexPattern ?? d.indexPattern;
  if ('indexPattern' in b) {
    const v = b.indexPattern;
    if (typeof v !== 'string' || !INDEX_PATTERN_RE.test(v)) {
      throw new ValidationError(`indexPattern must be lower-case index names or patterns separated by commas (e.g. "metricbeat-*"); got ${JSON.stringify(v)?.slice(0, 200)}`, 'indexPattern');
    }
    indexPattern = v;
  }

  let cron = base?.cron;
  if ('cron' in b || !base) cron = requireCron(b.cron, d.timezone);

  let timeRange = base?.timeRange ?? d.timeRange;
  if ('timeRange' in b) {
    const v = b.timeRange;
    if (typeof v !== 'string' || timeRangeMs(v) === null) {
      throw new ValidationError(`timeRange must be a number followed by m, h, d or w (e.g. "30d", "24h"), at most 366d; got ${JSON.stringify(v)?.slice(0, 80)}`, 'timeRange');
    }
    timeRange = v;
  }

  let enabled = base?.enabled ?? true;
  if ('enabled' in b) {
    if (typeof b.enabled !== 'boolean') throw new ValidationError(`enabled must be true or false; got ${JSON.stringify(b.enabled)}`, 'enabled');
    enabled = b.enabled;
  }
  return { name, description, esEndpoint, indexPattern, cron: cron!, timeRange, enabled, createdBy };
}

// Validation of host records at the edge (API bodies, agent reports, source listings): a clear error per field.
import { isIP } from 'node:net';
import { ValidationError } from '../errors.js';
import type { HostInput } from '../db/hosts.js';
import { HOSTNAME_RE, POSIX_NAME_RE, SEGMENT_RE, isSegment } from '../util/validate.js';

const LABEL_VALUE_MAX = 256;
const ALLOWED = new Set(['ip', 'hostname', 'env', 'apps', 'port', 'user', 'labels']);

/** Parse an API body into a HostInput; `partial` merges onto `base` (PUT with some fields). */
export function parseHostInput(body: unknown, base?: HostInput): HostInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!ALLOWED.has(key)) throw new ValidationError(`unknown field ${JSON.stringify(key)}; allowed: ${[...ALLOWED].join(', ')}`, key);
  }
  const pick = <K extends keyof HostInput>(k: K): unknown => (k in b ? b[k] : base?.[k]);
  const ip = pick('ip');
  if (typeof ip !== 'string' || isIP(ip) === 0) throw new ValidationError(`ip must be an IPv4 or IPv6 address; got ${JSON.stringify(ip)}`, 'ip');
  const env = pick('env');
  if (!isSegment(env)) throw new ValidationError(`env must match ${SEGMENT_RE.source}; got ${JSON.stringify(env)}`, 'env');
  const apps = pick('apps') ?? [];
  if (!Array.isArray(apps) || apps.length > 256 || !apps.every(isSegment)) {
    throw new ValidationError(`apps must be an array of names matching ${SEGMENT_RE.source}; got ${JSON.stringify(apps)}`, 'apps');
  }
  const hostname = pick('hostname') ?? null;
  if (hostname !== null && (typeof hostname !== 'string' || !HOSTNAME_RE.test(hostname))) {
    throw new ValidationError(`hostname must be a valid host name; got ${JSON.stringify(hostname)}`, 'hostname');
  }
  const port = pick('port') ?? null;
  if (port !== null && (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)) {
    throw new ValidationError(`port must be an integer 1-65535; got ${JSON.stringify(port)}`, 'port');
  }
  const user = pick('user') ?? null;
  if (user !== null && (typeof user !== 'string' || !POSIX_NAME_RE.test(user))) {
    throw new ValidationError(`user must be a POSIX user name; got ${JSON.stringify(user)}`, 'user');
  }
  const labels = pick('labels') ?? {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw new ValidationError('labels must be an object of strings', 'labels');
  for (const [k, v] of Object.entries(labels)) {
    if (!isSegment(k) || typeof v !== 'string' || v.length > LABEL_VALUE_MAX) {
      throw new ValidationError(`labels.${k} must be a string of at most ${LABEL_VALUE_MAX} characters under a key matching ${SEGMENT_RE.source}`, 'labels');
    }
  }
  return {
    ip, env, apps: [...new Set(apps as string[])].sort(), hostname: hostname as string | null,
    port: port as number | null, user: user as string | null, labels: labels as Record<string, string>,
  };
}

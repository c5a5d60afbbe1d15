// Strict patterns for everything path-like that comes from users, payloads or the inventory.
import { isIP } from 'node:net';
import { ValidationError } from '../errors.js';

/** One path segment: mod, env, app, label keys. No slashes, no "..", no leading "-" or ".". */
export const SEGMENT_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const SHA_RE = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
export const ZERO_SHA_RE = /^0+$/;
/** A POSIX user or group name as useradd accepts it. */
export const POSIX_NAME_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
export const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/;

export function isSegment(s: unknown): s is string {
  return typeof s === 'string' && SEGMENT_RE.test(s) && !s.includes('..');
}

export function requireSegment(value: unknown, field: string): string {
  if (!isSegment(value)) {
    throw new ValidationError(`${field} must match ${SEGMENT_RE.source} (no slashes, no "..", no leading "-"); got ${JSON.stringify(value)}`, field);
  }
  return value;
}

export function requireIp(value: unknown, field = 'ip'): string {
  if (typeof value !== 'string' || isIP(value) === 0) {
    throw new ValidationError(`${field} must be an IPv4 or IPv6 address; got ${JSON.stringify(value)}`, field);
  }
  return value;
}

/** A repo-relative file path inside a unit: no absolute, no "..", no empty or dash-led segments. */
export function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > 4096 || p.startsWith('/') || p.includes('\0') || p.includes('\n')) return false;
  return p.split('/').every((s) => s.length > 0 && s !== '.' && s !== '..' && !s.startsWith('-'));
}

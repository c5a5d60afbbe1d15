// PURE: the CLI's positional arguments and option values checked before any request, as usage errors (exit 2).
import { isIP } from 'node:net';
import { isSegment, SEGMENT_RE } from '../util/validate.js';
import { CliError, EXIT } from './exit-codes.js';

const usage = (msg: string) => new CliError(EXIT.usage, msg);

function segments(raw: string, names: string[], what: string): string[] {
  const parts = raw.split('/');
  if (parts.length !== names.length) throw usage(`${what} must be ${names.map((n) => `<${n}>`).join('/')}; got ${JSON.stringify(raw)}`);
  parts.forEach((p, i) => {
    if (!isSegment(p)) throw usage(`${names[i]} in ${JSON.stringify(raw)} must match ${SEGMENT_RE.source} (no "..")`);
  });
  return parts;
}

/** `sync`'s target: "<env>/<app>" (with --mod M), or a whole unit "<mod>/<env>/<app>". */
export function parseSyncTarget(raw: string, mod: string | undefined): { env: string; app: string; mod?: string } {
  if (raw.split('/').length === 3) {
    if (mod !== undefined) throw usage(`give the mod either in ${JSON.stringify(raw)} or with --mod, not both`);
    const [m, env, app] = segments(raw, ['mod', 'env', 'app'], 'the unit');
    return { env: env!, app: app!, mod: m! };
  }
  const [env, app] = segments(raw, ['env', 'app'], 'the target');
  if (mod !== undefined && !isSegment(mod)) throw usage(`--mod must match ${SEGMENT_RE.source}; got ${JSON.stringify(mod)}`);
  return { env: env!, app: app!, ...(mod !== undefined ? { mod } : {}) };
}

/** A unit key "<mod>/<env>/<app>". */
export function parseUnit(raw: string): string {
  return segments(raw, ['mod', 'env', 'app'], 'the unit').join('/');
}

/** A commit of the config repo as the API takes it: 7 to 64 hex digits (a prefix or a full id). */
export function parseCommit(raw: string): string {
  const c = raw.toLowerCase();
  if (!/^[0-9a-f]{7,64}$/.test(c)) throw usage(`commit must be 7 to 64 hex digits (a commit id or its prefix); got ${JSON.stringify(raw)}`);
  return c;
}

export function parseIps(raw: string[] | undefined): string[] | undefined {
  if (!raw?.length) return undefined;
  for (const ip of raw) if (isIP(ip) === 0) throw usage(`--host must be an IPv4 or IPv6 address; got ${JSON.stringify(ip)}`);
  return raw;
}

/** A positive integer option or argument within max. */
export function parsePositiveInt(raw: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > max) throw usage(`${what} must be an integer from 1 to ${max}; got ${JSON.stringify(raw)}`);
  return n;
}

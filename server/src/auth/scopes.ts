// PURE: what a token may do. Scopes are read, sync (limited by env/app globs) and admin; can() and check() answer
// "may this actor do that to this target", check() with the 401/403 message naming the missing right.
import { z } from 'zod';

/** One sync grant: the units whose env matches one of `env` and whose app matches one of `app` (globs: * and ?). */
export interface SyncGrant { env: string[]; app: string[] }
/** Normalised scopes of a token. `sync` implies read; `admin` implies everything (incl. sync-window override). */
export interface Scopes { read: boolean; sync: SyncGrant[]; admin: boolean }

/** Who is asking. `open`: no tokens are configured and the API is open (loopback or api.open). */
export type Actor =
  | { kind: 'token'; name: string; scopes: Scopes; expiresAt: string | null }
  | { kind: 'open' }
  /** Credentials missing or refused; `reason` becomes the 401 message. */
  | { kind: 'anonymous'; reason: string }
  /** A webhook delivery's pusher (audit only: it holds no scopes). */
  | { kind: 'webhook'; name: string };

export type Need = 'read' | 'sync' | 'admin' | 'override';
/** Units a sync request reaches, as env/app pairs; '*' = every unit (a rollback or drift check of everything). */
export type Target = ReadonlyArray<{ env: string; app: string }> | '*';

const GLOB_RE = /^[A-Za-z0-9_.*?-]{1,128}$/;
const glob = z.string().regex(GLOB_RE, 'must be a name or a glob of letters, digits, . _ - with * and ?');
const grant = z.strictObject({ env: z.array(glob).min(1).max(100), app: z.array(glob).min(1).max(100) });

/** Scopes as the API takes them: { read?: true, sync?: {env, app} | [{env, app}, …], admin?: true }. */
export const scopesInput = z.strictObject({
  read: z.boolean().optional(),
  sync: z.union([grant, z.array(grant).min(1).max(50)]).optional(),
  admin: z.boolean().optional(),
}).refine((s) => s.read || s.sync || s.admin, 'give at least one of read, sync, admin');

export function normaliseScopes(input: z.infer<typeof scopesInput>): Scopes {
  const sync = input.sync === undefined ? [] : Array.isArray(input.sync) ? input.sync : [input.sync];
  return { read: input.read === true, sync, admin: input.admin === true };
}

export const ADMIN: Scopes = Object.freeze({ read: true, sync: [], admin: true }) as Scopes;

export function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(value);
}

const covers = (g: SyncGrant, t: { env: string; app: string }) => g.env.some((p) => globMatch(p, t.env)) && g.app.some((p) => globMatch(p, t.app));
/** '*' (every unit, also ones added later) is covered only by a grant of env '*' and app '*'. */
const coversAll = (g: SyncGrant) => g.env.includes('*') && g.app.includes('*');

export function scopesAllow(s: Scopes, need: Need, target: Target = []): boolean {
  if (s.admin) return true;
  if (need === 'read') return s.read || s.sync.length > 0;
  if (need === 'sync') {
    if (s.sync.length === 0) return false;
    return target === '*' ? s.sync.some(coversAll) : target.every((t) => s.sync.some((g) => covers(g, t)));
  }
  return false;
}

/** May this actor do `need` (on `target`)? The open API may do everything; webhooks and the anonymous nothing. */
export function can(actor: Actor, need: Need, target?: Target): boolean {
  if (actor.kind === 'open') return true;
  if (actor.kind !== 'token') return false;
  return scopesAllow(actor.scopes, need, target);
}

const list = (xs: string[]) => (xs.length === 1 ? xs[0]! : `{${xs.join(',')}}`);
export const describeGrant = (g: SyncGrant) => `${list(g.env)}/${list(g.app)}`;
function describeTarget(t: Target): string {
  if (t === '*') return 'every unit (*/*)';
  const names = [...new Set(t.map((x) => `${x.env}/${x.app}`))];
  return names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
}

/** The rights of scopes in words: "read, sync on prod/shop". */
export function describeScopes(s: Scopes): string {
  if (s.admin) return 'admin';
  const parts = [...(s.read ? ['read'] : []), ...(s.sync.length ? [`sync on ${s.sync.map(describeGrant).join(' and ')}`] : [])];
  return parts.length ? parts.join(', ') : 'no rights';
}

export type Verdict = { ok: true } | { ok: false; status: 401 | 403; message: string };

/** can() with the refusal in words: 401 (who are you?) or 403 naming the right needed and the rights held. */
export function check(actor: Actor, need: Need, target: Target = []): Verdict {
  if (can(actor, need, target)) return { ok: true };
  if (actor.kind === 'anonymous') return { ok: false, status: 401, message: actor.reason };
  const wanted = need === 'sync' ? `sync on ${describeTarget(target)}` : need === 'override' ? 'admin (to override a sync window)' : need;
  const who = actor.kind === 'token' ? `token '${actor.name}' has ${describeScopes(actor.scopes)}` : `${actor.kind} '${actorName(actor)}' holds no API rights`;
  return { ok: false, status: 403, message: `needs ${wanted}; ${who}` };
}

/** The name an actor is recorded under (audit log, deployments). */
export function actorName(a: Actor): string {
  return a.kind === 'token' || a.kind === 'webhook' ? a.name : a.kind;
}

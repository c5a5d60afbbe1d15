// Dashboard sign-in: an API token exchanged for an HttpOnly, SameSite=Strict session cookie (the token never sits
// in the browser), CSRF-checked on mutating requests. Bearer-token requests are unaffected.
import { randomBytes } from 'node:crypto';
import { Router, type Request } from 'express';
import type { AppContext } from '../context.js';
import { sha256 } from '../auth/auth-service.js';
import { actorName, type Actor } from '../auth/scopes.js';
import { deleteSession, getSession, insertSession, pruneSessions, type UiSession } from '../db/ui-sessions.js';
import { UnauthorizedError, ValidationError } from '../errors.js';
import { CSRF_HEADER, publicRoute, type SessionLookup } from '../http/middleware/auth.js';
import { audited } from '../http/middleware/audited.js';
import { jsonBody } from '../http/middleware/json-body.js';
import { secretEquals } from '../util/secret-equals.js';

export const SESSION_COOKIE = 'gitfleet_session';
/** A dashboard session lasts this long from sign-in (then sign in again). */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** The value of one cookie (no dependency for a one-line parse; values are our own base64url ids). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function cookie(req: Request, value: string, maxAgeSeconds: number): string {
  // Secure when the browser came over https (req.secure honours server.trustProxy); a plain-http cookie would not stick otherwise.
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${req.secure ? '; Secure' : ''}`;
}

/**
 * The live session of a request's cookie and its token's actor now: the token is re-checked by its digest on every
 * request (auth/auth-service.ts verifyDigest), so a revoked, expired or removed token ends its sessions at once and
 * a session has exactly its token's scopes.
 */
async function currentSession(ctx: AppContext, req: Request): Promise<{ idDigest: string; s: UiSession; actor: Actor } | undefined> {
  const sid = readCookie(req.headers.cookie, SESSION_COOKIE);
  if (!sid || !/^[A-Za-z0-9_-]{20,100}$/.test(sid)) return undefined;
  const idDigest = sha256(sid);
  const s = await getSession(ctx.db, idDigest, ctx.clock().toISOString());
  if (!s) return undefined;
  const v = await ctx.auth.verifyDigest(s.tokenDigest);
  return 'actor' in v ? { idDigest, s, actor: v.actor } : undefined;
}

const csrfOk = (req: Request, s: UiSession) => {
  const h = req.headers[CSRF_HEADER];
  return typeof h === 'string' && secretEquals(h, s.csrf);
};

/** For resolveActorMiddleware: a cookie request's actor (its token's) and whether it carries the CSRF token. */
export function sessionLookup(ctx: AppContext): SessionLookup {
  return async (req) => {
    const cur = await currentSession(ctx, req);
    return cur && { actor: cur.actor, csrfOk: csrfOk(req, cur.s) };
  };
}

/** GET / POST / DELETE /session: who am I, sign in, sign out (the way a browser gets its credentials: public routes). */
export function createSessionRoutes(ctx: AppContext): Router {
  const r = Router();
  const why = 'dashboard sign-in: exchanges an API token for a session cookie';
  const view = (cur: { s: UiSession; actor: Actor } | undefined, open: boolean) => ({
    open, signedIn: !!cur, actor: cur ? actorName(cur.actor) : null, scopes: cur?.actor.kind === 'token' ? cur.actor.scopes : null,
    csrfToken: cur?.s.csrf ?? null, expiresAt: cur?.s.expiresAt ?? null,
  });
  r.get('/session', publicRoute(why), async (req, res) => {
    const open = await ctx.auth.isOpen();
    res.set('cache-control', 'no-store').json(view(open ? undefined : await currentSession(ctx, req), open));
  });
  r.post('/session', audited(ctx.audit, 'session.create', { target: () => 'dashboard session' }), publicRoute(why), jsonBody({ limitBytes: 8192, what: 'the sign-in body limit' }), async (req, res) => {
    const token = (req.body as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) throw new ValidationError('body must be { "token": "<API token>" }', 'token');
    if (await ctx.auth.isOpen()) throw new ValidationError('no API tokens are configured: the API is open and needs no sign-in');
    const v = await ctx.auth.verify(token);
    if (!('actor' in v)) throw new UnauthorizedError(`that token is not valid: ${v.reason}`);
    res.locals.auditActor = v.actor;
    const now = ctx.clock();
    const sid = randomBytes(32).toString('base64url');
    const s: UiSession = {
      tokenDigest: sha256(token), actor: actorName(v.actor), csrf: randomBytes(24).toString('base64url'),
      createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + SESSION_TTL_MS).toISOString(),
    };
    await pruneSessions(ctx.db, s.createdAt);
    await insertSession(ctx.db, sha256(sid), s);
    res.set('set-cookie', cookie(req, sid, SESSION_TTL_MS / 1000)).set('cache-control', 'no-store').status(201)
      .json(view({ s, actor: v.actor }, false));
  });
  r.delete('/session', audited(ctx.audit, 'session.delete', { target: () => 'dashboard session' }), publicRoute(why), async (req, res) => {
    const cur = await currentSession(ctx, req);
    if (cur) {
      // (resolveActorMiddleware already refused a cookie DELETE without its CSRF token.)
      await deleteSession(ctx.db, cur.idDigest);
    } else {
      res.locals.auditSkip = true; // nothing to sign out of
    }
    res.set('set-cookie', cookie(req, '', 0)).status(204).end();
  });
  return r;
}

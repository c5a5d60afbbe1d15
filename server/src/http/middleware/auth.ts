// API authorisation: the caller (res.locals.actor) resolved once per request, and per route a declared need:
// requireScope('read' | 'sync' | 'admin', target?), requireSignedIn(), or publicRoute(why). createApp refuses to
// build an app with a route that declares none (http/route-list.ts).
import type { Request, RequestHandler as Handler, Response } from 'express';
import type { Auth } from '../../auth/auth-service.js';
import { check, type Actor, type Target } from '../../auth/scopes.js';
import { AppError, ForbiddenError, UnauthorizedError } from '../../errors.js';

export { secretEquals } from '../../util/secret-equals.js';

/** What a route declared; read back from its handlers by listRoutes(). */
export type Declaration = { need: 'read' | 'sync' | 'admin' } | { need: 'signed-in' } | { need: 'public'; why: string };
export const DECLARATION = Symbol('gitfleet.route-declaration');
/** Loosely typed so that a route's own handler keeps its path-parameter types (express infers them from every handler). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type RequestHandler = Handler<any, any, any, any>;
type Declared = RequestHandler & { [DECLARATION]?: Declaration };

const declare = (fn: RequestHandler, d: Declaration): RequestHandler => Object.assign(fn, { [DECLARATION]: d });
export const declarationOf = (fn: unknown): Declaration | undefined => (fn as Declared | undefined)?.[DECLARATION];

/** A signed-in dashboard session of a request (dashboard/session.ts): its token's actor, and whether the CSRF header matched. */
export type SessionLookup = (req: Request) => Promise<{ actor: Actor; csrfOk: boolean } | undefined>;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export const CSRF_HEADER = 'x-csrf-token';

export class CsrfError extends AppError {
  constructor() {
    super('csrf_failed', 403, `a request signed in by the session cookie must carry the session's CSRF token in ${CSRF_HEADER} (GET /api/v1/session)`);
  }
}

/**
 * Resolve the caller of every request into res.locals.actor (never refuses: the routes decide), except a cookie
 * request that would change something without its session's CSRF token (403). A bearer token wins over a cookie.
 */
export function resolveActorMiddleware(auth: Auth, session?: SessionLookup): RequestHandler {
  return async (req, res, next) => {
    if (session && !req.headers.authorization && req.headers.cookie) {
      const s = await session(req);
      if (s) {
        if (!SAFE_METHODS.has(req.method) && !s.csrfOk) return next(new CsrfError());
        res.locals.actor = s.actor;
        return next();
      }
    }
    res.locals.actor = await auth.resolveActor(req);
    next();
  };
}

export function actorOf(res: Response): Actor {
  const a = res.locals.actor as Actor | undefined;
  // Fail closed: a route reached without resolveActorMiddleware is a bug, never an open door.
  if (!a) throw new Error('no actor resolved for this request (resolveActorMiddleware missing)');
  return a;
}

export type TargetOf = (req: Request) => Target | Promise<Target>;

/**
 * The route needs `need`; for 'sync', on the units `target` reads from the request (env/app pairs, or '*' when the
 * request names no units or names them in a form it cannot read: fail closed). 401 without valid credentials,
 * 403 naming the missing right. The target is kept in res.locals.scopeTarget for the audit row.
 */
export function requireScope(need: 'read' | 'sync' | 'admin', target?: TargetOf): RequestHandler {
  return declare(async (req, res, next) => {
    const actor = actorOf(res);
    if (actor.kind === 'anonymous') throw new UnauthorizedError(actor.reason);
    const t: Target = need === 'sync' && target ? await target(req) : need === 'sync' ? '*' : [];
    if (need === 'sync') res.locals.scopeTarget = t;
    const v = check(actor, need, t);
    if (!v.ok) throw v.status === 401 ? new UnauthorizedError(v.message) : new ForbiddenError(v.message);
    next();
  }, { need });
}

/** Any valid caller (a token of any scope, or the open API): e.g. "who am I". */
export function requireSignedIn(): RequestHandler {
  return declare((_req, res, next) => {
    const actor = actorOf(res);
    next(actor.kind === 'anonymous' ? new UnauthorizedError(actor.reason) : actor.kind === 'webhook' ? new ForbiddenError('a webhook sender holds no API rights') : undefined);
  }, { need: 'signed-in' });
}

/** No API token: the route is public or has its own authentication (`why` says which). */
export function publicRoute(why: string): RequestHandler {
  return declare((_req, _res, next) => next(), { need: 'public', why });
}

/** Unmatched API paths: 401 for a caller without valid credentials (as before scopes), else on to the 404. */
export const anonymousIsUnauthorized: RequestHandler = (_req, res, next) => {
  const actor = res.locals.actor as Actor | undefined;
  next(actor?.kind === 'anonymous' ? new UnauthorizedError(actor.reason) : undefined);
};

/**
 * The actor a deployment records: the token's name (a name the caller gives, x-actor or "actor", is kept beside it:
 * "ci-deploy (Ada)"); on the open API the given name or "api".
 */
export function deployActor(res: Response, declared: string | undefined): string {
  const a = actorOf(res);
  const given = declared?.slice(0, 100) || undefined;
  if (a.kind === 'token') return given && given !== a.name ? `${a.name} (${given})` : a.name;
  return given ?? 'api';
}

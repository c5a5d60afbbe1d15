// Dashboard sign-in: an API token exchanged for an HttpOnly, SameSite=Strict session cookie (the token never sits
// in the browser), CSRF-checked on mutating requests. Bearer-token requests are unaffected.
import { createHash, randomBytes } from 'node:crypto';
import { Router, type Request, type RequestHandler } from 'express';
import type { AppContext } from '../context.js';
import { deleteSession, getSession, insertSession, pruneSessions, type UiSession } from '../db/ui-sessions.js';
import { AppError, UnauthorizedError, ValidationError } from '../errors.js';
import { bearerAuth, secretEquals } from '../http/middleware/auth.js';
import { jsonBody } from '../http/middleware/json-body.js';

export const SESSION_COOKIE = 'gitfleet_session';
export const CSRF_HEADER = 'x-csrf-token';
/** A dashboard session lasts this long from sign-in (then sign in again). */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export class CsrfError extends AppError {
  constructor() {
    super('csrf_failed', 403, `a request signed in by the session cookie must carry the session's CSRF token in ${CSRF_HEADER} (GET /api/v1/session)`);
  }
}

export interface Actor { name: string }

const digest = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * THE check of a presented API token, for sign-in and for every cookie request (so a token removed from the config
 * ends its sessions). Today: the configured bearer tokens. Swap this one function for scoped tokens.
 */
export function tokenActor(tokens: readonly string[], token: string): Actor | null {
  const ok = tokens.map((t) => secretEquals(token, t)).includes(true);
  return ok ? { name: `token:${digest(token).slice(0, 8)}` } : null;
}

function stillValid(tokens: readonly string[], tokenDigest: string): boolean {
  return tokens.map((t) => secretEquals(digest(t), tokenDigest)).includes(true);
}

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

async function currentSession(ctx: AppContext, req: Request): Promise<{ idDigest: string; s: UiSession } | undefined> {
  const sid = readCookie(req.headers.cookie, SESSION_COOKIE);
  if (!sid || !/^[A-Za-z0-9_-]{20,100}$/.test(sid)) return undefined;
  const idDigest = digest(sid);
  const s = await getSession(ctx.db, idDigest, ctx.clock().toISOString());
  if (!s || !stillValid(ctx.config.api.tokens, s.tokenDigest)) return undefined;
  return { idDigest, s };
}

const csrfOk = (req: Request, s: UiSession) => {
  const h = req.headers[CSRF_HEADER];
  return typeof h === 'string' && secretEquals(h, s.csrf);
};

/**
 * Auth of /api/v1: a bearer token as before; else a live session cookie (mutations need the CSRF header); else
 * open when no token is configured, 401 otherwise.
 */
export function apiAuth(ctx: AppContext): RequestHandler {
  const bearer = bearerAuth(ctx.config.api.tokens);
  return async (req, res, next) => {
    if (req.headers.authorization || !req.headers.cookie) return bearer(req, res, next);
    const cur = await currentSession(ctx, req);
    if (!cur) return bearer(req, res, next);
    if (!SAFE_METHODS.has(req.method) && !csrfOk(req, cur.s)) return next(new CsrfError());
    res.locals.actor = cur.s.actor;
    next();
  };
}

/** GET / POST / DELETE /session: who am I, sign in, sign out (mounted before the API's auth). */
export function createSessionRoutes(ctx: AppContext): Router {
  const r = Router();
  const open = () => ctx.config.api.tokens.length === 0;
  r.get('/session', async (req, res) => {
    const cur = open() ? undefined : await currentSession(ctx, req);
    res.set('cache-control', 'no-store').json({
      open: open(), signedIn: !!cur, actor: cur?.s.actor ?? null, csrfToken: cur?.s.csrf ?? null, expiresAt: cur?.s.expiresAt ?? null,
    });
  });
  r.post('/session', jsonBody({ limitBytes: 8192, what: 'the sign-in body limit' }), async (req, res) => {
    const token = (req.body as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) throw new ValidationError('body must be { "token": "<API token>" }', 'token');
    if (open()) throw new ValidationError('no API tokens are configured: the API is open and needs no sign-in');
    const actor = tokenActor(ctx.config.api.tokens, token);
    if (!actor) throw new UnauthorizedError('that token is not valid');
    const now = ctx.clock();
    const sid = randomBytes(32).toString('base64url');
    const s: UiSession = {
      tokenDigest: digest(token), actor: actor.name, csrf: randomBytes(24).toString('base64url'),
      createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + SESSION_TTL_MS).toISOString(),
    };
    await pruneSessions(ctx.db, s.createdAt);
    await insertSession(ctx.db, digest(sid), s);
    res.set('set-cookie', cookie(req, sid, SESSION_TTL_MS / 1000)).set('cache-control', 'no-store').status(201)
      .json({ open: false, signedIn: true, actor: s.actor, csrfToken: s.csrf, expiresAt: s.expiresAt });
  });
  r.delete('/session', async (req, res) => {
    const cur = await currentSession(ctx, req);
    if (cur) {
      if (!csrfOk(req, cur.s)) throw new CsrfError();
      await deleteSession(ctx.db, cur.idDigest);
    }
    res.set('set-cookie', cookie(req, '', 0)).status(204).end();
  });
  return r;
}

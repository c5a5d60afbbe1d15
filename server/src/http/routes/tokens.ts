// /api/v1/tokens (admin): create (the secret is in this answer only), list (never secrets), revoke; and /whoami.
import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import { actorName, describeScopes, normaliseScopes, scopesInput } from '../../auth/scopes.js';
import { ValidationError } from '../../errors.js';
import { actorOf, requireScope, requireSignedIn } from '../middleware/auth.js';
import { audited } from '../middleware/audited.js';

const DAY_MS = 86_400_000;
const createBody = z.strictObject({
  name: z.string(),
  scopes: scopesInput,
  /** ISO time, or a number of days from now. */
  expiresAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO date-time like 2027-01-31T00:00:00Z').optional(),
  expiresInDays: z.number().positive().max(36_500).optional(),
}).refine((b) => !(b.expiresAt && b.expiresInDays), 'give expiresAt or expiresInDays, not both');

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new ValidationError(`${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`, i.path.length ? String(i.path[0]) : undefined);
}

export function createTokenRoutes(ctx: AppContext): Router {
  const r = Router();
  const nameTarget = (req: { body?: unknown }, params: Record<string, string>) => {
    const n = params.name ?? (req.body as { name?: unknown } | undefined)?.name;
    return typeof n === 'string' ? `token ${n.slice(0, 64)}` : null;
  };
  r.post('/tokens', audited(ctx.audit, 'token.create', { target: nameTarget }), requireScope('admin'), async (req, res) => {
    const b = parse(createBody, req.body);
    const expiresAt = b.expiresAt ? new Date(b.expiresAt).toISOString() : b.expiresInDays ? new Date(ctx.clock().getTime() + b.expiresInDays * DAY_MS).toISOString() : null;
    const { secret, token } = await ctx.auth.createToken({ name: b.name, scopes: normaliseScopes(b.scopes), expiresAt, createdBy: actorName(actorOf(res)) });
    res.status(201).location(`/api/v1/tokens/${encodeURIComponent(token.name)}`).json({ ...token, rights: describeScopes(token.scopes), secret });
  });
  r.get('/tokens', requireScope('admin'), async (_req, res) => {
    const now = ctx.clock().toISOString();
    const items = (await ctx.auth.listTokens()).map((t) => ({
      ...t, rights: describeScopes(t.scopes), state: t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt <= now ? 'expired' : 'live',
    }));
    // The config's tokens are admin tokens named by position (their secrets are in the config, not here).
    res.json({ items, configTokens: ctx.config.api.tokens.map((_t, i) => ({ name: `config-${i + 1}`, rights: 'admin' })) });
  });
  r.delete('/tokens/:name', audited(ctx.audit, 'token.revoke', { target: nameTarget }), requireScope('admin'), async (req, res) => {
    const t = await ctx.auth.revokeToken(req.params.name, actorName(actorOf(res)));
    res.json({ ...t, rights: describeScopes(t.scopes), state: 'revoked' });
  });
  // Who the caller is; `open: true` when the API takes requests without a token (the dashboard shows a banner).
  r.get('/whoami', requireSignedIn(), (_req, res) => {
    const a = actorOf(res);
    if (a.kind === 'token') res.json({ open: false, kind: 'token', name: a.name, scopes: a.scopes, rights: describeScopes(a.scopes), expiresAt: a.expiresAt });
    else res.json({ open: true, kind: a.kind, rights: 'admin' });
  });
  return r;
}

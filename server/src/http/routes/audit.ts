// GET /api/v1/audit (admin): the audit log, newest first, filtered by actor, action, time; paged by `before` (an id).
import { Router } from 'express';
import type { AppContext } from '../../context.js';
import { ValidationError } from '../../errors.js';
import { requireScope } from '../middleware/auth.js';

const ACTION_RE = /^[a-z][a-z0-9.-]{0,63}$/;

function time(v: unknown, field: string): string | undefined {
  if (v === undefined) return undefined;
  const ms = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new ValidationError(`${field} must be an ISO date or date-time like 2026-12-01 or 2026-12-01T03:00:00Z; got ${JSON.stringify(v)}`, field);
  return new Date(ms).toISOString();
}

function int(v: unknown, field: string, def: number | undefined, max: number): number | undefined {
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < 1 || n > max) throw new ValidationError(`${field} must be an integer from 1 to ${max}; got ${JSON.stringify(v)}`, field);
  return n;
}

export function createAuditRoutes(ctx: AppContext): Router {
  const r = Router();
  r.get('/audit', requireScope('admin'), async (req, res) => {
    const q = req.query;
    if (q.actor !== undefined && (typeof q.actor !== 'string' || q.actor.length > 200)) throw new ValidationError('actor must be a name', 'actor');
    if (q.action !== undefined && (typeof q.action !== 'string' || !ACTION_RE.test(q.action))) throw new ValidationError(`action must match ${ACTION_RE.source} (a trailing "." matches every action under it)`, 'action');
    const limit = int(q.limit, 'limit', 100, 1000)!;
    const items = await ctx.audit.query({
      actor: q.actor as string | undefined, action: q.action as string | undefined,
      since: time(q.since, 'since'), until: time(q.until, 'until'), limit, beforeId: int(q.before, 'before', undefined, Number.MAX_SAFE_INTEGER),
    });
    res.json({ items, limit, next: items.length === limit ? items.at(-1)!.id : null });
  });
  return r;
}

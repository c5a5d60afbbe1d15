// /api/v1/windows: every sync window with its state now (config ones read-only), held work, and API-managed windows.
import { Router } from 'express';
import type { AppContext } from '../context.js';
import { ValidationError } from '../errors.js';
import { windowBodySchema, WINDOW_NAME_RE } from './config-schema.js';
import { deployActor, requireScope } from '../http/middleware/auth.js';
import { audited } from '../http/middleware/audited.js';
import type { Blocked } from './service.js';
import { parseUnitKey, unitKey } from '../gitops/targets.js';

export function createWindowRoutes(ctx: AppContext): Router {
  const r = Router();
  r.get('/windows', requireScope('read'), async (req, res) => {
    // ?unit=mod/env/app: also whether it may sync now (automatic and manual), e.g. for a CLI's "can I deploy?".
    let unit: { unit: string; automatic: Blocked | null; manual: Blocked | null } | undefined;
    if (req.query.unit !== undefined) {
      const u = typeof req.query.unit === 'string' ? parseUnitKey(req.query.unit) : undefined;
      if (!u) throw new ValidationError('unit must be <mod>/<env>/<app>', 'unit');
      unit = { unit: unitKey(u), automatic: ctx.windows.blocked([u])[0] ?? null, manual: ctx.windows.blocked([u], { manual: true })[0] ?? null };
    }
    // Each held item says which windows hold it now and when it may go (null windows: due, being released).
    const held = (await ctx.windows.held()).map((h) => {
      const u = parseUnitKey(h.unit);
      const b = u ? ctx.windows.blocked([u])[0] : undefined;
      return { ...h, windows: b?.windows ?? [], until: b?.until ?? null };
    });
    res.json({ items: ctx.windows.list(), held, ...(unit ? { unit } : {}) });
  });
  r.post('/windows/:name', audited(ctx.audit, 'window.put', { target: (_req, p) => `window ${p.name}` }), requireScope('admin'), async (req, res) => {
    const name = windowName(req.params.name);
    const parsed = windowBodySchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      const key = i.path.join('.');
      throw new ValidationError(i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')}` : `${key || 'body'}: ${i.message}`, key || undefined);
    }
    const created = await ctx.windows.put({ name, ...parsed.data }, deployActor(res, req.header('x-actor')));
    res.locals.auditDetail = created ? 'created' : 'replaced';
    res.status(created ? 201 : 200).json(ctx.windows.list().find((w) => w.name === name));
  });
  r.delete('/windows/:name', audited(ctx.audit, 'window.delete', { target: (_req, p) => `window ${p.name}` }), requireScope('admin'), async (req, res) => {
    const name = windowName(req.params.name);
    await ctx.windows.remove(name);
    res.status(204).end();
  });
  return r;
}

function windowName(v: string | undefined): string {
  if (!v || !WINDOW_NAME_RE.test(v)) throw new ValidationError('window name must be 1-64 letters, digits, . _ - (starting with a letter or digit)', 'name');
  return v;
}

// /api/v1/deployments and the per-unit view of what is deployed where.
import { Router } from 'express';
import type { AppContext } from '../../context.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import * as rec from '../../db/deployments.js';
import { requireSegment } from '../../util/validate.js';
import { paging } from '../paging.js';

const STATUSES = new Set(['queued', 'running', 'succeeded', 'partial', 'failed', 'interrupted']);

export function createDeploymentRoutes(ctx: AppContext): Router {
  const r = Router();
  r.get('/deployments', async (req, res) => {
    const q = req.query;
    const { limit, offset } = paging(q, 500, 50);
    if (q.status !== undefined && !STATUSES.has(String(q.status))) throw new ValidationError(`status must be one of ${[...STATUSES].join(', ')}`, 'status');
    let unit: string | undefined;
    if (q.unit !== undefined) {
      const parts = String(q.unit).split('/');
      if (parts.length !== 3) throw new ValidationError('unit must be <mod>/<env>/<app>', 'unit');
      unit = parts.map((p, i) => requireSegment(p, ['mod', 'env', 'app'][i]!)).join('/');
    }
    res.json({ ...(await rec.listDeployments(ctx.db, { status: q.status as string | undefined, unit, limit, offset })), limit, offset });
  });
  r.get('/deployments/:id', async (req, res) => {
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new ValidationError('deployment id must be a positive integer', 'id');
    const d = await rec.getDeployment(ctx.db, id);
    if (!d) throw new NotFoundError(`deployment ${id} not found`);
    res.json({ ...d, unitResults: await rec.unitResults(ctx.db, id), hosts: await rec.hostPushes(ctx.db, id) });
  });
  r.get('/units/:mod/:env/:app/hosts', async (req, res) => {
    const unit = ['mod', 'env', 'app'].map((k) => requireSegment(req.params[k as 'mod'], k)).join('/');
    const state = await rec.getUnitState(ctx.db, unit);
    res.json({ unit, lastCommit: state?.lastCommit ?? null, lastDeployedAt: state?.lastDeployedAt ?? null, hosts: await rec.unitHosts(ctx.db, unit) });
  });
  return r;
}

// GET /healthz and GET /metrics (Prometheus text format).
import { Router } from 'express';
import type { AppContext } from '../../context.js';

export function createHealthRoutes(ctx: AppContext): Router {
  const r = Router();
  r.get('/healthz', async (_req, res) => {
    await ctx.db.get('SELECT 1');
    res.json({ status: ctx.shutdown.aborted ? 'stopping' : 'ok', queue: ctx.deployer.queueDepth(), head: ctx.repo.lastKnownHead() });
  });
  r.get('/metrics', async (_req, res) => {
    ctx.metrics.queueDepth.set(ctx.deployer.queueDepth());
    res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
  return r;
}

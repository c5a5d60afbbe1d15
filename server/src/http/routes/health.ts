// GET /healthz (alive, and whether degraded), GET /readyz (for load balancers: 503 unless able to take work) and
// GET /metrics (Prometheus text format).
import { Router } from 'express';
import type { AppContext } from '../../context.js';
import { DataDirProbe } from '../../util/data-dir-probe.js';
import { publicRoute } from '../middleware/auth.js';

export function createHealthRoutes(ctx: AppContext): Router {
  const r = Router();
  const dataDir = new DataDirProbe(ctx.config.dataDir);
  /** ok, degraded (reads work, writes cannot: the data dir cannot be written) or stopping. */
  const state = async () => {
    await ctx.db.get('SELECT 1');
    const disk = await dataDir.check();
    const status = ctx.shutdown.aborted ? 'stopping' : disk.writable ? 'ok' : 'degraded';
    return { status, reasons: disk.reason ? [disk.reason] : [] };
  };
  // 200 while the process serves (a restart would not free the disk); the body says when it is degraded.
  r.get('/healthz', publicRoute('health check for load balancers'), async (_req, res) => {
    const { status, reasons } = await state();
    await ctx.deployer.refreshSnapshot();
    res.json({ status, ...(reasons.length ? { reasons } : {}), queue: ctx.deployer.queueDepth(), head: ctx.repo.lastKnownHead() });
  });
  r.get('/readyz', publicRoute('readiness for load balancers'), async (_req, res) => {
    const { status, reasons } = await state();
    res.status(status === 'ok' ? 200 : 503).json({ status: status === 'ok' ? 'ready' : status, ...(reasons.length ? { reasons } : {}) });
  });
  r.get('/metrics', publicRoute('Prometheus scrape'), async (_req, res) => {
    await ctx.deployer.refreshSnapshot();
    ctx.metrics.queueDepth.set(ctx.deployer.queueDepth());
    res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
  return r;
}

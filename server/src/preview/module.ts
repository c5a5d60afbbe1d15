// Previews' read API (the dashboard and CLI show them): GET /api/v1/previews, newest first, with each merge
// request's last result (units, sampled hosts, per-host diffs) and its comment id.
import { requireScope } from '../http/middleware/auth.js';
import { Router } from 'express';
import type { AppModule } from '../module.js';
import { listPreviews } from '../db/previews.js';
import { paging } from '../http/paging.js';

export function createPreviewsModule(): AppModule {
  return {
    name: 'previews',
    apiRoutes(ctx) {
      const r = Router();
      r.get('/previews', requireScope('read'), async (req, res) => {
        const { limit } = paging(req.query as Record<string, unknown>, 200, 20);
        res.json({ enabled: ctx.config.previews.enabled, queued: ctx.previews?.queued ?? 0, items: await listPreviews(ctx.db, limit) });
      });
      return r;
    },
  };
}

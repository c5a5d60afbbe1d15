// The ES metrics sync as an AppModule: its API under /api/v1/es-sync and its scheduler's lifecycle.
import type { AppContext } from '../context.js';
import type { AppModule } from '../module.js';
import { createEsSyncRoutes, executeBodyLimit } from './routes.js';
import { EsSyncService } from './service.js';

export function createEsSyncModule(): AppModule {
  // One service per server; routes are built before start(), so whichever comes first creates it.
  let service: EsSyncService | undefined;
  const get = (ctx: AppContext) => (service ??= new EsSyncService(ctx));
  return {
    name: 'es-sync',
    apiRoutes: (ctx) => createEsSyncRoutes(get(ctx), ctx.db, ctx.config.esSync, ctx.audit),
    apiJsonLimits: (ctx) => [{ path: '/es-sync/tasks/:id/execute', ...executeBodyLimit(ctx.config.esSync.maxManualIps) }],
    start: (ctx) => get(ctx).start(),
    stop: async () => { await service?.stop(); },
  };
}

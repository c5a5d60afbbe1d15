// The host-sync module: sources on their schedules and change feeds, new-host converge, upstream CMDB sync, API.
import type { AppContext } from '../context.js';
import * as store from '../db/host-sync.js';
import type { AppModule } from '../module.js';
import { Converger } from './converge.js';
import { createHostSyncRoutes } from './routes.js';
import { HostSyncService } from './service.js';
import { UpstreamSync } from './upstream.js';

export function createHostSyncModule(): AppModule {
  let svc: HostSyncService | null = null;
  let upstream: UpstreamSync | null = null;
  let converger: Converger | null = null;
  let built = false;
  // Sources are built (and their config checked) when the app is assembled, before the server listens.
  const build = (ctx: AppContext) => {
    if (built) return;
    built = true;
    svc = new HostSyncService(ctx);
    const up = ctx.config.hostSync.upstream;
    if (up && (up.url || up.pushUrl)) upstream = new UpstreamSync(ctx, up);
    if (ctx.config.hostSync.converge.enabled) converger = new Converger(ctx, ctx.config.hostSync.converge.debounceMs);
  };
  return {
    name: 'hostsync',
    apiRoutes(ctx) {
      build(ctx);
      return createHostSyncRoutes(ctx, () => svc!, () => upstream);
    },
    async start(ctx) {
      build(ctx);
      converger?.start();
      if (ctx.leader.isLeader) await store.interruptUpstreamRuns(ctx.db, ctx.clock().toISOString()); // not a live leader's run
      await svc!.start();
      upstream?.start();
    },
    async stop() {
      await Promise.allSettled([svc?.stop(), upstream?.stop(), converger?.stop()]);
    },
  };
}

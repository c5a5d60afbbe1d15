// The host agents module: report intake and install scripts (public routes), SSH collection API and schedule.
import type { AppContext } from '../context.js';
import type { AppModule } from '../module.js';
import { createAgentApiRoutes, createAgentPublicRoutes } from './routes.js';
import { startCollectSchedule } from './scheduler.js';
import { fireGate } from '../cluster/schedule-gate.js';
import { AgentsService } from './service.js';

/** The module; `service` is exposed for tests (collection cap, runner state). */
export function createAgentsModule(): AppModule & { readonly service: AgentsService | null } {
  let svc: AgentsService | null = null;
  let schedule: { stop(): void } | null = null;
  const service = (ctx: AppContext) => (svc ??= new AgentsService(ctx));
  return {
    name: 'agents',
    get service() { return svc; },
    publicRoutes: (ctx) => createAgentPublicRoutes(ctx, service(ctx)),
    apiRoutes: (ctx) => createAgentApiRoutes(ctx, service(ctx)),
    async start(ctx) {
      const s = service(ctx);
      if (ctx.leader.isLeader) await s.runner.recover(); // a follower must not close a live leader's runs
      schedule = startCollectSchedule(ctx.config.agents.collect, s.runner, ctx.log.child({ module: 'agents' }), fireGate(ctx, 'agents-collect'));
    },
    async stop() {
      schedule?.stop();
      await svc?.runner.stop();
    },
  };
}

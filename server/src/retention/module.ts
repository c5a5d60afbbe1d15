// Retention as a module: prune the history every retention.interval seconds, and on demand through the API.
import { Router } from 'express';
import type { AppContext } from '../context.js';
import type { AppModule } from '../module.js';
import { pruneHistory, type PruneCounts } from './prune.js';
import { pruneFires } from '../db/schedule-fires.js';
import { requireScope } from '../http/middleware/auth.js';
import { audited } from '../http/middleware/audited.js';

const FIRST_RUN_MS = 60_000;
const FIRES_KEEP_MS = 3 * 86_400_000;

export function createRetentionModule(): AppModule {
  let timer: NodeJS.Timeout | undefined;
  let last: { at: string; deleted: PruneCounts } | { at: string; error: string } | null = null;
  let running: Promise<PruneCounts> | null = null;

  const run = (ctx: AppContext): Promise<PruneCounts> => {
    running ??= (async () => {
      const at = ctx.clock().toISOString();
      try {
        const deleted = await pruneHistory(ctx.db, ctx.clock(), ctx.config.retention);
        // Fire-once records are only needed while two nodes might race for the same fire: a few days is plenty.
        const fires = await pruneFires(ctx.db, new Date(ctx.clock().getTime() - FIRES_KEEP_MS).toISOString());
        if (fires) ctx.log.debug({ deleted: fires }, 'schedule fire records pruned');
        last = { at, deleted };
        if (Object.values(deleted).some((n) => n > 0)) ctx.log.info({ deleted }, 'history pruned');
        return deleted;
      } catch (err) {
        last = { at, error: (err as Error).message };
        ctx.log.warn({ err }, 'history prune failed');
        throw err;
      }
    })().finally(() => { running = null; });
    return running;
  };

  return {
    name: 'retention',
    apiRoutes(ctx) {
      const r = Router();
      r.get('/retention', requireScope('read'), (_req, res) => { res.json({ config: ctx.config.retention, last }); });
      r.post('/retention/run', audited(ctx.audit, 'retention.run'), requireScope('admin'), async (_req, res, next) => {
        try { res.json({ deleted: await run(ctx) }); } catch (err) { next(err); }
      });
      return r;
    },
    start(ctx) {
      // The leader's duty (README "Leader and schedules"); POST /retention/run works on every node.
      const tick = () => { if (ctx.leader.isLeader) void run(ctx).catch(() => undefined); };
      const first = setTimeout(() => {
        tick();
        timer = setInterval(tick, ctx.config.retention.interval * 1000);
        timer.unref();
      }, FIRST_RUN_MS);
      first.unref();
      timer = first;
    },
    async stop() {
      if (timer) { clearTimeout(timer); clearInterval(timer); }
      await running?.catch(() => undefined);
    },
  };
}

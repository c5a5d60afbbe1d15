// Audit retention as a module: rows older than audit.retentionDays go, on the history prune's schedule
// (retention.interval) but with their own limit; the only delete the audit_log triggers allow.
import type { AppContext } from '../context.js';
import type { AppModule } from '../module.js';
import { pruneAudit } from '../db/audit-log.js';

const FIRST_RUN_MS = 60_000;
const DAY_MS = 86_400_000;

/** Delete audit rows older than audit.retentionDays (0: keep forever); returns how many. */
export async function pruneAuditLog(ctx: Pick<AppContext, 'db' | 'clock' | 'config'>): Promise<number> {
  const days = ctx.config.audit.retentionDays;
  if (days === 0) return 0;
  return pruneAudit(ctx.db, new Date(ctx.clock().getTime() - days * DAY_MS).toISOString());
}

export function createAuditModule(): AppModule {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;
  return {
    name: 'audit',
    start(ctx) {
      const tick = () => {
        if (!ctx.leader.isLeader) return; // the leader's duty (README "Leader and schedules")
        running ??= pruneAuditLog(ctx).then(
          (n) => { if (n > 0) ctx.log.info({ deleted: n, retentionDays: ctx.config.audit.retentionDays }, 'audit log pruned'); },
          (err: unknown) => { ctx.log.warn({ err }, 'audit log prune failed'); },
        ).finally(() => { running = null; });
      };
      timer = setTimeout(() => {
        tick();
        timer = setInterval(tick, ctx.config.retention.interval * 1000);
        timer.unref();
      }, FIRST_RUN_MS);
      timer.unref();
    },
    async stop() {
      if (timer) { clearTimeout(timer); clearInterval(timer); }
      await running;
    },
  };
}

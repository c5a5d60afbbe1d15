// The poller: fetch every repo.pollInterval seconds and deploy what webhooks missed, through the same path.
import type { AppContext } from '../context.js';
import * as rec from '../db/deployments.js';

export interface Poller { stop(): void; tick(): Promise<number | null> }

export function startPoller(ctx: AppContext): Poller {
  const log = ctx.log.child({ component: 'poller' });
  let running = false;
  const tick = async (): Promise<number | null> => {
    if (running || ctx.shutdown.aborted || ctx.deployer.pushBusy()) return null;
    running = true;
    try {
      const head = await ctx.repo.fetch();
      if ((await rec.getLastSeen(ctx.db, ctx.config.repo.branch)) === head) return null;
      const { id } = await ctx.deployer.submit({ kind: 'push', trigger: 'poller', actor: 'poller', after: head });
      log.info({ head, deploymentId: id }, 'poller found new commits');
      return id;
    } catch (err) {
      log.warn({ err }, 'poll failed');
      return null;
    } finally {
      running = false;
    }
  };
  const secs = ctx.config.repo.pollInterval;
  // Scheduled ticks on the leader only (README "Leader and schedules"); it resumes from repo_state.last_seen.
  const timer = secs > 0 ? setInterval(() => { if (ctx.leader.isLeader) void tick(); }, secs * 1000) : undefined;
  timer?.unref();
  return { stop: () => timer && clearInterval(timer), tick };
}

/** First start on a repo: remember the current head without deploying (use /sync to push everything once). */
export async function ensureBaseline(ctx: AppContext): Promise<void> {
  const branch = ctx.config.repo.branch;
  if (await rec.getLastSeen(ctx.db, branch)) return;
  const head = ctx.repo.lastKnownHead();
  if (!head) return;
  await rec.setLastSeen(ctx.db, branch, head, ctx.clock().toISOString());
  ctx.log.info({ branch, head }, 'baseline set: later pushes deploy what changes after this commit');
}

// The notifications module: listens for deployment ends and posts them to the configured webhook targets.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppModule } from '../module.js';
import { Notifier } from './notifier.js';

/** Longest a shutdown waits for notifications still being delivered (they must never hold the server up for long). */
const DRAIN_MAX_MS = 5000;

/** The module; `notifier` is exposed for tests (in-flight deliveries). */
export function createNotifyModule(): AppModule & { readonly notifier: Notifier | null } {
  let notifier: Notifier | null = null;
  let deployerBusy: (() => boolean) | null = null;
  let graceMs = 0;
  return {
    name: 'notify',
    get notifier() { return notifier; },
    start(ctx) {
      const targets = Object.keys(ctx.config.notifications.targets);
      if (targets.length === 0) return;
      const n = new Notifier({ config: ctx.config.notifications, log: ctx.log.child({ module: 'notify' }), registry: ctx.metrics.registry });
      notifier = n;
      graceMs = ctx.config.server.shutdownGrace * 1000;
      ctx.deployer.events.on('finished', n.onFinished);
      // Deployments cut off by a shutdown end while the deployer drains: their notifications should still go out.
      deployerBusy = () => ctx.deployer.pushBusy() || ctx.deployer.queueDepth() > 0;
      ctx.log.info({ targets }, 'deployment notifications on');
    },
    async stop() {
      if (!notifier) return;
      const deadline = Date.now() + graceMs;
      while (deployerBusy?.() && Date.now() < deadline) await sleep(100);
      await notifier.stop(Math.min(DRAIN_MAX_MS, Math.max(deadline - Date.now(), 500)));
    },
  };
}

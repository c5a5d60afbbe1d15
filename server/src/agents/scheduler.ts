// The SSH collection schedule (agents.collect.schedule, croner with seconds): a tick is skipped while the last scheduled run is active.
import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { AgentsConfig } from './config-schema.js';
import type { CollectRunner } from './collect-runner.js';
import { nominalRun, type FireGate } from '../cluster/schedule-gate.js';

/** gate: the cluster's (leader only, each nominal fire once); false skips the fire. */
export function startCollectSchedule(cfg: AgentsConfig['collect'], runner: CollectRunner, log: Logger, gate?: FireGate): { stop(): void } | null {
  if (!cfg.schedule) return null;
  let last: number | null = null;
  const job = new Cron(cfg.schedule, { mode: '6-part', timezone: cfg.timezone }, async (self: Cron) => {
    if (gate && !(await gate(nominalRun(self)))) return;
    if (last !== null && runner.activeRuns.includes(last)) {
      log.warn({ agentRunId: last }, 'agents: scheduled collection skipped, the previous one is still running');
      return;
    }
    try {
      last = await runner.start({ trigger: 'schedule', env: cfg.env, app: cfg.app });
      log.info({ agentRunId: last }, 'agents: scheduled collection started');
    } catch (err) {
      log.error({ err }, 'agents: scheduled collection could not start');
    }
  });
  log.info({ schedule: cfg.schedule, next: job.nextRun()?.toISOString() }, 'agents: collection schedule active');
  return { stop: () => job.stop() };
}

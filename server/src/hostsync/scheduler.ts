// A schedule for one periodic job: every N seconds (next run counted from the end of the last) or a cron pattern
// (croner, overrun-protected). The job itself never overlaps: a tick that finds it running is skipped.
import { Cron } from 'croner';
import type { Logger } from 'pino';
import { nominalRun, type FireGate } from '../cluster/schedule-gate.js';

export interface ScheduleSpec { interval?: number; cron?: string; timezone?: string }

export interface Schedule {
  stop(): void;
  nextRunAt(): Date | null;
  describe(): string;
}

/**
 * Start a schedule; returns null for a spec without interval or cron (on-demand only). gate (the cluster's): asked
 * before each fire with the cron's nominal time (null for intervals); false skips the fire.
 */
export function startSchedule(spec: ScheduleSpec, tick: () => Promise<unknown>, log: Logger, gate?: FireGate): Schedule | null {
  const safe = async (fireAt: Date | null = null) => {
    try {
      if (gate && !(await gate(fireAt))) return;
      await tick();
    } catch (err) {
      log.error({ err }, 'scheduled job failed');
    }
  };
  if (spec.cron) {
    const job = new Cron(spec.cron, { protect: true, timezone: spec.timezone, unref: true }, (self: Cron) => safe(nominalRun(self)));
    return { stop: () => job.stop(), nextRunAt: () => job.nextRun() ?? null, describe: () => `cron ${spec.cron}` };
  }
  if (spec.interval) {
    const ms = spec.interval * 1000;
    let timer: NodeJS.Timeout | null = null;
    let stopped = false;
    let next = new Date(Date.now() + ms);
    const arm = () => {
      if (stopped) return;
      next = new Date(Date.now() + ms);
      timer = setTimeout(() => { void safe(null).finally(arm); }, ms);
      timer.unref();
    };
    arm();
    return {
      stop: () => { stopped = true; if (timer) clearTimeout(timer); },
      nextRunAt: () => (stopped ? null : next),
      describe: () => `every ${spec.interval} s`,
    };
  }
  return null;
}

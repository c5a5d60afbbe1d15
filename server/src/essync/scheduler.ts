// The cron table of tasks (croner, seconds precision): one job per enabled task, replaced or removed at once on change.
import { Cron } from 'croner';
import type { EsSyncTask } from './types.js';

export class EsScheduler {
  private readonly jobs = new Map<number, Cron>();
  private stopped = false;
  constructor(private readonly opts: { timezone?: string; onTick: (taskId: number) => void }) {}

  /** Make the schedule match the task: a fresh job when enabled, none when disabled. */
  sync(task: EsSyncTask): void {
    this.remove(task.id);
    if (this.stopped || !task.enabled) return;
    // No croner `protect`: overlap is refused by the runner, which also sees manual runs and runs of a replaced job.
    this.jobs.set(task.id, new Cron(task.cron, { mode: '6-part', timezone: this.opts.timezone }, () => this.opts.onTick(task.id)));
  }

  remove(taskId: number): void {
    this.jobs.get(taskId)?.stop();
    this.jobs.delete(taskId);
  }

  nextRun(taskId: number): Date | null {
    return this.jobs.get(taskId)?.nextRun() ?? null;
  }

  scheduledIds(): number[] {
    return [...this.jobs.keys()];
  }

  stop(): void {
    this.stopped = true;
    for (const id of [...this.jobs.keys()]) this.remove(id);
  }
}

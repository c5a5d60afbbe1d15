// The cron table of tasks (croner, seconds precision): one job per enabled task, replaced or removed at once on change.
import { Cron } from 'croner';
import type { EsSyncTask } from './types.js';
import { nominalRun } from '../cluster/schedule-gate.js';

export class EsScheduler {
  private readonly jobs = new Map<number, Cron>();
  private stopped = false;
  /** onTick gets the fire's nominal time (the cron's scheduled instant, the same on every node). */
  constructor(private readonly opts: { timezone?: string; onTick: (taskId: number, fireAt: Date | null) => void }) {}

  /** Make the schedule match the task: a fresh job when enabled, none when disabled. */
  sync(task: EsSyncTask): void {
    this.remove(task.id);
    if (this.stopped || !task.enabled) return;
    // No croner `protect`: overlap is refused by the runner, which also sees manual runs and runs of a replaced job.
    this.jobs.set(task.id, new Cron(task.cron, { mode: '6-part', timezone: this.opts.timezone }, (self: Cron) => this.opts.onTick(task.id, nominalRun(self))));
  }

  /**
   * Match the table of enabled tasks read from the database (tasks changed through another node): new or re-timed
   * tasks scheduled, gone ones removed, unchanged jobs left alone (so that none misses a fire).
   */
  refresh(enabled: EsSyncTask[]): void {
    const ids = new Set(enabled.map((t) => t.id));
    for (const id of this.scheduledIds()) if (!ids.has(id)) this.remove(id);
    for (const t of enabled) if (this.jobs.get(t.id)?.getPattern() !== t.cron) this.sync(t);
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

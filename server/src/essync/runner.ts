// Runs of tasks in flight: at most one per task (scheduled or manual), all aborted and awaited on shutdown.
import * as store from '../db/es-sync.js';
import { ConflictError, UpstreamUnavailableError } from '../errors.js';
import { executeRun, type JobDeps } from './job.js';
import { normalizeEndpoint } from './task-input.js';
import type { EsSyncTask, RunRecord, RunTrigger } from './types.js';

export interface StartedRun { runId: number; done: Promise<RunRecord> }

export class EsRunner {
  private readonly active = new Map<number, { runId: number; done?: Promise<RunRecord> }>();
  private readonly abort = new AbortController();
  /** onRun: told when a run starts and ends (live views); must not throw. */
  constructor(private readonly deps: JobDeps, private readonly onRun?: (r: { taskId: number; runId: number; status: string }) => void) {}

  /** The execution id a task is running now, if any. */
  runningExecution(taskId: number): number | null {
    return this.active.get(taskId)?.runId ?? null;
  }

  isBusy(taskId: number): boolean {
    return this.active.has(taskId);
  }

  activeRunIds(): number[] {
    return [...this.active.values()].map((e) => e.runId).filter((id) => id > 0);
  }

  /** Record a new run (status running) and start it; ConflictError while the task's previous run is active. */
  async start(task: EsSyncTask, ips: string[] | null, trigger: RunTrigger): Promise<StartedRun> {
    if (this.abort.signal.aborted) throw new UpstreamUnavailableError('the server is shutting down: no new runs');
    const busy = this.active.get(task.id);
    if (busy) throw new ConflictError(`task ${task.id} is already running (execution ${busy.runId || 'starting'})`);
    // Claimed before the first await, so two callers can never both pass the check above.
    const entry: { runId: number; done?: Promise<RunRecord> } = { runId: 0 };
    this.active.set(task.id, entry);
    const endpoint = task.esEndpoint ?? normalizeEndpoint(this.deps.config.endpoint);
    try {
      entry.runId = await store.insertRun(this.deps.db, {
        taskId: task.id, taskName: task.name, trigger, timeRange: task.timeRange, esEndpoint: endpoint,
        indexPattern: task.indexPattern, startedAt: this.deps.clock().toISOString(), totalHosts: ips?.length ?? 0,
      });
    } catch (err) {
      this.active.delete(task.id);
      throw err;
    }
    this.onRun?.({ taskId: task.id, runId: entry.runId, status: 'running' });
    entry.done = executeRun(this.deps, { runId: entry.runId, task, endpoint, ips, trigger }, this.abort.signal)
      .finally(() => this.active.delete(task.id));
    entry.done.then((r) => this.onRun?.({ taskId: task.id, runId: r.id, status: r.status }), () => undefined);
    return { runId: entry.runId, done: entry.done };
  }

  /** Abort searches in flight and wait (at most graceMs) for the runs to record their end. */
  async stop(graceMs: number): Promise<void> {
    this.abort.abort(new Error('shutting down'));
    const pending = [...this.active.values()].map((e) => e.done).filter((d): d is Promise<RunRecord> => !!d);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((res) => { timer = setTimeout(res, graceMs); });
    await Promise.race([Promise.allSettled(pending), grace]);
    clearTimeout(timer);
  }
}

// The ES metrics sync of one server: task changes keep the cron table in step; runs go through the runner.
import type { AppContext } from '../context.js';
import * as store from '../db/es-sync.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { EsClients } from './es-client.js';
import { EsRunner } from './runner.js';
import { EsScheduler } from './scheduler.js';
import { createEsSyncStats, type EsSyncStats } from './stats.js';
import { normalizeEndpoint, parseTaskInput, type TaskDefaults } from './task-input.js';
import type { EsSyncTask, RunRecord, RunTrigger } from './types.js';
import type { JobDeps } from './job.js';
import { fireGate } from '../cluster/schedule-gate.js';

/** How often the leader re-reads the task table when several nodes share it (PostgreSQL). */
const REFRESH_MS = 15_000;

export interface TaskView extends EsSyncTask {
  effectiveEsEndpoint: string;
  nextRunAt: string | null;
  runningExecutionId: number | null;
  lastExecution: RunRecord | null;
}

export class EsSyncService {
  readonly stats: EsSyncStats;
  private readonly deps: JobDeps;
  private readonly runner: EsRunner;
  private readonly scheduler: EsScheduler;
  private readonly clients: EsClients;
  private readonly defaults: TaskDefaults;
  private refresher: NodeJS.Timeout | null = null;
  private unwatch: (() => void) | null = null;

  constructor(private readonly ctx: AppContext) {
    const cfg = ctx.config.esSync;
    this.stats = createEsSyncStats(ctx.metrics.registry);
    this.clients = new EsClients(cfg);
    this.deps = { db: ctx.db, log: ctx.log.child({ module: 'es-sync' }), clock: ctx.clock, config: cfg, clients: this.clients, stats: this.stats };
    this.runner = new EsRunner(this.deps, (r) => ctx.live?.publish('essync.run', r));
    this.scheduler = new EsScheduler({ timezone: cfg.timezone, onTick: (id, fireAt) => void this.tick(id, fireAt) });
    this.defaults = { endpoint: cfg.endpoint, allowedEndpoints: cfg.allowedEndpoints, indexPattern: cfg.indexPattern, timeRange: cfg.timeRange, timezone: cfg.timezone };
  }

  /** At start: runs a crash left `running` become failed, then every enabled task is scheduled. */
  async start(): Promise<void> {
    const now = this.ctx.clock().toISOString();
    // Only the leader: a follower starting next to a live leader must not fail the leader's runs in flight.
    const failed = !this.ctx.leader.isLeader ? 0 : await store.failInterruptedRuns(this.ctx.db, this.runner.activeRunIds(), now, 'interrupted: the server stopped while this run was in progress');
    if (failed) this.deps.log.warn({ count: failed }, 'es-sync runs interrupted by a previous stop marked failed');
    const tasks = await store.listEnabledTasks(this.ctx.db);
    for (const t of tasks) {
      // Crons are validated on write; one that no longer parses (e.g. after a croner upgrade) must not stop the server.
      try {
        this.scheduler.sync(t);
      } catch (err) {
        this.deps.log.error({ err, esSyncTask: t.id }, 'es-sync task not scheduled: its cron expression is not accepted');
      }
    }
    this.deps.log.info({ scheduled: this.scheduler.scheduledIds().length }, 'es-sync scheduler started');
    if (this.ctx.db.dialect !== 'sqlite') {
      // Several nodes: tasks created or changed through another node reach this one's cron table here.
      this.unwatch = this.ctx.leader.onChange((leading) => { if (leading) void this.refresh(); });
      this.refresher = setInterval(() => { if (this.ctx.leader.isLeader) void this.refresh(); }, REFRESH_MS);
      this.refresher.unref();
    }
  }

  private async refresh(): Promise<void> {
    try {
      this.scheduler.refresh(await store.listEnabledTasks(this.ctx.db));
    } catch (err) {
      this.deps.log.warn({ err }, 'es-sync task table not re-read');
    }
  }

  async stop(): Promise<void> {
    if (this.refresher) clearInterval(this.refresher);
    this.unwatch?.();
    this.scheduler.stop();
    await this.runner.stop(this.ctx.config.server.shutdownGrace * 1000);
    await this.clients.close();
  }

  /** A cron tick: start a run over the whole inventory unless the previous one is still active (then skip and log). */
  private async tick(taskId: number, fireAt: Date | null): Promise<void> {
    const log = this.deps.log.child({ esSyncTask: taskId });
    try {
      if (!(await fireGate(this.ctx, `essync:${taskId}`)(fireAt))) return; // leader only, each fire once
      if (this.runner.isBusy(taskId)) throw new ConflictError('previous run still active');
      const task = await store.getTask(this.ctx.db, taskId);
      if (!task || !task.enabled) {
        this.scheduler.remove(taskId);
        return;
      }
      await (await this.runner.start(task, null, 'schedule')).done;
    } catch (err) {
      if (err instanceof ConflictError) {
        this.stats.skipped.inc();
        log.warn({ runningExecution: this.runner.runningExecution(taskId) }, 'es-sync scheduled run skipped: the previous run of this task is still active');
      } else log.error({ err }, 'es-sync scheduled run could not start');
    }
  }

  private async view(task: EsSyncTask): Promise<TaskView> {
    return {
      ...task,
      effectiveEsEndpoint: task.esEndpoint ?? normalizeEndpoint(this.defaults.endpoint),
      nextRunAt: this.scheduler.nextRun(task.id)?.toISOString() ?? null,
      runningExecutionId: this.runner.runningExecution(task.id),
      lastExecution: (await store.lastRun(this.ctx.db, task.id)) ?? null,
    };
  }

  private async mustGet(id: number): Promise<EsSyncTask> {
    const task = await store.getTask(this.ctx.db, id);
    if (!task) throw new NotFoundError(`es-sync task ${id} not found`);
    return task;
  }

  /** Writes that may hit the unique name index report it as a 400 on `name`. */
  private async write<T>(fn: () => Promise<T>, name: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (store.isDuplicateTaskName(err)) throw new ValidationError(`a task named ${JSON.stringify(name)} already exists`, 'name');
      throw err;
    }
  }

  async createTask(body: unknown): Promise<TaskView> {
    const input = parseTaskInput(body, this.defaults);
    const now = this.ctx.clock().toISOString();
    const id = await this.write(() => this.ctx.db.tx((q) => store.insertTask(q, input, now)), input.name);
    const task = await this.mustGet(id);
    this.scheduler.sync(task);
    return this.view(task);
  }

  async updateTask(id: number, body: unknown): Promise<TaskView> {
    const current = await this.mustGet(id);
    const input = parseTaskInput(body, this.defaults, current);
    const now = this.ctx.clock().toISOString();
    const ok = await this.write(() => this.ctx.db.tx((q) => store.updateTask(q, id, input, now)), input.name);
    if (!ok) throw new NotFoundError(`es-sync task ${id} not found`);
    const task = await this.mustGet(id);
    this.scheduler.sync(task);
    return this.view(task);
  }

  async setEnabled(id: number, enabled: boolean): Promise<TaskView> {
    if (!(await this.ctx.db.tx((q) => store.setTaskEnabled(q, id, enabled, this.ctx.clock().toISOString())))) throw new NotFoundError(`es-sync task ${id} not found`);
    const task = await this.mustGet(id);
    this.scheduler.sync(task);
    return this.view(task);
  }

  /** Soft delete: unscheduled at once; a run in flight finishes and keeps its log. */
  async deleteTask(id: number): Promise<void> {
    if (!(await this.ctx.db.tx((q) => store.deleteTask(q, id, this.ctx.clock().toISOString())))) throw new NotFoundError(`es-sync task ${id} not found`);
    this.scheduler.remove(id);
  }

  async getTask(id: number): Promise<TaskView> {
    return this.view(await this.mustGet(id));
  }

  async listTasks(f: { enabled?: boolean; limit: number; offset: number }): Promise<{ items: TaskView[]; total: number }> {
    const { items, total } = await store.listTasks(this.ctx.db, f);
    return { items: await Promise.all(items.map((t) => this.view(t))), total };
  }

  /** Run a task now for these IPs (manual or uploaded list); ConflictError while it runs already. */
  async execute(id: number, ips: string[], trigger: RunTrigger): Promise<{ runId: number; done: Promise<RunRecord> }> {
    return this.runner.start(await this.mustGet(id), ips, trigger);
  }
}

// The configured sources at run time: one instance each, its schedule, its change feed, and the rule that runs of one
// source never overlap (a second request is refused, or — for change feeds — queued as one follow-up run).
import type { AppContext } from '../context.js';
import * as store from '../db/host-sync.js';
import { ConfigError, ConflictError, NotFoundError } from '../errors.js';
import type { SourceConfig } from './config-schema.js';
import { executeRun, type JobSource } from './job.js';
import { resolveMapping } from './mapping.js';
import { sourceTypes } from './registry.js';
import { startSchedule, type Schedule } from './scheduler.js';

interface Entry {
  job: JobSource;
  cfg: SourceConfig;
  schedule: Schedule | null;
  running: { id: number; done: Promise<store.RunView> } | null;
  followUp: Promise<store.RunView> | null;
}

export interface SourceView {
  name: string; type: string; enabled: boolean; schedule: string | null; nextRunAt: string | null; watching: boolean;
  running: number | null; hosts: number; lastRun: store.RunView | null;
}

export class HostSyncService {
  private readonly entries = new Map<string, Entry>();
  private readonly feeds = new AbortController();
  private readonly following: Promise<void>[] = [];

  constructor(private readonly ctx: AppContext) {
    const hs = ctx.config.hostSync;
    for (const [name, raw] of Object.entries(hs.sources)) {
      const cfg = raw as SourceConfig;
      const type = sourceTypes.get(cfg.type);
      if (!type) throw new ConfigError([`hostSync.sources.${name}.type: unknown type ${JSON.stringify(cfg.type)}`]);
      const source = type.create(cfg as never, { name, config: ctx.config, log: ctx.log.child({ source: name }) });
      this.entries.set(name, {
        cfg, schedule: null, running: null, followUp: null,
        job: {
          name, source, mapping: resolveMapping(type.defaultMap, cfg.map), timeoutSeconds: cfg.timeout,
          maxDeleteShare: cfg.maxDeleteShare ?? hs.maxDeleteShare, maxRecordedErrors: hs.maxRecordedErrors, keepRuns: hs.keepRuns,
        },
      });
    }
  }

  /** Mark runs cut off by the last stop, start schedules, run-at-start runs and change feeds. */
  async start(): Promise<void> {
    const n = await store.interruptRunningRuns(this.ctx.db, this.ctx.clock().toISOString());
    if (n) this.ctx.log.warn({ runs: n }, 'host sync runs interrupted by the last stop');
    for (const [name, e] of this.entries) {
      if (!e.cfg.enabled) continue;
      const log = this.ctx.log.child({ source: name });
      e.schedule = startSchedule(e.cfg, () => this.trigger(name, 'schedule'), log);
      if (e.cfg.runAtStart) void this.trigger(name, 'start');
      if (e.job.source.follow) this.following.push(this.follow(name, e));
    }
  }

  async stop(): Promise<void> {
    this.feeds.abort();
    for (const e of this.entries.values()) e.schedule?.stop();
    await Promise.allSettled([...this.following, ...[...this.entries.values()].flatMap((e) => [e.running?.done, e.followUp])]);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  async views(): Promise<SourceView[]> {
    const out: SourceView[] = [];
    for (const [name, e] of this.entries) {
      out.push({
        // A disabled source has no schedule (nothing will run it), whatever its interval or cron says.
        name, type: e.cfg.type, enabled: e.cfg.enabled,
        schedule: !e.cfg.enabled ? null : e.schedule?.describe() ?? (e.cfg.interval ? `every ${e.cfg.interval} s` : e.cfg.cron ? `cron ${e.cfg.cron}` : null),
        nextRunAt: e.schedule?.nextRunAt()?.toISOString() ?? null, watching: !!e.job.source.follow && e.cfg.enabled,
        running: e.running?.id ?? null, hosts: await store.countSourceHosts(this.ctx.db, name), lastRun: (await store.lastRun(this.ctx.db, name)) ?? null,
      });
    }
    return out;
  }

  /** Run now (API): refused with 409 while a run of the source is in progress. */
  async runNow(name: string, opts: { force?: boolean; trigger?: string } = {}): Promise<{ id: number; done: Promise<store.RunView> }> {
    const e = this.entries.get(name);
    if (!e) throw new NotFoundError(`no host-sync source named ${JSON.stringify(name)}; configured: ${this.names().join(', ') || '(none)'}`);
    if (!e.cfg.enabled) throw new ConflictError(`host-sync source ${name} is disabled (hostSync.sources.${name}.enabled)`);
    if (e.running) throw new ConflictError(`host-sync source ${name} is already running (run ${e.running.id})`);
    return this.begin(name, e, opts.trigger ?? 'api', !!opts.force);
  }

  /** Scheduled tick: skipped while a run is in progress. */
  private async trigger(name: string, trigger: string): Promise<void> {
    const e = this.entries.get(name)!;
    if (e.running || this.ctx.shutdown.aborted) {
      if (e.running) this.ctx.log.info({ source: name, running: e.running.id }, 'host sync tick skipped: previous run still active');
      return;
    }
    await (await this.begin(name, e, trigger, false)).done;
  }

  /** Change feed: run now, or once more right after the run in progress (whose listing may predate the change). */
  private async runSoon(name: string, e: Entry): Promise<store.RunView> {
    if (!e.running) return (await this.begin(name, e, 'watch', false)).done;
    e.followUp ??= e.running.done.catch(() => undefined).then(async () => {
      e.followUp = null;
      return (await this.begin(name, e, 'watch', false)).done;
    });
    return e.followUp;
  }

  private async begin(name: string, e: Entry, trigger: string, force: boolean): Promise<{ id: number; done: Promise<store.RunView> }> {
    if (e.running) return e.running;
    // Claim the slot before the first await so that two callers cannot both start.
    let release!: (v: { id: number; done: Promise<store.RunView> }) => void;
    const claimed = new Promise<{ id: number; done: Promise<store.RunView> }>((r) => { release = r; });
    const pending = claimed.then((x) => x.done);
    pending.catch(() => undefined);
    e.running = { id: 0, done: pending };
    try {
      const id = await store.insertRun(this.ctx.db, name, e.cfg.type, trigger, this.ctx.clock().toISOString());
      const done = executeRun(this.ctx, e.job, id, { trigger, force }).finally(() => { if (e.running?.id === id) e.running = null; });
      this.ctx.live?.publish('hostsync.run', { source: name, runId: id, status: 'running' });
      done.then((r) => this.ctx.live?.publish('hostsync.run', { source: name, runId: id, status: r.status }), () => undefined);
      e.running = { id, done };
      release({ id, done });
      return e.running;
    } catch (err) {
      e.running = null;
      const failed = Promise.reject(err as Error);
      failed.catch(() => undefined);
      release({ id: 0, done: failed });
      throw err;
    }
  }

  private follow(name: string, e: Entry): Promise<void> {
    const { db, clock } = this.ctx;
    return e.job.source.follow!({
      signal: AbortSignal.any([this.feeds.signal, this.ctx.shutdown]),
      log: this.ctx.log.child({ source: name, feed: true }),
      getCursor: (resource) => store.getCursor(db, name, resource),
      setCursor: (resource, cursor) => store.setCursor(db, name, resource, cursor, clock().toISOString()),
      knownUid: (uid) => store.hasSourceUid(db, name, uid),
      changed: async () => {
        const run = await this.runSoon(name, e);
        return run.status === 'succeeded' || run.status === 'partial';
      },
    }).catch((err) => this.ctx.log.error({ err, source: name }, 'change feed stopped'));
  }
}

// The configured sources at run time: one instance each, its schedule, its change feed, and the rule that runs of one
// source never overlap (a second request is refused, or — for change feeds — queued as one follow-up run).
import type { AppContext } from '../context.js';
import * as store from '../db/host-sync.js';
import { setSourceSwitch, sourceSwitches, type SourceSwitch } from '../db/host-sync-state.js';
import { ConfigError, ConflictError, NotFoundError } from '../errors.js';
import type { SourceConfig } from './config-schema.js';
import { executeRun, type JobSource } from './job.js';
import { resolveMapping } from './mapping.js';
import { sourceTypes } from './registry.js';
import { startSchedule, type Schedule } from './scheduler.js';
import { fireGate } from '../cluster/schedule-gate.js';

interface Entry {
  job: JobSource;
  cfg: SourceConfig;
  schedule: Schedule | null;
  running: { id: number; done: Promise<store.RunView> } | null;
  followUp: Promise<store.RunView> | null;
  /** Set through the API (persisted): overrides cfg.enabled, except that a source off in the config stays off. */
  switched: SourceSwitch | null;
  /** Stops this source's change feed alone (when it is disabled through the API). */
  feed: AbortController | null;
}

/** How often each node re-reads the sources' switches when several share the database (PostgreSQL). */
const SWITCH_REFRESH_MS = 15_000;

export interface SourceView {
  name: string; type: string; enabled: boolean; schedule: string | null; nextRunAt: string | null; watching: boolean;
  /** Why it is off: the configuration (final) or the API (PUT …/enabled); null when enabled. */
  disabledBy: 'config' | 'api' | null; switchedAt: string | null; switchedBy: string | null;
  running: number | null; hosts: number; lastRun: store.RunView | null;
}

export class HostSyncService {
  private readonly entries = new Map<string, Entry>();
  private readonly feeds = new AbortController();
  private readonly following: Promise<void>[] = [];
  private refresher: NodeJS.Timeout | null = null;
  private unwatch: (() => void) | null = null;

  constructor(private readonly ctx: AppContext) {
    const hs = ctx.config.hostSync;
    for (const [name, raw] of Object.entries(hs.sources)) {
      const cfg = raw as SourceConfig;
      const type = sourceTypes.get(cfg.type);
      if (!type) throw new ConfigError([`hostSync.sources.${name}.type: unknown type ${JSON.stringify(cfg.type)}`]);
      const source = type.create(cfg as never, { name, config: ctx.config, log: ctx.log.child({ source: name }) });
      this.entries.set(name, {
        cfg, schedule: null, running: null, followUp: null, switched: null, feed: null,
        job: {
          name, source, mapping: resolveMapping(type.defaultMap, cfg.map), timeoutSeconds: cfg.timeout,
          maxDeleteShare: cfg.maxDeleteShare ?? hs.maxDeleteShare, maxRecordedErrors: hs.maxRecordedErrors, keepRuns: hs.keepRuns,
        },
      });
    }
  }

  /** Mark runs cut off by the last stop, start schedules, run-at-start runs and change feeds. */
  async start(): Promise<void> {
    // A follower starting next to a live leader must not close the leader's runs in flight: the leader marks them.
    const n = this.ctx.leader.isLeader ? await store.interruptRunningRuns(this.ctx.db, this.ctx.clock().toISOString()) : 0;
    if (n) this.ctx.log.warn({ runs: n }, 'host sync runs interrupted by the last stop');
    const switches = await sourceSwitches(this.ctx.db);
    for (const [name, e] of this.entries) {
      e.switched = switches.get(name) ?? null;
      if (!this.enabled(e)) continue;
      this.automate(name, e);
      if (e.cfg.runAtStart && this.ctx.leader.isLeader) void this.trigger(name, 'start');
    }
    this.unwatch = this.ctx.leader.onChange((leading) => this.leadership(leading));
    if (this.ctx.db.dialect !== 'sqlite') {
      // Several nodes: a source switched through another node is switched here too (its schedule and change feed).
      this.refresher = setInterval(() => void this.followSwitches().catch((err: unknown) => this.ctx.log.warn({ err }, 'host sync switches not re-read')), SWITCH_REFRESH_MS);
      this.refresher.unref();
    }
  }

  /** Apply the persisted switches (set through any node) to this node's schedules and change feeds. */
  async followSwitches(): Promise<void> {
    const switches = await sourceSwitches(this.ctx.db);
    for (const [name, e] of this.entries) {
      const was = this.enabled(e);
      e.switched = switches.get(name) ?? null;
      const now = this.enabled(e);
      if (was && !now) this.pause(e);
      else if (!was && now && !this.ctx.shutdown.aborted) this.automate(name, e);
    }
  }

  private pause(e: Entry): void {
    e.schedule?.stop();
    e.schedule = null;
    e.feed?.abort();
    e.feed = null;
  }

  private enabled(e: Entry): boolean {
    return e.cfg.enabled && (e.switched?.enabled ?? true);
  }

  /** Schedule and change feed of an enabled source (the feed on the leader only: one run per change). */
  private automate(name: string, e: Entry): void {
    e.schedule = startSchedule(e.cfg, () => this.trigger(name, 'schedule'), this.ctx.log.child({ source: name }), fireGate(this.ctx, `hostsync:${name}`));
    if (this.ctx.leader.isLeader) this.startFeed(name, e);
  }

  private startFeed(name: string, e: Entry): void {
    if (!e.job.source.follow || e.feed) return;
    e.feed = new AbortController();
    this.following.push(this.follow(name, e, e.feed.signal));
  }

  /** Leadership gained: change feeds of enabled sources start here; lost: they stop (the new leader's take over). */
  private leadership(leading: boolean): void {
    for (const [name, e] of this.entries) {
      if (leading && this.enabled(e) && !this.ctx.shutdown.aborted) this.startFeed(name, e);
      if (!leading) { e.feed?.abort(); e.feed = null; }
    }
  }

  /**
   * Enable / disable a source at run time (persisted). Disabled: no schedule, no change feed, no run at start; a run
   * in progress finishes; "run now" stays allowed (an operator's explicit act, as for ES tasks). A source whose
   * configuration says `enabled: false` cannot be enabled here (409): the configuration is the final word.
   */
  async setEnabled(name: string, enabled: boolean, by: string | null): Promise<SourceView> {
    const e = this.entries.get(name);
    if (!e) throw new NotFoundError(`no host-sync source named ${JSON.stringify(name)}; configured: ${this.names().join(', ') || '(none)'}`);
    if (!e.cfg.enabled) throw new ConflictError(`host-sync source ${name} is disabled in the configuration (hostSync.sources.${name}.enabled); change it there`);
    const now = this.ctx.clock().toISOString();
    await setSourceSwitch(this.ctx.db, name, enabled, now, by);
    const was = this.enabled(e);
    e.switched = { enabled, updatedAt: now, updatedBy: by };
    if (was && !enabled) {
      this.pause(e);
    } else if (!was && enabled && !this.ctx.shutdown.aborted) {
      this.automate(name, e);
    }
    this.ctx.log.info({ source: name, enabled, by }, 'host sync source switched');
    return (await this.views()).find((v) => v.name === name)!;
  }

  async stop(): Promise<void> {
    if (this.refresher) clearInterval(this.refresher);
    this.unwatch?.();
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
      const on = this.enabled(e);
      out.push({
        // A disabled source has no schedule (nothing will run it), whatever its interval or cron says.
        name, type: e.cfg.type, enabled: on,
        disabledBy: on ? null : !e.cfg.enabled ? 'config' : 'api', switchedAt: e.switched?.updatedAt ?? null, switchedBy: e.switched?.updatedBy ?? null,
        schedule: !on ? null : e.schedule?.describe() ?? (e.cfg.interval ? `every ${e.cfg.interval} s` : e.cfg.cron ? `cron ${e.cfg.cron}` : null),
        nextRunAt: on ? e.schedule?.nextRunAt()?.toISOString() ?? null : null, watching: !!e.job.source.follow && on && e.feed !== null, // followers do not watch
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

  private follow(name: string, e: Entry, own: AbortSignal): Promise<void> {
    const { db, clock } = this.ctx;
    return e.job.source.follow!({
      signal: AbortSignal.any([this.feeds.signal, this.ctx.shutdown, own]),
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

// Upstream CMDB sync: on a schedule, trigger a sync at a head-office CMDB (POST a JSON body such as {"model": "host"})
// and/or push this inventory there. Each attempt is recorded; a failure is simply retried at the next tick.
import { hostname } from 'node:os';
import type { z } from 'zod';
import type { AppContext } from '../context.js';
import * as store from '../db/host-sync.js';
import { listHosts } from '../db/hosts.js';
import { ConflictError } from '../errors.js';
import { ensureOk, requestJson } from '../cmdb/http-json.js';
import type { upstreamSchema } from './config-schema.js';
import { startSchedule, type Schedule } from './scheduler.js';
import { fireGate } from '../cluster/schedule-gate.js';

type UpstreamConfig = z.infer<typeof upstreamSchema>;

export class UpstreamSync {
  private running: Promise<store.UpstreamRunView> | null = null;
  private schedule: Schedule | null = null;

  constructor(private readonly ctx: AppContext, private readonly cfg: UpstreamConfig) {}

  start(): void {
    this.schedule = startSchedule(this.cfg, async () => { if (!this.running) await this.run('schedule'); }, this.ctx.log.child({ upstream: true }), fireGate(this.ctx, 'hostsync-upstream'));
  }

  async stop(): Promise<void> {
    this.schedule?.stop();
    await this.running?.catch(() => undefined);
  }

  describe(): { schedule: string | null; nextRunAt: string | null; url: string | null; pushUrl: string | null; running: boolean } {
    return { schedule: this.schedule?.describe() ?? null, nextRunAt: this.schedule?.nextRunAt()?.toISOString() ?? null, url: this.cfg.url ?? null, pushUrl: this.cfg.pushUrl ?? null, running: !!this.running };
  }

  /** One attempt (never overlapping); resolves with its record. */
  run(trigger: string): Promise<store.UpstreamRunView> {
    if (this.running) throw new ConflictError('upstream sync is already running');
    this.running = this.attempt(trigger).finally(() => { this.running = null; });
    return this.running;
  }

  private async attempt(trigger: string): Promise<store.UpstreamRunView> {
    const { db, clock, log } = this.ctx;
    const t0 = Date.now();
    const id = await store.insertUpstreamRun(db, trigger, clock().toISOString());
    const headers: Record<string, string> = { ...this.cfg.headers };
    if (this.cfg.authValue) headers[this.cfg.authHeader] = this.cfg.authValue;
    const result = { status: 'succeeded', triggered: null as boolean | null, pushedHosts: null as number | null, httpStatus: null as string | null, error: null as string | null };
    const statuses: string[] = [];
    try {
      if (this.cfg.pushUrl) {
        const hosts = (await listHosts(db)).map((h) => ({ ip: h.ip, hostname: h.hostname, env: h.env, apps: h.apps, port: h.port, user: h.user, labels: h.labels, source: h.source, updatedAt: h.updatedAt }));
        const res = await requestJson(this.cfg.pushUrl, { method: 'POST', headers, body: { site: this.cfg.site ?? hostname(), generatedAt: clock().toISOString(), count: hosts.length, hosts }, signal: this.ctx.shutdown, timeoutMs: this.cfg.timeout * 1000, what: 'upstream inventory push' });
        statuses.push(String(res.status));
        ensureOk(res, 'upstream inventory push');
        result.pushedHosts = hosts.length;
      }
      if (this.cfg.url) {
        const res = await requestJson(this.cfg.url, { method: 'POST', headers, body: this.cfg.body, signal: this.ctx.shutdown, timeoutMs: this.cfg.timeout * 1000, what: 'upstream sync trigger' });
        statuses.push(String(res.status));
        ensureOk(res, 'upstream sync trigger');
        result.triggered = true;
      }
    } catch (err) {
      result.status = 'failed';
      result.error = (err as Error).message;
      if (this.cfg.url && result.triggered === null) result.triggered = false;
      log.warn({ err: result.error }, 'upstream CMDB sync failed; retried at the next run');
    }
    result.httpStatus = statuses.join(',') || null;
    await store.finishUpstreamRun(db, id, result, clock().toISOString(), Date.now() - t0);
    return (await store.listUpstreamRuns(db, 1, 0))[0]!;
  }
}

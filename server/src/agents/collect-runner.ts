// SSH collection runs: resolve the hosts, record a run with a row per host, collect at most N hosts at once
// (server-wide), store each report, and close the run as succeeded | partial | failed. Like a deployment.
import type { Logger } from 'pino';
import type { CmdbProvider, TargetHost } from '../cmdb/provider.js';
import type { Db } from '../db/connection.js';
import * as rec from '../db/agents.js';
import { getHostByIp, listHosts } from '../db/hosts.js';
import { AppError, ValidationError } from '../errors.js';
import type { SshConnections } from '../ssh/connections.js';
import { Semaphore } from '../util/semaphore.js';
import type { AgentsConfig } from './config-schema.js';
import type { IngestOptions, IngestResult } from './ingest.js';
import type { AgentReport } from './report-schema.js';
import { collectOverSsh } from './ssh-collect.js';

export interface CollectRequest extends rec.CollectRequestRecord { trigger: rec.RunTrigger; actor?: string | null }

export interface CollectRunnerDeps {
  db: Db;
  log: Logger;
  clock: () => Date;
  ssh: SshConnections;
  cmdb: CmdbProvider;
  agents: AgentsConfig;
  script: () => Promise<string>;
  ingest: (report: AgentReport, o: IngestOptions) => Promise<IngestResult>;
  onHostDone?: (status: rec.RunHostStatus) => void;
}

export class CollectRunner {
  private readonly slots: Semaphore;
  private readonly running = new Map<number, Promise<void>>();
  private readonly abort = new AbortController();

  constructor(private readonly d: CollectRunnerDeps) {
    this.slots = new Semaphore(d.agents.collect.concurrency);
  }

  /** Host collections in progress right now (for tests of the cap). */
  get active(): number { return this.slots.running; }
  get activeRuns(): number[] { return [...this.running.keys()]; }

  private now(): string { return this.d.clock().toISOString(); }

  /** Close runs a dead server left open. */
  async recover(): Promise<void> {
    const ids = await this.d.db.tx((q) => rec.interruptOpenRuns(q, this.now()));
    if (ids.length) this.d.log.warn({ runs: ids }, 'agents: collection runs interrupted by a restart closed');
  }

  /** The SSH targets of a request: IPs (with the inventory's port/user when known), or the hosts of env/app. */
  private async targets(req: rec.CollectRequestRecord, signal: AbortSignal): Promise<TargetHost[]> {
    let out: TargetHost[];
    if (req.ips) {
      out = [];
      for (const ip of new Set(req.ips)) {
        const h = await getHostByIp(this.d.db, ip);
        out.push(h ? { ip, hostname: h.hostname, port: h.port, user: h.user } : { ip });
      }
    } else if (req.env && req.app) {
      // The deploy path's view of env/app (the configured CMDB provider).
      out = await this.d.cmdb.resolveHosts({ env: req.env, app: req.app }, signal);
    } else {
      out = (await listHosts(this.d.db, { env: req.env, app: req.app })).map((h) => ({ ip: h.ip, hostname: h.hostname, port: h.port, user: h.user }));
    }
    if (out.length > this.d.agents.collect.maxHosts) {
      throw new ValidationError(`the request covers ${out.length} hosts, more than agents.collect.maxHosts (${this.d.agents.collect.maxHosts})`);
    }
    return out;
  }

  /** Record a run and start it in the background; returns its id. */
  async start(req: CollectRequest): Promise<number> {
    if (this.abort.signal.aborted) throw new AppError('shutting_down', 503, 'server is shutting down, not starting collections');
    const record: rec.CollectRequestRecord = { ips: req.ips, env: req.env, app: req.app, register: req.register };
    const targets = await this.targets(record, this.abort.signal);
    const id = await this.d.db.tx((q) => rec.insertRun(q, { trigger: req.trigger, actor: req.actor ?? null, request: record, ips: targets.map((t) => t.ip) }, this.now()));
    if (targets.length === 0) return id;
    const p = this.execute(id, targets, record).catch((err) => this.d.log.error({ err, runId: id }, 'agents: collection run failed'));
    const done = p.finally(() => this.running.delete(id));
    this.running.set(id, done);
    return id;
  }

  /** Resolves when the run has finished. */
  async wait(id: number): Promise<void> {
    await this.running.get(id);
  }

  private async execute(runId: number, targets: TargetHost[], req: rec.CollectRequestRecord): Promise<void> {
    const log = this.d.log.child({ agentRunId: runId });
    const rows = await rec.runHostIds(this.d.db, runId);
    const script = await this.d.script();
    const byIp = new Map(targets.map((t) => [t.ip, t]));
    // A host found through env/app but new to the built-in inventory (a remote CMDB) is added under that env/app.
    const register = req.register ?? (req.env ? { env: req.env, apps: req.app ? [req.app] : [] } : undefined);
    const results = await Promise.all(rows.map((row) => this.collectOne(row.id, byIp.get(row.ip)!, script, register, log)));
    const ok = results.filter((s) => s === 'succeeded').length;
    const status: rec.RunStatus = ok === results.length ? 'succeeded' : ok > 0 ? 'partial' : 'failed';
    await rec.finishRun(this.d.db, runId, status, null, this.now());
    log.info({ status, hosts: results.length, succeeded: ok }, 'agents: collection run finished');
  }

  private async collectOne(rowId: number, target: TargetHost, script: string, register: rec.CollectRequestRecord['register'], runLog: Logger): Promise<rec.RunHostStatus> {
    const log = runLog.child({ host: target.ip });
    const signal = this.abort.signal;
    const finish = async (r: rec.RunHostResult) => {
      await rec.finishRunHost(this.d.db, rowId, r, this.now());
      this.d.onHostDone?.(r.status);
      return r.status;
    };
    try {
      return await this.slots.run(async () => {
        await rec.startRunHost(this.d.db, rowId, this.now());
        const out = await collectOverSsh({
          ssh: this.d.ssh, target, script, timeoutSeconds: this.d.agents.collect.hostTimeout,
          maxReportBytes: this.d.agents.maxReportBytes, signal, log,
        });
        if (!out.ok) {
          log.warn({ kind: out.kind, exitCode: out.exitCode }, 'agents: collection failed');
          return finish({ status: out.aborted ? 'aborted' : 'failed', kind: out.kind, reason: out.reason, exitCode: out.exitCode, stderrTail: out.stderrTail, durationMs: out.durationMs });
        }
        const base = { exitCode: 0, stderrTail: out.stderrTail, identity: out.report.identity?.id ?? null, durationMs: out.durationMs };
        try {
          const r = await this.d.ingest(out.report, { ip: target.ip, via: 'ssh', register });
          return finish({ ...base, status: 'succeeded', hostId: r.hostId, matched: r.matched, pluginErrors: r.pluginErrors });
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          log.warn({ code: err.code }, 'agents: report not stored');
          return finish({ ...base, status: 'failed', kind: err.code, reason: err.message });
        }
      }, signal);
    } catch (err) {
      if (signal.aborted) return finish({ status: 'aborted', kind: 'aborted', reason: 'aborted: the server is shutting down', durationMs: 0 });
      log.error({ err }, 'agents: collection error');
      return finish({ status: 'error', kind: 'internal', reason: 'internal error (see the server log)', durationMs: 0 });
    }
  }

  /** Abort running collections (their ssh processes are killed) and wait for the runs to be recorded. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('shutting down'));
    await Promise.allSettled([...this.running.values()]);
  }
}

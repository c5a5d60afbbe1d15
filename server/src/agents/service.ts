// The agents service of one server: report intake (serialised), the SSH collection runner, the collector script, metrics.
import { Counter } from 'prom-client';
import type { AppContext } from '../context.js';
import { KeyedLock } from '../util/semaphore.js';
import { buildCollectorScript } from './collector-script.js';
import { CollectRunner } from './collect-runner.js';
import { ingestReport, type IngestOptions, type IngestResult } from './ingest.js';
import type { AgentReport } from './report-schema.js';

export class AgentsService {
  readonly runner: CollectRunner;
  private readonly lock = new KeyedLock();
  private scriptText: Promise<string> | null = null;
  readonly reports: Counter<'result'>;
  readonly collections: Counter<'status'>;

  constructor(private readonly ctx: AppContext) {
    const registers = [ctx.metrics.registry];
    this.reports = new Counter({ name: 'gitfleet_agent_reports_total', help: 'Agent reports received over HTTP, by result', labelNames: ['result'], registers });
    this.collections = new Counter({ name: 'gitfleet_agent_collections_total', help: 'Host collections over SSH finished, by status', labelNames: ['status'], registers });
    this.runner = new CollectRunner({
      db: ctx.db, log: ctx.log.child({ module: 'agents' }), clock: ctx.clock, ssh: ctx.ssh, cmdb: ctx.cmdb, agents: ctx.config.agents,
      script: () => this.script(), ingest: (r, o) => this.ingest(r, o), onHostDone: (s) => this.collections.inc({ status: s }),
    });
  }

  /** The bundled collector, read once from agents/collector. */
  script(): Promise<string> {
    this.scriptText ??= buildCollectorScript().catch((err) => {
      this.scriptText = null;
      throw err;
    });
    return this.scriptText;
  }

  /** Store a report; one at a time, so two reports of one new host never both add it. */
  ingest(report: AgentReport, o: IngestOptions): Promise<IngestResult> {
    const { db, events, clock, log, config } = this.ctx;
    return this.lock.run('ingest', () => ingestReport({ db, events, clock, log, agents: config.agents }, report, o));
  }
}

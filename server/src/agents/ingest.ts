// A validated report into the inventory: match the host (identity, then IP), add it if new, store merged facts.
import type { Logger } from 'pino';
import { AppError, ConflictError, NotFoundError } from '../errors.js';
import type { Db } from '../db/connection.js';
import * as hosts from '../db/hosts.js';
import { setHostFacts } from '../db/agents.js';
import type { InventoryEvents } from '../inventory/events.js';
import { createHost, isSourceOwned, updateHost } from '../inventory/hosts-service.js';
import type { AgentsConfig } from './config-schema.js';
import { inventoryHostname, mergeFacts, planMatch, type FactsVia } from './facts.js';
import { failedPlugins, type AgentReport } from './report-schema.js';
import { isUniqueViolation } from '../db/errors.js';

export interface IngestDeps { db: Db; events: InventoryEvents; clock: () => Date; log: Logger; agents: AgentsConfig }

export interface IngestOptions {
  /** The address to match and to add a new host with (SSH: the one we connected to; agent: reported or the peer's). */
  ip: string;
  via: FactsVia;
  /** Env/apps for a new host when the report carries none (SSH collection's `register`). */
  register?: { env: string; apps: string[] };
}

export interface IngestResult {
  hostId: number;
  matched: 'identity' | 'ip' | 'new';
  identity: string | null;
  hostname: string | null;
  hostnameChanged: boolean;
  pluginErrors: string[];
}

/** A report refused for what it says (unknown host, identity conflict): nothing stored. */
export class ReportRejectedError extends AppError {
  constructor(readonly reason: 'unknown_host' | 'identity_conflict', message: string) {
    super(reason, reason === 'unknown_host' ? 404 : 409, message);
  }
}

/** Store one report. Callers serialise calls (one at a time), so matching and writing see a stable inventory. */
export async function ingestReport(deps: IngestDeps, report: AgentReport, o: IngestOptions): Promise<IngestResult> {
  const identity = report.identity?.id ?? null;
  const byIdentity = identity ? await hosts.getHostByIdentity(deps.db, identity) : undefined;
  const byIp = await hosts.getHostByIp(deps.db, o.ip);
  const plan = planMatch({ identity, ip: o.ip, byIdentity, byIp, autoRegister: deps.agents.autoRegister, identityConflict: deps.agents.identityConflict });
  if (plan.action === 'reject') throw new ReportRejectedError(plan.reason, plan.message);

  const hostname = inventoryHostname(report);
  const now = deps.clock().toISOString();
  let hostId: number;
  let hostnameChanged = false;
  if (plan.action === 'create') {
    const env = report.inventory?.env ?? o.register?.env ?? deps.agents.defaultEnv;
    const apps = report.inventory?.apps.length ? report.inventory.apps : o.register?.apps ?? [];
    // Source 'agent': host sync sources never delete it. createHost emits host.added (new-host converge pushes its config).
    const host = await createHost(deps, { ip: o.ip, hostname, env, apps: [...new Set(apps)].sort() }, { source: 'agent', identity }, 'agent');
    hostId = host.id;
    deps.log.info({ hostId, ip: o.ip, env, apps, identity }, 'agent: new host added to the inventory');
  } else {
    hostId = plan.hostId;
    const current = await hosts.getHost(deps.db, hostId, false);
    if (!current) throw new NotFoundError(`host ${hostId} vanished while storing its report`);
    if (plan.setIdentity && current.identity && current.identity !== plan.setIdentity) {
      deps.log.warn({ hostId, ip: o.ip, previous: current.identity, identity: plan.setIdentity }, 'agent: host re-pinned to a new identity');
    }
    if (hostname && hostname !== current.hostname && isSourceOwned(current)) {
      // A host-sync source is the truth for its hosts' inventory fields: the reported name stays in facts.hostname.
      deps.log.info({ hostId, source: current.source, inventory: current.hostname, reported: hostname }, 'agent: reported hostname differs from the source\'s; the source\'s is kept');
    } else if (hostname && hostname !== current.hostname) {
      hostnameChanged = true;
      await updateHost(deps, hostId, { ip: current.ip, hostname, env: current.env, apps: current.apps, port: current.port, user: current.user, labels: current.labels }, 'agent');
      deps.log.info({ hostId, previous: current.hostname, hostname }, 'agent: hostname changed');
    }
  }
  const previous = (await hosts.getHost(deps.db, hostId, true))?.facts ?? null;
  const facts = mergeFacts(previous, report, o.via, now);
  try {
    await deps.db.tx((q) => setHostFacts(q, hostId, { facts, at: now, via: o.via, identity: plan.action === 'update' ? plan.setIdentity : null }));
  } catch (err) {
    if (isUniqueViolation(err, 'hosts', 'identity')) throw new ConflictError(`identity ${identity} is already pinned to another host`);
    throw err;
  }
  return { hostId, matched: plan.action === 'create' ? 'new' : plan.matched, identity, hostname, hostnameChanged, pluginErrors: failedPlugins(report) };
}

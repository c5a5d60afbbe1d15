// PURE: how a report becomes stored facts (merged with the previous ones), and how it is matched to an inventory host.
import { HOSTNAME_RE } from '../util/validate.js';
import type { AgentReport, PluginOutcome } from './report-schema.js';

export type FactsVia = 'agent' | 'ssh';

/** What hosts.facts holds: the report's metadata, each plugin's last good data at top level, and current plugin errors. */
export interface StoredFacts {
  via: FactsVia;
  collector: { version: string; via: string };
  collectedAt: string;
  receivedAt: string;
  /** Current hostname, beside the one pinned with the identity. */
  hostname: string;
  identity: { id: string; pinnedHostname: string | null; pinnedAt: string | null } | null;
  identityError?: string;
  /** The address the host reported (may differ from the inventory's: NAT, several interfaces). */
  ip: string | null;
  /** Plugins that failed this time: their message, and since when; their previous data (if any) is kept. */
  errors: Record<string, { message: string; since: string }>;
  [plugin: string]: unknown;
}

/** Merge a report onto the previous facts: new data replaces old per plugin; a failed plugin keeps its last good data. */
export function mergeFacts(previous: Record<string, unknown> | null | undefined, report: AgentReport, via: FactsVia, receivedAt: string): StoredFacts {
  const prevErrors = (previous?.errors && typeof previous.errors === 'object' ? previous.errors : {}) as StoredFacts['errors'];
  const facts: StoredFacts = {
    via,
    collector: report.collector,
    collectedAt: report.collectedAt,
    receivedAt,
    hostname: report.hostname,
    identity: report.identity ? { id: report.identity.id, pinnedHostname: report.identity.pinnedHostname, pinnedAt: report.identity.pinnedAt } : null,
    ip: report.ip,
    errors: {},
  };
  if (report.identityError) facts.identityError = report.identityError;
  for (const [name, outcome] of Object.entries(report.plugins as Record<string, PluginOutcome>)) {
    if (outcome.status === 'ok') {
      facts[name] = outcome.data;
    } else {
      if (previous && name in previous) facts[name] = previous[name];
      facts.errors[name] = { message: outcome.error, since: prevErrors[name]?.since ?? receivedAt };
    }
  }
  // Plugins this report did not run at all (e.g. --plugins) keep their previous data.
  if (previous) {
    for (const [k, v] of Object.entries(previous)) if (!(k in facts) && !RESERVED.has(k)) facts[k] = v;
  }
  return facts;
}

const RESERVED = new Set(['via', 'collector', 'collectedAt', 'receivedAt', 'hostname', 'identity', 'identityError', 'ip', 'errors']);

/** The reported hostname if the inventory can hold it, else null (then the inventory keeps its own). */
export function inventoryHostname(report: AgentReport): string | null {
  return HOSTNAME_RE.test(report.hostname) ? report.hostname : null;
}

export interface MatchCandidate { id: number; ip: string; identity: string | null }

export type MatchPlan =
  | { action: 'update'; hostId: number; matched: 'identity' | 'ip'; setIdentity: string | null }
  | { action: 'create' }
  | { action: 'reject'; reason: 'unknown_host' | 'identity_conflict'; message: string };

/**
 * Identity first, then IP. The inventory's IP is never changed by a report: a host that reports another address
 * (NAT, a second interface) keeps its inventory address, and the reported one is shown in its facts.
 */
export function planMatch(o: {
  identity: string | null;
  ip: string;
  byIdentity?: MatchCandidate;
  byIp?: MatchCandidate;
  autoRegister: boolean;
  identityConflict: 'reject' | 'replace';
}): MatchPlan {
  if (o.identity && o.byIdentity) return { action: 'update', hostId: o.byIdentity.id, matched: 'identity', setIdentity: null };
  if (o.byIp) {
    if (!o.identity || o.byIp.identity === o.identity) return { action: 'update', hostId: o.byIp.id, matched: 'ip', setIdentity: null };
    if (o.byIp.identity === null) return { action: 'update', hostId: o.byIp.id, matched: 'ip', setIdentity: o.identity };
    if (o.identityConflict === 'replace') return { action: 'update', hostId: o.byIp.id, matched: 'ip', setIdentity: o.identity };
    return {
      action: 'reject', reason: 'identity_conflict',
      message: `host ${o.byIp.id} at ${o.ip} is pinned to identity ${o.byIp.identity}, but this report comes from identity ${o.identity} `
        + '(another machine at that address, or its identity file was removed): clear the host\'s identity or delete it, or set agents.identityConflict: replace',
    };
  }
  if (!o.autoRegister) return { action: 'reject', reason: 'unknown_host', message: `no inventory host has identity ${o.identity ?? '(none)'} or ip ${o.ip}, and agents.autoRegister is off` };
  return { action: 'create' };
}

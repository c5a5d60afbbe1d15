// ctx.audit: one row per state-changing action (API call, webhook push, override…), also logged as a pino line with
// `audit: true` for shipping to a SIEM. Recording never throws: a failed write is logged as an error.
import type { Logger } from 'pino';
import type { Db } from '../db/connection.js';
import * as rows from '../db/audit-log.js';
import { actorName, type Actor } from '../auth/scopes.js';
import { redactParams } from './redact.js';

/** ok: done (2xx/3xx); denied: 401/403; rejected: any other 4xx (bad input, unknown target, conflict, 423); error: 5xx. */
export type AuditOutcome = 'ok' | 'denied' | 'rejected' | 'error';

export interface AuditEvent {
  /** Who: an Actor, or a plain name (recorded with kind "system"). */
  actor: Actor | string;
  /** The caller's address (req.ip), if any. */
  source?: string | null;
  /** Dotted verb, e.g. "sync", "token.create", "window.override". */
  action: string;
  /** What it acted on, in words: "prod/shop", "token ci-deploy", "host 12". */
  target?: string | null;
  /** Parameters as sent; keys matching token|secret|password|key are redacted here. */
  params?: Record<string, unknown>;
  outcome: AuditOutcome;
  /** HTTP status, when the action was a request. */
  status?: number | null;
  /** The error message, or a short result ("deployment 12"). */
  detail?: string | null;
}

export function outcomeOf(status: number): AuditOutcome {
  if (status === 401 || status === 403) return 'denied';
  if (status >= 500) return 'error';
  return status >= 400 ? 'rejected' : 'ok';
}

export class AuditLog {
  constructor(private readonly d: { db: Db; log: Logger; clock: () => Date }) {}

  /** Append one row (and one log line). Resolves once written; never rejects. */
  async record(e: AuditEvent): Promise<void> {
    const actor = typeof e.actor === 'string' ? e.actor : actorName(e.actor);
    const actorKind = typeof e.actor === 'string' ? 'system' : e.actor.kind;
    const row: rows.AuditInsert = {
      at: this.d.clock().toISOString(), actor, actorKind, source: e.source ?? null, action: e.action, target: e.target ?? null,
      params: (redactParams(e.params ?? {}) as Record<string, unknown>), outcome: e.outcome, status: e.status ?? null, detail: e.detail?.slice(0, 1000) ?? null,
    };
    // Field names distinct from pino's req/res bindings; the redaction paths do not touch them (already redacted).
    this.d.log.info({ audit: true, at: row.at, actor, actorKind, source: row.source, action: row.action, target: row.target, params: row.params, outcome: row.outcome, status: row.status, detail: row.detail }, 'audit');
    try {
      await rows.insertAudit(this.d.db, row);
    } catch (err) {
      this.d.log.error({ err, action: row.action, actor }, 'audit row could not be written');
    }
  }

  query(f: rows.AuditFilter): Promise<rows.AuditRow[]> {
    return rows.queryAudit(this.d.db, f);
  }
}

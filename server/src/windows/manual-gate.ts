// Manual syncs (/sync, POST /api/v1/deployments, /rollback) of units a sync window blocks: 423 naming the window and
// when the unit may sync, unless the caller may override and says why (override=true + reason), which is recorded.
import type { Request } from 'express';
import type { AppContext } from '../context.js';
import { AppError, ValidationError } from '../errors.js';
import type { SyncRequest } from '../deploy/types.js';
import type { Unit } from '../gitops/targets.js';
import type { Blocked } from './service.js';

/** 423 Locked: a sync window blocks the units (details: which windows, until when). */
export class SyncWindowBlockedError extends AppError {
  readonly details: { blocked: Blocked[] };
  constructor(blocked: Blocked[]) {
    super('sync_window', 423, `blocked by a sync window: ${blocked.map((b) => b.message).join('; ')}. To deploy anyway: override=true with a reason`);
    this.details = { blocked };
  }
}

export class OverrideForbiddenError extends AppError {
  constructor(message: string) {
    super('forbidden', 403, message);
  }
}

/**
 * Who may override (http/app.ts: the admin scope). The override itself is in the request's audit row (its
 * override/reason parameters and the windows it passed), so nothing is audited here.
 */
export interface WindowPolicy {
  canOverride(req: Request): boolean;
}

export const defaultWindowPolicy: WindowPolicy = { canOverride: () => true };

export interface OverrideAsk { override: boolean; reason?: string }

/** Parse override/reason (query strings or JSON values); a reason is required with override. */
export function parseOverride(override: unknown, reason: unknown): OverrideAsk {
  const on = override === true || override === 'true';
  if (override !== undefined && !on && override !== false && override !== 'false') throw new ValidationError('override must be true or false', 'override');
  if (reason !== undefined && typeof reason !== 'string') throw new ValidationError('reason must be a string', 'reason');
  const text = typeof reason === 'string' ? reason.trim() : '';
  if (text.length > 500) throw new ValidationError('reason must be at most 500 characters', 'reason');
  if (on && !text) throw new ValidationError('override=true needs a non-empty reason', 'reason');
  return { override: on, ...(text ? { reason: text } : {}) };
}

/**
 * Admit a manual sync: nothing to say (undefined) when no window blocks its units or it is a dry run; the override
 * to store on the deployment when one does and the caller overrides; else a 423 (or 403 without the right).
 */
export function admitManual(ctx: AppContext, policy: WindowPolicy, req: Request, units: Unit[], ask: OverrideAsk, actor: string, dryRun: boolean): SyncRequest['override'] {
  if (dryRun) return undefined;
  const blocked = ctx.windows.blocked(units, { manual: true });
  if (!blocked.length) return undefined;
  if (!ask.override) throw new SyncWindowBlockedError(blocked);
  const windows = [...new Set(blocked.flatMap((b) => b.windows))].sort();
  if (!policy.canOverride(req)) {
    throw new OverrideForbiddenError(`overriding sync window(s) ${windows.map((w) => JSON.stringify(w)).join(', ')} needs the right to override`);
  }
  req.log?.warn({ override: { actor, reason: ask.reason, windows, units: blocked.map((b) => b.unit) } }, 'sync window overridden');
  return { actor, reason: ask.reason!, windows };
}

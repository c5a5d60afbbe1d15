// One audit row per request of a state-changing route, written when the answer is sent (or the client goes away):
// the actor, the source address, the action, the target, the parameters (redacted) and the outcome from the status.
import type { Request, RequestHandler as Handler } from 'express';
import type { AuditLog } from '../../audit/audit-log.js';
import { outcomeOf } from '../../audit/audit-log.js';
import type { Actor, Target } from '../../auth/scopes.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type RequestHandler = Handler<any, any, any, any>;

export const AUDITED = Symbol('gitfleet.audited');
export const isAudited = (fn: unknown): boolean => !!(fn as { [AUDITED]?: boolean } | undefined)?.[AUDITED];

export interface AuditedOptions {
  /** What was acted on, from the request; default: the sync target (env/app) if the route has one, else the path. */
  target?: (req: Request, params: Record<string, string>) => string | null;
}

const describeTarget = (t: Target): string => (t === '*' ? '*/*' : [...new Set(t.map((x) => `${x.env}/${x.app}`))].join(', '));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

/**
 * Must come before the route's requireScope, so that refusals (401/403) are recorded as `denied`. Handlers may set
 * res.locals.auditDetail (a short result, e.g. "deployment 12"), res.locals.auditTarget, res.locals.auditParams, res.locals.auditActor
 * (webhooks: the pusher) or res.locals.auditSkip (nothing happened worth a row, e.g. a ping).
 */
export function audited(audit: AuditLog, action: string | ((req: Request) => string), opts: AuditedOptions = {}): RequestHandler {
  const fn: RequestHandler = (req, res, next) => {
    // Route params and the action are read now: express restores req.params once the route is left.
    const name = typeof action === 'string' ? action : action(req);
    const routeParams = { ...req.params } as Record<string, string>;
    let done = false;
    const write = () => {
      if (done || res.locals.auditSkip) return;
      done = true;
      const actor = (res.locals.auditActor ?? res.locals.actor ?? { kind: 'anonymous', reason: '' }) as Actor;
      const st = res.locals.scopeTarget as Target | undefined;
      const target = (res.locals.auditTarget as string | undefined) ?? opts.target?.(req, routeParams) ?? (st ? describeTarget(st) : req.originalUrl.split('?')[0]!);
      const params = { ...routeParams, ...(isObject(req.query) ? req.query : {}), ...(isObject(req.body) ? req.body : {}), ...(res.locals.auditParams as Record<string, unknown> | undefined) };
      const status = res.statusCode;
      const detail = (res.locals.errorMessage as string | undefined) ?? (res.locals.auditDetail as string | undefined) ?? (res.writableFinished ? null : 'the client went away before the answer');
      void audit.record({ actor, source: req.ip ?? null, action: name, target, params, outcome: outcomeOf(status), status, detail });
    };
    res.once('finish', write);
    res.once('close', write);
    next();
  };
  return Object.assign(fn, { [AUDITED]: true });
}

// The units a sync request reaches, read from the request for requireScope('sync', …): env/app pairs, or '*' when it
// names none (every unit) or names them in a form that cannot be read (fail closed: the handler then answers 400).
import type { Request } from 'express';
import type { Target } from '../auth/scopes.js';
import { isSegment } from '../util/validate.js';

type Pair = { env: string; app: string };

function unitPair(u: unknown): Pair | null {
  const parts = typeof u === 'string' ? u.split('/') : [];
  return parts.length === 3 && parts.every(isSegment) ? { env: parts[1]!, app: parts[2]! } : null;
}

/** { env, app } of a query, params or body object. */
export function envAppTarget(o: unknown): Target {
  const x = (o ?? {}) as { env?: unknown; app?: unknown };
  return isSegment(x.env) && isSegment(x.app) ? [{ env: x.env, app: x.app }] : '*';
}

/** A deployment body: `units` ["mod/env/app", …], or env and app; neither: every unit. */
export function deploymentBodyTarget(req: Request): Target {
  const b = (req.body ?? {}) as { units?: unknown };
  if (b.units !== undefined) {
    if (!Array.isArray(b.units) || b.units.length === 0) return '*';
    const pairs = b.units.map(unitPair);
    return pairs.every((p): p is Pair => p !== null) ? pairs : '*';
  }
  return envAppTarget(req.body);
}

/** A unit named "mod/env/app" in a body field; absent or unreadable: every unit. */
export function unitFieldTarget(field: string) {
  return (req: Request): Target => {
    const p = unitPair((req.body as Record<string, unknown> | undefined)?.[field]);
    return p ? [p] : '*';
  };
}

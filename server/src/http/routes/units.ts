// /api/v1/units: every unit with its last deployed commit and drift state; drift details and checks on demand.
import { Router } from 'express';
import type { AppContext } from '../../context.js';
import { ValidationError } from '../../errors.js';
import * as rec from '../../db/deployments.js';
import { unitDrift } from '../../db/drift.js';
import { failingUnits } from '../../db/unit-failures.js';
import { deployedUnits } from '../../db/units.js';
import { checkUnitDrift, type DriftDeps } from '../../deploy/drift.js';
import { parseUnitKey, unitKey } from '../../gitops/targets.js';
import { requireSegment } from '../../util/validate.js';
import { requireKnownUnit } from '../known-targets.js';
import { requireScope } from '../middleware/auth.js';
import { audited } from '../middleware/audited.js';
import { unitFieldTarget } from '../scope-targets.js';

export const driftDeps = (ctx: AppContext): DriftDeps => ({ ...ctx });

export function createUnitRoutes(ctx: AppContext): Router {
  const r = Router();
  r.get('/units', requireScope('read'), async (_req, res) => {
    const head = ctx.repo.lastKnownHead();
    const inRepo = head ? (await ctx.repo.listUnits(head)).map(unitKey) : [];
    const states = new Map((await deployedUnits(ctx.db)).map((s) => [s.unit, s]));
    const drift = await unitDrift(ctx.db);
    const failing = await failingUnits(ctx.db);
    const keys = [...new Set([...inRepo, ...states.keys()])].sort();
    res.json({
      head,
      items: keys.map((unit) => {
        const rows = drift.filter((d) => d.unit === unit);
        const count = (s: string) => rows.filter((d) => d.state === s).length;
        const st = states.get(unit);
        return {
          unit, inRepo: inRepo.includes(unit), lastCommit: st?.lastCommit ?? null, lastDeployedAt: st?.lastDeployedAt ?? null, deployedHosts: st?.hosts ?? 0,
          upToDate: !!st && st.lastCommit === head,
          // Failing since its first failed run in a row (null: its last run succeeded).
          failing: failing.has(unit) ? (({ unit: _, ...f }) => f)(failing.get(unit)!) : null,
          drift: rows.length ? { in_sync: count('in_sync'), drifted: count('drifted'), unreachable: count('unreachable'), error: count('error'), checkedAt: rows.map((d) => d.checkedAt).sort().at(-1) } : null,
        };
      }),
    });
  });
  // Which commit is on which host of a unit, and since when.
  r.get('/units/:mod/:env/:app/hosts', requireScope('read'), async (req, res) => {
    const unit = ['mod', 'env', 'app'].map((k) => requireSegment(req.params[k as 'mod'], k)).join('/');
    await requireKnownUnit(ctx, unit);
    const state = await rec.getUnitState(ctx.db, unit);
    res.json({ unit, lastCommit: state?.lastCommit ?? null, lastDeployedAt: state?.lastDeployedAt ?? null, hosts: await rec.unitHosts(ctx.db, unit) });
  });
  r.get('/units/:mod/:env/:app/drift', requireScope('read'), async (req, res) => {
    const unit = ['mod', 'env', 'app'].map((k) => requireSegment(req.params[k as 'mod'], k)).join('/');
    await requireKnownUnit(ctx, unit);
    res.json({ unit, hosts: await unitDrift(ctx.db, unit) });
  });
  // Check now: one unit ({unit}) or every deployed unit; waits for the result.
  r.post('/drift/check', audited(ctx.audit, 'drift.check'), requireScope('sync', unitFieldTarget('unit')), async (req, res) => {
    const body = (req.body ?? {}) as { unit?: unknown };
    let units: string[];
    if (body.unit !== undefined) {
      if (typeof body.unit !== 'string' || !parseUnitKey(body.unit)) throw new ValidationError('unit must be "<mod>/<env>/<app>"', 'unit');
      await requireKnownUnit(ctx, body.unit);
      units = [body.unit];
    } else {
      units = (await deployedUnits(ctx.db)).map((s) => s.unit);
    }
    const results = [];
    for (const u of units) results.push(await checkUnitDrift(driftDeps(ctx), u, ctx.shutdown));
    res.json({ results });
  });
  return r;
}

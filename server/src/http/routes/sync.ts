// GET /sync?env&app&mod: the fssync-compatible manual resync (full sync of the unit's files).
import { Router } from 'express';
import type { AppContext } from '../../context.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { selectUnits, unitKey } from '../../gitops/targets.js';
import { requireIp, requireSegment } from '../../util/validate.js';
import { unitResults } from '../../db/deployments.js';
import { hostPushesWithDiffs } from '../../db/host-diffs.js';
import { requireDeployTargets } from '../known-targets.js';
import { admitManual, defaultWindowPolicy, parseOverride, type WindowPolicy } from '../../windows/manual-gate.js';
import { deployActor, requireScope } from '../middleware/auth.js';
import { audited } from '../middleware/audited.js';
import { envAppTarget } from '../scope-targets.js';

/** policy: who may override a sync window, and where that is audited (README "Sync windows"). */
export function createSyncRoutes(ctx: AppContext, policy: WindowPolicy = defaultWindowPolicy): Router {
  const r = Router();
  const action = (req: { query: Record<string, unknown> }) => (req.query.dryRun === 'true' ? 'dry-run' : 'sync');
  r.get('/sync', audited(ctx.audit, action), requireScope('sync', (req) => envAppTarget(req.query)), async (req, res) => {
    const q = req.query;
    const env = requireSegment(q.env, 'env');
    const app = requireSegment(q.app, 'app');
    const mod = q.mod === undefined || q.mod === '' ? undefined : requireSegment(q.mod, 'mod');
    if (q.wait !== undefined && q.wait !== 'true' && q.wait !== 'false') throw new ValidationError('wait must be true or false', 'wait');
    if (q.dryRun !== undefined && q.dryRun !== 'true' && q.dryRun !== 'false') throw new ValidationError('dryRun must be true or false', 'dryRun');
    const dryRun = q.dryRun === 'true';
    if (q.force !== undefined && q.force !== 'true' && q.force !== 'false') throw new ValidationError('force must be true or false', 'force');
    const force = q.force === 'true';
    const ask = parseOverride(q.override, q.reason);
    const hosts = q.host === undefined ? undefined : (Array.isArray(q.host) ? q.host : [q.host]).map((h: unknown) => requireIp(h, 'host'));
    const head = await ctx.repo.fetch();
    const units = selectUnits(await ctx.repo.listUnits(head), { env, app, mod });
    if (units.length === 0) throw new NotFoundError(`no unit ${mod ?? '*'}/${env}/${app} in the repo at ${head.slice(0, 12)}`);
    // An IP that is not a host of these units is a 404 naming it, as on the deployments API.
    if (hosts) await requireDeployTargets(ctx, { kind: 'sync', trigger: 'manual', units: units.map(unitKey), hosts }, head);
    const actor = deployActor(res, req.header('x-actor'));
    // A sync window blocking these units: 423, or the caller's override (stored on the deployment, and in its audit row).
    const override = admitManual(ctx, policy, req, units, ask, actor, dryRun);
    if (override) res.locals.auditParams = { overrideWindows: override.windows };
    const { id, coalesced } = await ctx.deployer.submit({ kind: 'sync', trigger: 'manual', actor, units: units.map(unitKey), ...(dryRun ? { dryRun } : {}), ...(force ? { force } : {}), ...(hosts ? { hosts } : {}), ...(override ? { override } : {}) });
    res.locals.auditDetail = `deployment ${id}`;
    if (q.wait === 'false') {
      res.status(202).location(`/api/v1/deployments/${id}`).json({ id, coalesced, units: units.map(unitKey) });
      return;
    }
    const d = await ctx.deployer.wait(id);
    res.status(200).json({ ...d, unitResults: await unitResults(ctx.db, id), hosts: await hostPushesWithDiffs(ctx.db, id) });
  });
  return r;
}

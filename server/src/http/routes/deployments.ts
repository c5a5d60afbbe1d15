// /api/v1/deployments and the per-unit view of what is deployed where.
import { Router } from 'express';
import type { AppContext } from '../../context.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import * as rec from '../../db/deployments.js';
import { hostPushesWithDiffs } from '../../db/host-diffs.js';
import { requireIp, requireSegment } from '../../util/validate.js';
import type { SyncRequest } from '../../deploy/types.js';
import type { Request, Response } from 'express';
import { requireDeployTargets } from '../known-targets.js';
import { paging } from '../paging.js';
import { selectUnits, parseUnitKey, type Unit, unitKey } from '../../gitops/targets.js';
import { admitManual, defaultWindowPolicy, parseOverride, type WindowPolicy } from '../../windows/manual-gate.js';
import { deployActor, requireScope } from '../middleware/auth.js';
import { audited } from '../middleware/audited.js';
import { deploymentBodyTarget } from '../scope-targets.js';
import type { Target } from '../../auth/scopes.js';

const STATUSES = new Set(['queued', 'running', 'succeeded', 'partial', 'failed', 'interrupted', 'held']);

/** policy: who may override a sync window, and where that is audited (README "Sync windows"). */
export function createDeploymentRoutes(ctx: AppContext, policy: WindowPolicy = defaultWindowPolicy): Router {
  const r = Router();
  r.get('/deployments', requireScope('read'), async (req, res) => {
    const q = req.query;
    const { limit, offset } = paging(q, 500, 50);
    if (q.status !== undefined && !STATUSES.has(String(q.status))) throw new ValidationError(`status must be one of ${[...STATUSES].join(', ')}`, 'status');
    let unit: string | undefined;
    if (q.unit !== undefined) {
      const parts = String(q.unit).split('/');
      if (parts.length !== 3) throw new ValidationError('unit must be <mod>/<env>/<app>', 'unit');
      unit = parts.map((p, i) => requireSegment(p, ['mod', 'env', 'app'][i]!)).join('/');
    }
    res.json({ ...(await rec.listDeployments(ctx.db, { status: q.status as string | undefined, unit, limit, offset })), limit, offset });
  });
  r.get('/deployments/:id', requireScope('read'), async (req, res) => {
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new ValidationError('deployment id must be a positive integer', 'id');
    const d = await rec.getDeployment(ctx.db, id);
    if (!d) throw new NotFoundError(`deployment ${id} not found`);
    res.json({ ...d, unitResults: await rec.unitResults(ctx.db, id), hosts: await hostPushesWithDiffs(ctx.db, id) });
  });
  // Create a deployment: full sync of units (or env/app[/mod]), optionally at an earlier commit (rollback), on some hosts, or dry.
  const dry = (action: string) => (req: { body?: unknown }) => ((req.body as { dryRun?: unknown } | undefined)?.dryRun === true ? 'dry-run' : action);
  r.post('/deployments', audited(ctx.audit, dry('deploy')), requireScope('sync', deploymentBodyTarget), async (req, res) => {
    const sync = await parseSyncBody(ctx, req.body, 'api');
    sync.actor = deployActor(res, actorOf(req.body));
    await respond(ctx, res, sync, req.body?.wait === true, { policy, req });
  });
  r.post('/rollback', audited(ctx.audit, 'rollback'), requireScope('sync', deploymentBodyTarget), async (req, res) => {
    if (typeof req.body?.commit !== 'string') throw new ValidationError('commit is required for a rollback', 'commit');
    const sync = await parseSyncBody(ctx, req.body, 'rollback');
    sync.actor = deployActor(res, actorOf(req.body));
    await respond(ctx, res, sync, req.body?.wait === true, { policy, req });
  });
  // Release units the deletion circuit breaker held: the same commit, removals allowed.
  // Needs sync on every unit the deployment holds (none held: the handler's 404).
  const heldTarget = async (req: Request): Promise<Target> => {
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id < 1) return [];
    return (await rec.unitResults(ctx.db, id)).filter((u) => u.status === 'held').map((u) => ({ env: u.unit.split('/')[1]!, app: u.unit.split('/')[2]! }));
  };
  r.post('/deployments/:id/confirm', audited(ctx.audit, 'deployment.confirm'), requireScope('sync', heldTarget), async (req, res) => {
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new ValidationError('deployment id must be a positive integer', 'id');
    const held = (await rec.unitResults(ctx.db, id)).filter((u) => u.status === 'held');
    if (!held.length) throw new NotFoundError(`deployment ${id} has no unit held for confirmation`);
    const commits = [...new Set(held.map((u) => u.commit))];
    const ids: number[] = [];
    for (const commit of commits) {
      const units = held.filter((u) => u.commit === commit).map((u) => u.unit);
      const { id: newId } = await ctx.deployer.submit({ kind: 'sync', trigger: 'api', actor: deployActor(res, actorOf(req.body) ?? `confirm of #${id}`), units, commit: commit ?? undefined, confirmDeletions: true });
      ids.push(newId);
    }
    res.locals.auditDetail = `deployment ${ids.join(', ')}`;
    res.status(202).json({ queued: ids });
  });
  return r;
}

const actorOf = (body: unknown): string | undefined => {
  const a = (body as { actor?: unknown } | undefined)?.actor;
  return typeof a === 'string' && a.length > 0 ? a.slice(0, 100) : undefined;
};

/** Validate a deployment request body into a SyncRequest. */
export async function parseSyncBody(ctx: AppContext, body: unknown, trigger: SyncRequest['trigger']): Promise<SyncRequest> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('body must be a JSON object');
  const b = body as Record<string, unknown>;
  const allowed = new Set(['units', 'env', 'app', 'mod', 'hosts', 'commit', 'dryRun', 'wait', 'actor', 'override', 'reason']);
  for (const k of Object.keys(b)) if (!allowed.has(k)) throw new ValidationError(`unknown field ${JSON.stringify(k)}`, k);
  const req: SyncRequest = { kind: 'sync', trigger, actor: actorOf(b) ?? 'api' };
  if (b.units !== undefined) {
    if (!Array.isArray(b.units) || b.units.length === 0 || b.units.length > 1000) throw new ValidationError('units must be a non-empty array of "<mod>/<env>/<app>"', 'units');
    req.units = b.units.map((u) => {
      const parts = typeof u === 'string' ? u.split('/') : [];
      if (parts.length !== 3) throw new ValidationError(`unit ${JSON.stringify(u)} must be "<mod>/<env>/<app>"`, 'units');
      return parts.map((p, i) => requireSegment(p, ['mod', 'env', 'app'][i]!)).join('/');
    });
  } else if (b.env !== undefined || b.app !== undefined) {
    req.select = { env: requireSegment(b.env, 'env'), app: requireSegment(b.app, 'app') };
    if (b.mod !== undefined) req.select.mod = requireSegment(b.mod, 'mod');
  } else if (trigger !== 'rollback') {
    throw new ValidationError('give units, or env and app', 'units');
  }
  if (b.hosts !== undefined) {
    if (!Array.isArray(b.hosts) || b.hosts.length === 0) throw new ValidationError('hosts must be a non-empty array of IPs', 'hosts');
    req.hosts = b.hosts.map((h) => requireIp(h, 'hosts'));
  }
  if (b.commit !== undefined) {
    const sha = typeof b.commit === 'string' ? await ctx.repo.resolveCommit(b.commit) : undefined;
    if (!sha) throw new ValidationError(`commit ${JSON.stringify(b.commit)} is not a commit of the config repo`, 'commit');
    req.commit = sha;
  }
  if (b.dryRun !== undefined) {
    if (typeof b.dryRun !== 'boolean') throw new ValidationError('dryRun must be a boolean', 'dryRun');
    if (b.dryRun) req.dryRun = true;
  }
  if (b.wait !== undefined && typeof b.wait !== 'boolean') throw new ValidationError('wait must be a boolean', 'wait');
  return req;
}

async function respond(ctx: AppContext, res: Response, req: SyncRequest, wait: boolean, gate: { policy: WindowPolicy; req: Request }): Promise<void> {
  const body = gate.req.body as Record<string, unknown>;
  const ask = parseOverride(body.override, body.reason);
  const head = await ctx.repo.fetch(); // "deploy now" means the branch as it is now (the deployment reuses this fetch)
  // Unknown units or hosts are a 404 here, as on /sync, not a recorded deployment that can only fail.
  await requireDeployTargets(ctx, req, head);
  // A sync window blocking these units: 423, or the caller's override (stored on the deployment).
  const override = admitManual(ctx, gate.policy, gate.req, await unitsOf(ctx, req, head), ask, req.actor ?? 'api', !!req.dryRun);
  if (override) {
    req.override = override;
    res.locals.auditParams = { overrideWindows: override.windows };
  }
  const { id, coalesced } = await ctx.deployer.submit(req);
  res.locals.auditDetail = `deployment ${id}`;
  if (!wait) {
    res.status(202).location(`/api/v1/deployments/${id}`).json({ id, coalesced });
    return;
  }
  const d = await ctx.deployer.wait(id);
  res.status(200).json({ ...d, unitResults: await rec.unitResults(ctx.db, id), hosts: await hostPushesWithDiffs(ctx.db, id) });
}

/** The units a sync request names, as the deployment will resolve them (the head, and for a rollback its commit too). */
async function unitsOf(ctx: AppContext, req: SyncRequest, head: string): Promise<Unit[]> {
  if (req.units) return req.units.map((k) => parseUnitKey(k)).filter((u): u is Unit => !!u);
  const all = new Map((await ctx.repo.listUnits(head)).map((u) => [unitKey(u), u]));
  if (req.commit && req.commit !== head) for (const u of await ctx.repo.listUnits(req.commit)) all.set(unitKey(u), u);
  return req.select ? selectUnits([...all.values()], req.select) : [...all.values()];
}

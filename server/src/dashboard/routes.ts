// API endpoints that only the dashboard needed: the units × hosts matrix, a unit's files at a commit and one file.
import { requireScope } from '../http/middleware/auth.js';
import { Router, type Request } from 'express';
import type { AppContext } from '../context.js';
import { heldUnits, pushesOfHost } from '../db/attention.js';
import { getHost } from '../db/hosts.js';
import { getDeployment, getUnitState, listUnitStates } from '../db/deployments.js';
import { matrixRows, unitTargets } from '../db/matrix.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { parseUnitKey } from '../gitops/targets.js';
import { requireKnownUnit } from '../http/known-targets.js';
import { requireSegment } from '../util/validate.js';
import { sendCompressedJson } from './compressed-json.js';
import { buildMatrix, type Matrix } from './matrix.js';

/** A file shown in the browser at most this big (config files; larger ones are cut, with a flag). */
const MAX_FILE_BYTES = 512 * 1024;

export function createDashboardApiRoutes(ctx: AppContext): Router {
  const r = Router();
  // Requests arriving while a build runs share it, unless a live event (a change) came after the build started.
  let building: { gen: number; p: Promise<Matrix> } | null = null;
  const matrix = async (): Promise<Matrix> => {
    const states = await listUnitStates(ctx.db);
    const unitCommits = new Map<string, string | null>(states.map((s) => [s.unit, s.lastCommit]));
    for (const [u, c] of await unitTargets(ctx.db)) unitCommits.set(u, c);
    return buildMatrix(await matrixRows(ctx.db), unitCommits);
  };
  r.get('/matrix', requireScope('read'), async (req, res) => {
    const gen = ctx.live?.published ?? -1;
    if (!building || building.gen !== gen || !ctx.live) {
      const b = { gen, p: matrix() };
      building = b;
      void b.p.finally(() => { if (building === b) building = null; }).catch(() => undefined);
    }
    await sendCompressedJson(req, res, { head: ctx.repo.lastKnownHead(), ...(await building.p) });
  });

  // Units held by the deletion breaker or whose rollout stopped, as of their latest real deployment.
  r.get('/held-units', requireScope('read'), async (_req, res) => {
    res.json({ items: await heldUnits(ctx.db) });
  });
  // A host's latest pushes, any unit (the host page).
  r.get('/hosts/:id/pushes', requireScope('read'), async (req, res) => {
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new ValidationError('host id must be a positive integer', 'id');
    const host = await getHost(ctx.db, id);
    if (!host) throw new NotFoundError(`host ${id} not found`);
    res.json({ id, ip: host.ip, items: await pushesOfHost(ctx.db, host.ip, 50) });
  });
  // The commits a deployment brought (its range; a sync or rollback: its one commit), with their messages.
  r.get('/deployments/:id/commits', requireScope('read'), async (req, res) => {
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new ValidationError('deployment id must be a positive integer', 'id');
    const d = await getDeployment(ctx.db, id);
    if (!d) throw new NotFoundError(`deployment ${id} not found`);
    if (!d.after) return void res.json({ id, before: d.before, after: null, commits: [], truncated: false });
    const max = 100;
    const commits = await ctx.repo.log(d.before, d.after, d.before ? max + 1 : 1).catch(() => null);
    // null: the range is not in the local clone (history rewritten, or not fetched yet).
    res.json({ id, before: d.before, after: d.after, commits: commits?.slice(0, max) ?? null, truncated: (commits?.length ?? 0) > max });
  });

  /** The commit to show: ?commit= (resolved), else the unit's deployed commit, else the branch head. */
  const commitOf = async (req: Request, unit: string): Promise<string> => {
    if (req.query.commit !== undefined) {
      const sha = typeof req.query.commit === 'string' ? await ctx.repo.resolveCommit(req.query.commit) : undefined;
      if (!sha) throw new ValidationError('commit must be a commit id (7-40 hex) of the config repo', 'commit');
      return sha;
    }
    const deployed = (await getUnitState(ctx.db, unit))?.lastCommit;
    const head = deployed ?? ctx.repo.lastKnownHead() ?? (await ctx.repo.fetch());
    return head;
  };
  const unitParam = async (req: Request) => {
    const unit = ['mod', 'env', 'app'].map((k) => requireSegment(req.params[k], k)).join('/');
    await requireKnownUnit(ctx, unit);
    return unit;
  };
  r.get('/units/:mod/:env/:app/tree', requireScope('read'), async (req, res) => {
    const unit = await unitParam(req);
    const commit = await commitOf(req, unit);
    const files = await ctx.repo.listUnitFiles(commit, parseUnitKey(unit)!);
    res.json({ unit, commit, files });
  });
  r.get('/units/:mod/:env/:app/blob', requireScope('read'), async (req, res) => {
    const unit = await unitParam(req);
    const path = req.query.path;
    if (typeof path !== 'string' || !path || path.length > 4096 || path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      throw new ValidationError('path must be a relative file path inside the unit', 'path');
    }
    const commit = await commitOf(req, unit);
    if (!(await ctx.repo.listUnitFiles(commit, parseUnitKey(unit)!)).includes(path)) throw new NotFoundError(`no file ${path} in ${unit} at ${commit.slice(0, 12)}`);
    const buf = await ctx.repo.readFile(commit, `${unit}/${path}`);
    const binary = buf.subarray(0, 8000).includes(0);
    res.json({ unit, commit, path, size: buf.length, binary, truncated: buf.length > MAX_FILE_BYTES, content: binary ? null : buf.subarray(0, MAX_FILE_BYTES).toString('utf8') });
  });
  return r;
}

// fssync parity over HTTP: GET /getfile (listing or one file), POST /modify, and their /api/v1/units/:mod/:env/:app forms.
import { Router, type Request, type Response } from 'express';
import type { AppContext } from '../context.js';
import * as rec from '../db/deployments.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { selectUnits, unitKey, type Unit } from '../gitops/targets.js';
import { requireScope } from '../http/middleware/auth.js';
import { audited } from '../http/middleware/audited.js';
import { envAppTarget } from '../http/scope-targets.js';
import { jsonBody as namedJsonBody } from '../http/middleware/json-body.js';
import { requireSegment } from '../util/validate.js';
import type { ModifyResult, ModifyService } from './modify-service.js';
import { parseModifyRequest, requireUnitPath } from './modify-request.js';
import type { UnitFile, UnitFiles } from './unit-files.js';

export interface FssyncServices { files: UnitFiles; modify: ModifyService | null }

const optionalSegment = (v: unknown, field: string) => (v === undefined || v === '' ? undefined : requireSegment(v, field));
const unitOfParams = (req: Request): Unit => ({ mod: requireSegment(req.params.mod, 'mod'), env: requireSegment(req.params.env, 'env'), app: requireSegment(req.params.app, 'app') });
const jsonBody = namedJsonBody({ limitBytes: 1024 * 1024, what: 'the JSON body limit of /modify' });

/** Units a fssync-style request covers: the given mod, or every mod of env/app; 404 when none. */
async function unitsOf(ctx: AppContext, commit: string, sel: { env: string; app: string; mod?: string }): Promise<Unit[]> {
  const units = selectUnits(await ctx.repo.listUnits(commit), sel);
  if (units.length === 0) throw new NotFoundError(`no unit ${sel.mod ?? '*'}/${sel.env}/${sel.app} in the repo at ${commit.slice(0, 12)}`);
  return units;
}

/** If-None-Match (RFC 9110 13.1.2, weak comparison) against our ETag. The origin evaluates it whatever the request's
 *  Cache-Control says (express's req.fresh would not: fetch() sends "no-cache" with every conditional request). */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => opaque(t) === opaque(etag));
}

/** Raw bytes with the blob id as ETag (If-None-Match → 304 without reading the content). */
async function sendFile(req: Request, res: Response, s: FssyncServices, commit: string, file: UnitFile): Promise<void> {
  res.set({
    'content-type': 'application/octet-stream', etag: `"${file.blob}"`, 'cache-control': 'no-cache',
    'x-gitfleet-commit': commit, 'x-gitfleet-sha256': file.sha256, 'x-gitfleet-mode': file.mode,
  });
  if (noneMatch(req.header('if-none-match'), `"${file.blob}"`)) {
    res.status(304).end();
    return;
  }
  res.send(await s.files.content(file.blob));
}

async function respondModify(ctx: AppContext, res: Response, result: ModifyResult, wait: boolean): Promise<void> {
  if (!result.deployment) {
    res.status(result.changed ? 202 : 200).json(result);
    return;
  }
  const { id, coalesced } = result.deployment;
  res.location(`/api/v1/deployments/${id}`);
  if (!wait) {
    res.status(202).json(result);
    return;
  }
  const d = await ctx.deployer.wait(id);
  res.status(200).json({ ...result, deployment: { ...d, coalesced, unitResults: await rec.unitResults(ctx.db, id), hosts: await rec.hostPushes(ctx.db, id) } });
}

function modifyOrThrow(s: FssyncServices): ModifyService {
  if (!s.modify) throw new NotFoundError('modify is disabled on this server (modify.enabled: false)');
  return s.modify;
}

/** Root routes, fssync-compatible, with the API's tokens: /getfile needs read, /modify sync on its env/app. */
export function createFssyncRootRoutes(ctx: AppContext, s: FssyncServices): Router {
  const r = Router();
  r.get('/getfile', requireScope('read'), async (req, res) => {
    const q = req.query;
    const env = requireSegment(q.env, 'env');
    const app = requireSegment(q.app, 'app');
    const mod = optionalSegment(q.mod, 'mod');
    const path = q.path === undefined ? undefined : requireUnitPath(q.path);
    const commit = await s.files.commit(q.commit);
    const units = await unitsOf(ctx, commit, { env, app, mod });
    if (path !== undefined) {
      const { file } = await s.files.find(commit, units, path);
      await sendFile(req, res, s, commit, file);
      return;
    }
    const lines: string[] = [];
    for (const u of units) for (const f of await s.files.list(commit, u)) if (!/[\r\n]/.test(f.repoPath)) lines.push(f.repoPath);
    res.type('text/plain; charset=utf-8').set('x-gitfleet-commit', commit).send(lines.length ? `${lines.join('\n')}\n` : '');
  });
  r.post('/modify', audited(ctx.audit, 'modify'), jsonBody, requireScope('sync', (req) => envAppTarget(req.body)), async (req, res) => {
    const svc = modifyOrThrow(s);
    if (req.body === undefined) throw new ValidationError('send a JSON body with content-type: application/json', 'body');
    const m = parseModifyRequest(req.body);
    await respondModify(ctx, res, await svc.modify(m), m.wait);
  });
  return r;
}

/** /api/v1 routes (auth and JSON body parsing applied by the API router). */
export function createFssyncApiRoutes(ctx: AppContext, s: FssyncServices): Router {
  const r = Router();
  r.get('/units/:mod/:env/:app/files', requireScope('read'), async (req, res) => {
    const unit = unitOfParams(req);
    const commit = await s.files.commit(req.query.commit);
    res.set('x-gitfleet-commit', commit).json({ unit: unitKey(unit), commit, files: await s.files.list(commit, unit) });
  });
  r.get('/units/:mod/:env/:app/file', requireScope('read'), async (req, res) => {
    const unit = unitOfParams(req);
    const path = requireUnitPath(req.query.path);
    const commit = await s.files.commit(req.query.commit);
    const { file } = await s.files.find(commit, [unit], path);
    await sendFile(req, res, s, commit, file);
  });
  r.post('/units/:mod/:env/:app/modify', audited(ctx.audit, 'modify'), requireScope('sync', (req) => envAppTarget(req.params)), async (req, res) => {
    const svc = modifyOrThrow(s);
    const unit = unitOfParams(req);
    if (req.body === undefined) throw new ValidationError('send a JSON body with content-type: application/json', 'body');
    const m = parseModifyRequest(req.body, unit);
    await respondModify(ctx, res, await svc.modify(m), m.wait);
  });
  return r;
}

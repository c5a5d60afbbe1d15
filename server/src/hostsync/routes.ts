// /api/v1/host-sync: sources (with schedule, host count, last run), run now, run records, upstream sync.
import { Router } from 'express';
import type { AppContext } from '../context.js';
import * as store from '../db/host-sync.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { paging } from '../http/paging.js';
import { requireSegment } from '../util/validate.js';
import { deployActor, requireScope } from '../http/middleware/auth.js';
import { audited } from '../http/middleware/audited.js';
import type { HostSyncService } from './service.js';
import type { UpstreamSync } from './upstream.js';

const RUN_STATUSES = new Set(['running', 'succeeded', 'partial', 'refused', 'error', 'interrupted']);

function flag(v: unknown, name: string, def: boolean): boolean {
  if (v === undefined) return def;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ValidationError(`${name} must be true or false; got ${JSON.stringify(v)}`, name);
}

export function createHostSyncRoutes(ctx: AppContext, svc: () => HostSyncService, upstream: () => UpstreamSync | null): Router {
  const r = Router();
  r.get('/host-sync/sources', requireScope('read'), async (_req, res) => {
    res.json({ items: await svc().views() });
  });
  // Runtime switch, persisted (see HostSyncService.setEnabled); the same body as the ES tasks' switch.
  r.put('/host-sync/sources/:name/enabled', audited(ctx.audit, 'host-sync.enable', { target: (_req, p) => `source ${p.name}` }), requireScope('admin'), async (req, res) => {
    const name = requireSegment(req.params.name, 'name');
    const enabled = (req.body as { enabled?: unknown } | undefined)?.enabled;
    if (typeof enabled !== 'boolean') throw new ValidationError(`enabled must be true or false; got ${JSON.stringify(enabled)}`, 'enabled');
    res.json(await svc().setEnabled(name, enabled, deployActor(res, req.header('x-actor'))));
  });
  r.post('/host-sync/sources/:name/run', audited(ctx.audit, 'host-sync.run', { target: (_req, p) => `source ${p.name}` }), requireScope('admin'), async (req, res) => {
    const name = requireSegment(req.params.name, 'name');
    const wait = flag(req.query.wait, 'wait', true);
    const force = flag(req.query.force, 'force', false);
    const { id, done } = await svc().runNow(name, { force, trigger: force ? 'api-force' : 'api' });
    if (!wait) {
      done.catch(() => undefined);
      res.status(202).location(`/api/v1/host-sync/runs/${id}`).json({ id, status: 'running' });
      return;
    }
    res.json(await done);
  });
  r.get('/host-sync/runs', requireScope('read'), async (req, res) => {
    const q = req.query;
    const { limit, offset } = paging(q, 500, 50);
    const source = q.source === undefined ? undefined : requireSegment(q.source, 'source');
    if (q.status !== undefined && !RUN_STATUSES.has(String(q.status))) throw new ValidationError(`status must be one of ${[...RUN_STATUSES].join(', ')}`, 'status');
    res.json({ ...(await store.listRuns(ctx.db, { source, status: q.status as string | undefined, limit, offset })), limit, offset });
  });
  r.get('/host-sync/runs/:id', requireScope('read'), async (req, res) => {
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new ValidationError('run id must be a positive integer', 'id');
    const run = await store.getRun(ctx.db, id);
    if (!run) throw new NotFoundError(`host-sync run ${id} not found`);
    res.json(run);
  });
  // Admin: the upstream URLs may carry credentials.
  r.get('/host-sync/upstream', requireScope('admin'), async (req, res) => {
    const { limit, offset } = paging(req.query, 500, 20);
    res.json({ configured: !!upstream(), ...(upstream()?.describe() ?? {}), runs: await store.listUpstreamRuns(ctx.db, limit, offset) });
  });
  r.post('/host-sync/upstream/run', audited(ctx.audit, 'upstream-sync.run'), requireScope('admin'), async (_req, res) => {
    const u = upstream();
    if (!u) throw new NotFoundError('no upstream CMDB sync configured (hostSync.upstream)');
    res.json(await u.run('api'));
  });
  return r;
}

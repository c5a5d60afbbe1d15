// /api/v1/hosts: the built-in inventory.
import { Router } from 'express';
import type { AppContext } from '../../context.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import * as hosts from '../../db/hosts.js';
import { hostRsyncByIp } from '../../db/host-rsync.js';
import { parseHostInput } from '../../inventory/host-input.js';
import { createHost, removeHost, updateHost } from '../../inventory/hosts-service.js';
import { requireIp, requireSegment } from '../../util/validate.js';
import { paging } from '../paging.js';
import { requireScope } from '../middleware/auth.js';
import { audited } from '../middleware/audited.js';

function hostId(raw: string): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id < 1) throw new ValidationError(`host id must be a positive integer; got ${JSON.stringify(raw)}`, 'id');
  return id;
}

export function createHostRoutes(ctx: AppContext): Router {
  const r = Router();
  const hostTarget = (req: { body?: unknown }, params: Record<string, string>) => (params.id ? `host ${params.id}` : `host ${String((req.body as { ip?: unknown } | undefined)?.ip ?? '?').slice(0, 64)}`);
  r.get('/hosts', requireScope('read'), async (req, res) => {
    const q = req.query;
    const filter: hosts.HostFilter = {};
    if (q.env !== undefined) filter.env = requireSegment(q.env, 'env');
    if (q.app !== undefined) filter.app = requireSegment(q.app, 'app');
    if (q.ip !== undefined) filter.ip = requireIp(q.ip, 'ip');
    if (q.source !== undefined) filter.source = requireSegment(q.source, 'source');
    const { limit, offset } = paging(q, 1000);
    const [items, total] = await Promise.all([hosts.listHosts(ctx.db, { ...filter, limit, offset }), hosts.countHosts(ctx.db, filter)]);
    const rsync = await hostRsyncByIp(ctx.db, items.map((h) => h.ip));
    res.json({ items: items.map((h) => ({ ...h, rsync: rsync.get(h.ip) ?? null })), total, limit, offset });
  });
  r.get('/hosts/:id', requireScope('read'), async (req, res) => {
    const host = await hosts.getHost(ctx.db, hostId(req.params.id));
    if (!host) throw new NotFoundError(`host ${req.params.id} not found`);
    // What the last push saw of the host's rsync (null: not contacted yet).
    res.json({ ...host, rsync: (await hostRsyncByIp(ctx.db, [host.ip])).get(host.ip) ?? null });
  });
  r.post('/hosts', audited(ctx.audit, 'host.create', { target: hostTarget }), requireScope('admin'), async (req, res) => {
    const host = await createHost(ctx, parseHostInput(req.body), { source: 'manual' }, 'api');
    res.status(201).location(`/api/v1/hosts/${host.id}`).json(host);
  });
  r.put('/hosts/:id', audited(ctx.audit, 'host.update', { target: hostTarget }), requireScope('admin'), async (req, res) => {
    const id = hostId(req.params.id);
    const current = await hosts.getHost(ctx.db, id, false);
    if (!current) throw new NotFoundError(`host ${id} not found`);
    res.json(await updateHost(ctx, id, parseHostInput(req.body, current), 'api'));
  });
  r.delete('/hosts/:id', audited(ctx.audit, 'host.delete', { target: hostTarget }), requireScope('admin'), async (req, res) => {
    await removeHost(ctx, hostId(req.params.id), 'api');
    res.status(204).end();
  });
  return r;
}

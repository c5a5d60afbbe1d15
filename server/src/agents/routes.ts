// HTTP of host agents. Public (agent token, not API tokens): POST /api/v1/agents/report and the install scripts.
// API (bearer auth): POST /agents/collect, GET /agents/runs[/:id], DELETE /agents/hosts/:id/identity.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import express, { Router, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import * as rec from '../db/agents.js';
import { getHost } from '../db/hosts.js';
import { AppError, NotFoundError, UnauthorizedError, ValidationError } from '../errors.js';
import { publicRoute, requireScope, secretEquals } from '../http/middleware/auth.js';
import { audited } from '../http/middleware/audited.js';
import { paging } from '../http/paging.js';
import { SEGMENT_RE } from '../util/validate.js';
import { AGENTS_DIR } from './collector-script.js';
import { parseReport } from './report-schema.js';
import type { AgentsService } from './service.js';

export const REPORT_PATH = '/api/v1/agents/report';

/** The agent token from `Authorization: Bearer <token>`, compared in constant time. */
function agentAuth(ctx: AppContext): RequestHandler {
  return (req, _res, next) => {
    const token = ctx.config.agents.token;
    if (!token) return next(new AppError('agents_disabled', 403, 'agent reports are off on this server: set agents.token (or GITFLEET_AGENT_TOKEN)'));
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    next(m && secretEquals(m[1]!, token) ? undefined : new UnauthorizedError('a valid agent token is required (Authorization: Bearer <agents.token>)'));
  };
}

/** The raw body with the size cap of agents.maxReportBytes, refused with 413 before it is all read when Content-Length says so. */
function rawReport(max: number): RequestHandler {
  const raw = express.raw({ type: () => true, limit: max });
  return (req, res, next) => raw(req, res, (err?: unknown) => {
    if ((err as { type?: string } | undefined)?.type === 'entity.too.large') {
      return next(new AppError('report_too_large', 413, `report is larger than agents.maxReportBytes (${max} bytes)`));
    }
    next(err);
  });
}

/** The peer's address as the inventory writes it (IPv4-mapped IPv6 unwrapped). */
function peerIp(req: Request): string | undefined {
  const ip = req.ip ?? req.socket.remoteAddress;
  return ip?.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

const SCRIPTS: Record<string, string> = { 'collector.sh': '', 'install.sh': 'install.sh', 'report.sh': 'report.sh' };

export function createAgentPublicRoutes(ctx: AppContext, svc: AgentsService): Router {
  const r = Router();
  r.post(REPORT_PATH, publicRoute('agent reports: the agent token (agents.token), not API tokens'), agentAuth(ctx), rawReport(ctx.config.agents.maxReportBytes), async (req, res) => {
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (err) {
      svc.reports.inc({ result: 'invalid' });
      throw new AppError('invalid_json', 400, `report is not valid JSON: ${(err as Error).message}`);
    }
    let report;
    try {
      report = parseReport(json);
    } catch (err) {
      svc.reports.inc({ result: 'invalid' });
      throw err;
    }
    const ip = report.ip ?? peerIp(req);
    if (!ip || isIP(ip) === 0) throw new ValidationError('the report has no ip and the peer address is unknown', 'ip');
    try {
      const out = await svc.ingest(report, { ip, via: 'agent' });
      svc.reports.inc({ result: out.matched === 'new' ? 'added' : 'stored' });
      req.log.info({ hostId: out.hostId, matched: out.matched, pluginErrors: out.pluginErrors }, 'agent report stored');
      res.status(out.matched === 'new' ? 201 : 200).json(out);
    } catch (err) {
      svc.reports.inc({ result: 'rejected' });
      throw err;
    }
  });
  // The collector, installer and report command, so a host can install from the server: curl URL/agents/install.sh | sh -s -- ...
  r.get('/agents/:file', publicRoute('install scripts, public'), async (req, res, next) => {
    const file = SCRIPTS[req.params.file];
    if (file === undefined) return next();
    const text = file ? await readFile(join(AGENTS_DIR, file), 'utf8') : await svc.script();
    res.type('text/x-shellscript; charset=utf-8').send(text);
  });
  return r;
}

const segment = z.string().regex(SEGMENT_RE, 'must be a name like "prod" (letters, digits, . _ -)');
const collectBody = z.strictObject({
  ips: z.array(z.string().refine((v) => isIP(v) !== 0, 'must be an IPv4 or IPv6 address')).min(1).max(100_000).optional(),
  env: segment.optional(),
  app: segment.optional(),
  register: z.strictObject({ env: segment, apps: z.array(segment).max(256).default([]) }).optional(),
  wait: z.boolean().default(true),
}).refine((b) => (b.ips === undefined) !== (b.env === undefined && b.app === undefined), 'give either ips, or env (and optionally app)')
  .refine((b) => b.ips !== undefined || b.env !== undefined, 'app needs env');

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new ValidationError(`${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`, i.path.length ? String(i.path[0]) : undefined);
}

function positiveId(raw: string, what: string): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id < 1) throw new ValidationError(`${what} id must be a positive integer; got ${JSON.stringify(raw)}`, 'id');
  return id;
}

const RUN_STATUSES = new Set(['running', 'succeeded', 'partial', 'failed', 'no_hosts', 'interrupted']);

export function createAgentApiRoutes(ctx: AppContext, svc: AgentsService): Router {
  const r = Router();
  const runView = async (id: number) => {
    const run = await rec.getRun(ctx.db, id);
    if (!run) throw new NotFoundError(`collection run ${id} not found`);
    return { ...run, counts: await rec.runCounts(ctx.db, id), hosts: await rec.runHosts(ctx.db, id) };
  };
  r.post('/agents/collect', audited(ctx.audit, 'agents.collect'), requireScope('admin'), async (req, res) => {
    const b = parseBody(collectBody, req.body);
    const id = await svc.runner.start({ trigger: 'api', ips: b.ips, env: b.env, app: b.app, register: b.register });
    res.location(`/api/v1/agents/runs/${id}`);
    if (!b.wait) {
      res.status(202).json({ id, status: (await rec.getRun(ctx.db, id))!.status });
      return;
    }
    await svc.runner.wait(id);
    res.json(await runView(id));
  });
  r.get('/agents/runs', requireScope('read'), async (req, res) => {
    const q = req.query;
    const { limit, offset } = paging(q, 500, 50);
    if (q.status !== undefined && !RUN_STATUSES.has(String(q.status))) throw new ValidationError(`status must be one of ${[...RUN_STATUSES].join(', ')}`, 'status');
    if (q.trigger !== undefined && q.trigger !== 'api' && q.trigger !== 'schedule') throw new ValidationError('trigger must be api or schedule', 'trigger');
    res.json({ ...(await rec.listRuns(ctx.db, { status: q.status as string | undefined, trigger: q.trigger as string | undefined, limit, offset })), limit, offset });
  });
  r.get('/agents/runs/:id', requireScope('read'), async (req, res) => {
    res.json(await runView(positiveId(req.params.id, 'run')));
  });
  r.delete('/agents/hosts/:id/identity', audited(ctx.audit, 'agents.identity.clear', { target: (_req, p) => `host ${p.id}` }), requireScope('admin'), async (req, res) => {
    const id = positiveId(req.params.id, 'host');
    if (!(await getHost(ctx.db, id, false))) throw new NotFoundError(`host ${id} not found`);
    await ctx.db.tx((q) => rec.clearHostIdentity(q, id, ctx.clock().toISOString()));
    ctx.log.info({ hostId: id }, 'agents: host identity cleared');
    res.status(204).end();
  });
  return r;
}

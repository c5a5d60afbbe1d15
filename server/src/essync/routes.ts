// /api/v1/es-sync: tasks (CRUD, enable/disable), run now (IP list or uploaded file), execution logs with per-host rows.
import { Router, type RequestHandler, type Response } from 'express';
import multer from 'multer';
import * as store from '../db/es-sync.js';
import type { Db } from '../db/connection.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { paging } from '../http/paging.js';
import type { JsonBodyLimit } from '../http/middleware/json-body.js';
import type { EsSyncConfig } from './config-schema.js';
import { parseIpFile, parseIpList } from './ip-list.js';
import type { EsSyncService } from './service.js';
import type { HostStatus, RunStatus, RunTrigger } from './types.js';
import type { AuditLog } from '../audit/audit-log.js';
import { requireScope } from '../http/middleware/auth.js';
import { audited } from '../http/middleware/audited.js';

const RUN_STATUSES = new Set<RunStatus>(['running', 'success', 'partial', 'failed']);
const HOST_STATUSES = new Set<HostStatus>(['success', 'failed', 'not_in_pool', 'no_data']);

function positiveId(raw: unknown, field: string): number {
  const id = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(id) || id < 1) {
    throw new ValidationError(`${field} must be a positive integer; got ${JSON.stringify(raw)}`, field);
  }
  return id;
}

function oneOf<T extends string>(raw: unknown, allowed: Set<T>, field: string): T | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !allowed.has(raw as T)) throw new ValidationError(`${field} must be one of ${[...allowed].join(', ')}`, field);
  return raw as T;
}

function bool(raw: unknown, field: string): boolean | undefined {
  if (raw === undefined) return undefined;
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new ValidationError(`${field} must be true or false; got ${JSON.stringify(raw)}`, field);
}

/** multer with our limits; its errors become 400s naming the `file` field. */
function uploadOne(maxBytes: number): RequestHandler {
  const single = multer({ storage: multer.memoryStorage(), limits: { fileSize: maxBytes, files: 1, fields: 10, parts: 12 } }).single('file');
  return (req, res, next) => single(req, res, (err: unknown) => {
    if (!err) return next();
    if (err instanceof multer.MulterError) {
      if (err.code === 'LIMIT_FILE_SIZE') return next(new ValidationError(`file is too large: at most ${maxBytes} bytes (esSync.maxUploadBytes)`, 'file'));
      if (err.code === 'LIMIT_UNEXPECTED_FILE') return next(new ValidationError(`send the IP list as the multipart field "file" (got ${JSON.stringify(err.field)})`, 'file'));
      return next(new ValidationError(`upload rejected: ${err.message}`, 'file'));
    }
    next(new ValidationError(`upload is not valid multipart/form-data: ${(err as Error).message}`, 'file'));
  });
}

/** Bytes a JSON IP list may take per IP: the longest text form ("0000:…:ffff:255.255.255.255", 45) quoted, a comma, spacing. */
const BYTES_PER_IP = 64;

/** The JSON body limit of /execute: room for esSync.maxManualIps IPs (the API's general 1 MiB holds ~25,000). */
export function executeBodyLimit(maxManualIps: number): JsonBodyLimit {
  return { limitBytes: maxManualIps * BYTES_PER_IP + 64 * 1024, what: `${BYTES_PER_IP} bytes per IP of esSync.maxManualIps = ${maxManualIps}, plus 64 KiB`, field: 'ips' };
}

export function createEsSyncRoutes(service: EsSyncService, db: Db, cfg: EsSyncConfig, audit: AuditLog): Router {
  const r = Router();
  const task = (_req: unknown, p: Record<string, string>) => (p.id ? `es-sync task ${p.id}` : null);
  const admin = (action: string) => [audited(audit, action, { target: task }), requireScope('admin')];

  /** Start a run; by default wait for it (201 with the execution), `wait=false` answers 202 at once. */
  const run = async (res: Response, query: Record<string, unknown>, id: number, ips: string[], trigger: RunTrigger) => {
    const wait = bool(query.wait, 'wait') ?? true;
    const { runId, done } = await service.execute(id, ips, trigger);
    res.location(`/api/v1/es-sync/executions/${runId}`);
    if (!wait) {
      done.catch(() => undefined); // recorded by the job itself
      res.status(202).json({ executionId: runId, status: 'running' });
      return;
    }
    res.status(201).json(await done);
  };

  r.post('/es-sync/tasks', ...admin('es-sync.task.create'), async (req, res) => {
    const task = await service.createTask(req.body);
    res.status(201).location(`/api/v1/es-sync/tasks/${task.id}`).json(task);
  });
  r.get('/es-sync/tasks', requireScope('read'), async (req, res) => {
    const { limit, offset } = paging(req.query, 500, 50);
    res.json({ ...(await service.listTasks({ enabled: bool(req.query.enabled, 'enabled'), limit, offset })), limit, offset });
  });
  r.get('/es-sync/tasks/:id', requireScope('read'), async (req, res) => {
    res.json(await service.getTask(positiveId(req.params.id, 'id')));
  });
  r.put('/es-sync/tasks/:id', ...admin('es-sync.task.update'), async (req, res) => {
    res.json(await service.updateTask(positiveId(req.params.id, 'id'), req.body));
  });
  r.delete('/es-sync/tasks/:id', ...admin('es-sync.task.delete'), async (req, res) => {
    await service.deleteTask(positiveId(req.params.id, 'id'));
    res.status(204).end();
  });
  r.put('/es-sync/tasks/:id/enabled', ...admin('es-sync.task.enable'), async (req, res) => {
    const id = positiveId(req.params.id, 'id');
    const enabled = (req.body as { enabled?: unknown } | undefined)?.enabled;
    if (typeof enabled !== 'boolean') throw new ValidationError(`enabled must be true or false; got ${JSON.stringify(enabled)}`, 'enabled');
    res.json(await service.setEnabled(id, enabled));
  });
  r.post('/es-sync/tasks/:id/execute', ...admin('es-sync.run'), async (req, res) => {
    const id = positiveId(req.params.id, 'id');
    const ips = parseIpList((req.body as { ips?: unknown } | undefined)?.ips, cfg.maxManualIps);
    await run(res, req.query, id, ips, 'manual');
  });
  r.post('/es-sync/tasks/:id/execute-file', ...admin('es-sync.run'), uploadOne(cfg.maxUploadBytes), async (req, res) => {
    const id = positiveId(req.params.id, 'id');
    if (!req.file) throw new ValidationError('send the IP list as multipart/form-data in the field "file"', 'file');
    await run(res, req.query, id, parseIpFile(req.file.buffer, cfg.maxManualIps), 'upload');
  });
  r.get('/es-sync/executions', requireScope('read'), async (req, res) => {
    const { limit, offset } = paging(req.query, 500, 50);
    const taskId = req.query.taskId === undefined ? undefined : positiveId(req.query.taskId, 'taskId');
    const status = oneOf(req.query.status, RUN_STATUSES, 'status');
    res.json({ ...(await store.listRuns(db, { taskId, status, limit, offset })), limit, offset });
  });
  r.get('/es-sync/executions/:id', requireScope('read'), async (req, res) => {
    const id = positiveId(req.params.id, 'id');
    const { limit, offset } = paging(req.query, 10_000, 1000);
    const status = oneOf(req.query.hostStatus, HOST_STATUSES, 'hostStatus');
    const execution = await store.getRun(db, id);
    if (!execution) throw new NotFoundError(`es-sync execution ${id} not found`);
    res.json({ ...execution, hosts: { ...(await store.listRunHosts(db, id, { status, limit, offset })), limit, offset } });
  });
  return r;
}

// Registered last: AppError → its status and {error:{code,message}}; a full disk → 507 with the reason; anything else →
// logged 500 without internals.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, StorageFullError } from '../../errors.js';
import { isStorageFull } from '../../util/storage-full.js';

export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}` } });
};

export const errorHandler: ErrorRequestHandler = (err, req, res, next) => {
  if (res.headersSent) return next(err);
  // For the audit row of this request (middleware/audited.ts): why it failed.
  res.locals.errorMessage = err instanceof AppError ? err.message : 'internal error';
  if (err instanceof AppError) {
    const body: Record<string, unknown> = { code: err.code, message: err.message };
    if ('field' in err && err.field) body.field = err.field;
    if ('details' in err && err.details) body.details = err.details; // e.g. the sync windows of a 423
    res.status(err.status).json({ error: body });
    return;
  }
  // body-parser errors carry a status and a type
  const e = err as { status?: number; type?: string; message?: string };
  if (e.type === 'entity.too.large') {
    const limit = (err as { limit?: unknown }).limit;
    res.status(413).json({ error: { code: 'payload_too_large', message: `request body is larger than allowed${typeof limit === 'number' ? ` (${limit} bytes)` : ''}` } });
    return;
  }
  if (e.type === 'entity.parse.failed') {
    res.status(400).json({ error: { code: 'invalid_json', message: 'request body is not valid JSON' } });
    return;
  }
  if (isStorageFull(err)) {
    // SQLITE_FULL from a write, ENOSPC from a file: reads still work, so say what is wrong rather than "internal".
    req.log?.error({ err }, 'data disk full');
    const full = new StorageFullError();
    res.status(full.status).json({ error: { code: full.code, message: full.message } });
    return;
  }
  req.log?.error({ err }, 'unhandled error');
  res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
};

// JSON body parsing with a limit that is named in its error: a client told "too large" learns which limit, how big,
// and (for routes with a larger limit) which field and setting decide it.
import express, { type RequestHandler } from 'express';
import { AppError } from '../../errors.js';

export class PayloadTooLargeError extends AppError {
  constructor(message: string, readonly field?: string) {
    super('payload_too_large', 413, message);
  }
}

export interface JsonBodyLimit {
  limitBytes: number;
  /** What decides the limit, for the message: e.g. "the API's JSON body limit". */
  what: string;
  /** The request field that makes a body this large, if one does (e.g. "ips"). */
  field?: string;
}

/** express.json with `limitBytes`; an oversized body becomes a 413 naming the limit (and the field). */
export function jsonBody(l: JsonBodyLimit): RequestHandler {
  const parse = express.json({ limit: l.limitBytes });
  return (req, res, next) => parse(req, res, (err?: unknown) => {
    const e = err as { type?: string; length?: number } | undefined;
    if (e?.type !== 'entity.too.large') return next(err);
    const size = typeof e.length === 'number' && e.length > 0 ? `${e.length} bytes` : 'larger than allowed';
    next(new PayloadTooLargeError(`request body is ${size}; at most ${l.limitBytes} bytes (${l.what})`, l.field));
  });
}

// Bearer-token auth for the API, active once any token is configured; constant-time comparison.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { UnauthorizedError } from '../../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compare two secrets in constant time (digests first, so lengths never leak or throw). */
export function secretEquals(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function bearerAuth(tokens: readonly string[]): RequestHandler {
  return (req, _res, next) => {
    if (tokens.length === 0) return next();
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    // Check every token so timing does not tell which one matched.
    const ok = m ? tokens.map((t) => secretEquals(m[1]!, t)).includes(true) : false;
    next(ok ? undefined : new UnauthorizedError('a valid bearer token is required (Authorization: Bearer <token>)'));
  };
}

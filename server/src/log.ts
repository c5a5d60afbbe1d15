// Root pino logger with redaction of credentials.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-gitlab-token"]',
  'req.headers["x-hub-signature-256"]',
  'req.headers["webhook-signature"]',
  '*.password',
  '*.privateKey',
  '*.token',
  '*.secret',
];

/** The root logger; tests pass their own destination to read the records. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const opts = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'gitfleet' } };
  return destination ? pino(opts, destination as pino.DestinationStream) : pino(opts);
}

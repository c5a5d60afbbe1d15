// The AppError family: every error the HTTP layer can turn into a status and a JSON body.
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = status;
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, readonly field?: string) {
    super('validation_failed', 400, message);
  }
}
export class UnauthorizedError extends AppError {
  constructor(message = 'missing or invalid credentials') {
    super('unauthorized', 401, message);
  }
}
/** Authenticated, but the token lacks the right (the message names the right needed and the rights held). */
export class ForbiddenError extends AppError {
  constructor(message: string) {
    super('forbidden', 403, message);
  }
}
export class NotFoundError extends AppError {
  constructor(message: string) {
    super('not_found', 404, message);
  }
}
export class ConflictError extends AppError {
  constructor(message: string) {
    super('conflict', 409, message);
  }
}
export class QueueFullError extends AppError {
  constructor(message = 'deployment queue is full, try again later') {
    super('queue_full', 503, message);
  }
}
/** The far side (CMDB, Elasticsearch, cloud API) could not be reached or refused: safe to retry, never act destructively on it. */
export class UpstreamUnavailableError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('upstream_unavailable', 503, message, options);
  }
}
/** The far side answered with something we cannot use. */
export class UpstreamDataError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('upstream_bad_data', 502, message, options);
  }
}
/** The data dir's disk is full: the server is read-only until space is freed (mapped from SQLITE_FULL / ENOSPC). */
export class StorageFullError extends AppError {
  constructor(message = 'the data disk is full: gitfleet is read-only until space is freed', options?: { cause?: unknown }) {
    super('insufficient_storage', 507, message, options);
  }
}
/** A bad configuration: start-up stops with every problem listed. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

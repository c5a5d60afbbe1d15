// The CLI's exit codes (README "CLI" lists them) and the error that carries one to main.
export const EXIT = {
  ok: 0,
  /** The deployment did not succeed: a host or unit failed, a unit was held, the run was interrupted. */
  failed: 1,
  /** Bad arguments, options or config file; a rollback without --yes where no one can be asked. */
  usage: 2,
  /** The server could not be reached (refused, name unknown, timed out). */
  unreachable: 3,
  /** 401 or 403: no token, a wrong one, or one without the right. */
  auth: 4,
  /** 404: no such deployment, unit, host or commit. */
  notFound: 5,
  /** The server refused the request (another 4xx: 400, 409 already running, 423 sync window...). */
  rejected: 6,
  /** The server failed (5xx) or answered something that is not the API. */
  server: 7,
  /** The operator said no at the confirmation prompt. */
  cancelled: 8,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports in one line on stderr and exits with its code. */
export class CliError extends Error {
  constructor(readonly exitCode: ExitCode, message: string, readonly hint?: string) {
    super(message);
    this.name = 'CliError';
  }
}

// The CLI's HTTP client: Node's fetch with a timeout per request, and every failure turned into a CliError whose exit
// code says what went wrong (unreachable, auth, not found, refused, server error) with the server's message as is.
import { CliError, EXIT } from './exit-codes.js';
import type { Settings } from './settings.js';

export type Query = Record<string, string | string[] | undefined>;

export interface ApiClient {
  readonly server: string;
  get<T>(path: string, query?: Query): Promise<T>;
  post<T>(path: string, body: unknown, query?: Query): Promise<T>;
}

/** Join an API path ("api/v1/...", no leading slash) under the server URL (which may carry a prefix) with a query. */
export function apiUrl(server: string, path: string, query: Query = {}): string {
  const u = new URL(path.replace(/^\/+/, ''), server);
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) u.searchParams.append(k, one);
  }
  return u.toString();
}

/** Why fetch itself failed, in words an operator acts on. */
export function describeFetchError(err: unknown, server: string, timeoutMs: number): CliError {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'AbortError') return new CliError(EXIT.cancelled, 'interrupted');
  if (e.name === 'TimeoutError') {
    return new CliError(EXIT.unreachable, `no answer from ${server} within ${timeoutMs / 1000} s`, 'raise --timeout, or check the server');
  }
  const code = e.cause?.code;
  const why = code === 'ECONNREFUSED' ? 'connection refused'
    : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'host name not found'
      : code === 'ECONNRESET' ? 'connection reset'
        : code === 'EHOSTUNREACH' || code === 'ENETUNREACH' ? 'host unreachable'
          : e.cause?.message ?? e.message;
  return new CliError(EXIT.unreachable, `cannot reach gitfleet at ${server}: ${why}`, 'is the server running? set the URL with --server, GITFLEET_SERVER or server: in the config file');
}

/** The CliError for a non-2xx answer: the server's own message ({error:{code,message}}) as is, with the status. */
export function describeHttpError(status: number, body: unknown, text: string, settings: Pick<Settings, 'token' | 'sources'>): CliError {
  const err = (body as { error?: unknown } | undefined)?.error;
  const message = typeof err === 'string' ? err
    : err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string' ? (err as { message: string }).message
      : text.trim().slice(0, 300) || '(no message)';
  const code = err && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'string' ? ` ${(err as { code: string }).code}` : '';
  const full = `${message} (HTTP ${status}${code})`;
  if (status === 401 || status === 403) {
    const hint = status === 403 ? `the token (from ${settings.sources.token}) lacks this right`
      : settings.token ? `the token from ${settings.sources.token} was not accepted`
        : 'no token given: use --token, GITFLEET_TOKEN or token: in the config file';
    return new CliError(EXIT.auth, full, hint);
  }
  if (status === 404) return new CliError(EXIT.notFound, full);
  if (status >= 400 && status < 500) return new CliError(EXIT.rejected, full);
  return new CliError(EXIT.server, full);
}

/** A client of the server in settings; `stop` (Ctrl-C) aborts a request in flight. */
export function createApiClient(settings: Settings, headers: Record<string, string> = {}, stop?: AbortSignal): ApiClient {
  const base: Record<string, string> = { accept: 'application/json', ...headers, ...(settings.token ? { authorization: `Bearer ${settings.token}` } : {}) };
  async function call<T>(method: string, path: string, query: Query | undefined, body?: unknown): Promise<T> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(apiUrl(settings.server, path, query), {
        method,
        headers: body === undefined ? base : { ...base, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'error',
        signal: stop ? AbortSignal.any([stop, AbortSignal.timeout(settings.timeoutMs)]) : AbortSignal.timeout(settings.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw describeFetchError(err, settings.server, settings.timeoutMs);
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) throw describeHttpError(res.status, parsed, text, settings);
    if (parsed === undefined) throw new CliError(EXIT.server, `${method} ${path} answered HTTP ${res.status} with no JSON: ${text.slice(0, 200)}`, 'is --server the gitfleet server?');
    return parsed as T;
  }
  return {
    server: settings.server,
    get: (path, query) => call('GET', path, query),
    post: (path, body, query) => call('POST', path, query, body),
  };
}

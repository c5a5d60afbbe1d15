// JSON over HTTP for upstream clients (CMDBs, cloud APIs): one place that classifies failures as unavailable vs bad data.
import { UpstreamDataError, UpstreamUnavailableError } from '../errors.js';

export interface JsonRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Serialised as JSON unless it is already a string (then sent as is). */
  body?: unknown;
  /** Caller's abort (shutdown, job timeout). */
  signal?: AbortSignal;
  timeoutMs: number;
  /** Names the upstream in error messages, e.g. "bkcmdb list_biz_hosts". */
  what: string;
  maxBytes?: number;
}

export interface JsonResponse { status: number; headers: Headers; body: unknown; text: string }

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** A short, single-line excerpt of a response body for error messages. */
export function excerpt(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** Send a request and parse the JSON answer; network errors and timeouts → UpstreamUnavailableError, non-JSON → UpstreamDataError. The status is not judged here. */
export async function requestJson(url: string, req: JsonRequest): Promise<JsonResponse> {
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  let body: string | undefined;
  if (req.body !== undefined) {
    body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { method: req.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, signal, redirect: 'follow' });
    const len = Number(res.headers.get('content-length') ?? 0);
    if (len > (req.maxBytes ?? DEFAULT_MAX_BYTES)) throw new UpstreamDataError(`${req.what}: response of ${len} bytes exceeds the limit`);
    text = await res.text();
  } catch (err) {
    if (err instanceof UpstreamDataError) throw err;
    if (timeout.aborted) throw new UpstreamUnavailableError(`${req.what}: no answer within ${Math.round(req.timeoutMs / 1000)} s`, { cause: err });
    if (req.signal?.aborted) throw new UpstreamUnavailableError(`${req.what}: aborted`, { cause: err });
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new UpstreamUnavailableError(`${req.what}: cannot connect (${cause?.code ?? cause?.message ?? (err as Error).message})`, { cause: err });
  }
  if (text.length > (req.maxBytes ?? DEFAULT_MAX_BYTES)) throw new UpstreamDataError(`${req.what}: response exceeds the size limit`);
  let parsed: unknown;
  try {
    parsed = text.length ? JSON.parse(text) : undefined;
  } catch {
    // A proxy's HTML error page on a 5xx is "unavailable", not "bad data".
    if (res.status === 429 || res.status >= 500) throw new UpstreamUnavailableError(`${req.what}: HTTP ${res.status}: ${excerpt(text)}`);
    throw new UpstreamDataError(`${req.what}: HTTP ${res.status} with a body that is not JSON: ${excerpt(text)}`);
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Throw for a non-2xx status: 401/403/429/5xx → unavailable (refused or down: retry later, act on nothing), other → bad data. */
export function ensureOk(res: JsonResponse, what: string, detail?: string): void {
  if (res.status >= 200 && res.status < 300) return;
  const msg = `${what}: HTTP ${res.status}${detail ? `: ${detail}` : res.text ? `: ${excerpt(res.text)}` : ''}`;
  if (res.status === 401 || res.status === 403) throw new UpstreamUnavailableError(`${msg} (authentication or permission refused)`);
  if (res.status === 408 || res.status === 429 || res.status >= 500) throw new UpstreamUnavailableError(msg);
  throw new UpstreamDataError(msg);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Expand `{name}` placeholders with URL-encoded values; unknown placeholders are left as they are. */
export function expandTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{([A-Za-z]+)\}/g, (m, k: string) => (k in values ? encodeURIComponent(values[k]!) : m));
}

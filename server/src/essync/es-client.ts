// Elasticsearch access through the official v8 client: one client per endpoint, and every failure classified once.
import { Client, errors } from '@elastic/elasticsearch';
import { AppError, UpstreamDataError, UpstreamUnavailableError, ValidationError } from '../errors.js';
import type { EsSyncConfig } from './config-schema.js';
import { isAllowedEndpoint, normalizeEndpoint } from './task-input.js';

/** The clients of one server, keyed by endpoint; credentials go only to endpoints the config allows. */
export class EsClients {
  private readonly clients = new Map<string, Client>();
  constructor(private readonly cfg: EsSyncConfig) {}

  get(endpoint: string): Client {
    const key = normalizeEndpoint(endpoint);
    const existing = this.clients.get(key);
    if (existing) return existing;
    if (!isAllowedEndpoint(key, this.cfg)) {
      throw new ValidationError(`endpoint ${key} is not esSync.endpoint or in esSync.allowedEndpoints`, 'esEndpoint');
    }
    const { username, password, apiKey } = this.cfg.auth;
    const client = new Client({
      node: key,
      auth: apiKey ? { apiKey } : username && password ? { username, password } : undefined,
      caFingerprint: this.cfg.caFingerprint,
      requestTimeout: Math.round(this.cfg.requestTimeout * 1000),
      maxRetries: this.cfg.maxRetries,
      name: 'gitfleet-es-sync',
    });
    this.clients.set(key, client);
    return client;
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.allSettled(all.map((c) => c.close()));
  }
}

/** `type: reason` of an Elasticsearch error body (JSON or text). */
function esReason(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 300);
  const e = (body as { error?: unknown } | null)?.error;
  if (typeof e === 'string') return e.slice(0, 300);
  if (e && typeof e === 'object') {
    const { type, reason } = e as { type?: unknown; reason?: unknown };
    return [type, reason].filter((x) => typeof x === 'string').join(': ').slice(0, 300) || 'no reason given';
  }
  return 'no reason given';
}

/** Turn anything the client throws into UpstreamUnavailableError (try again later) or UpstreamDataError (fix something). */
export function classifyEsError(err: unknown, endpoint: string, timeoutSeconds: number): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof errors.ResponseError) {
    const status = err.meta.statusCode ?? 0;
    const reason = esReason(err.meta.body);
    if (status === 401 || status === 403) return new UpstreamUnavailableError(`Elasticsearch refused the credentials (HTTP ${status} ${reason})`, { cause: err });
    if (status === 404 && reason.startsWith('index_not_found_exception')) return new UpstreamDataError(`index not found (HTTP 404 ${reason})`, { cause: err });
    if (status === 429 || status >= 500) return new UpstreamUnavailableError(`Elasticsearch answered HTTP ${status} (${reason})`, { cause: err });
    return new UpstreamDataError(`Elasticsearch rejected the search (HTTP ${status} ${reason})`, { cause: err });
  }
  if (err instanceof errors.TimeoutError) return new UpstreamUnavailableError(`Elasticsearch did not answer within ${timeoutSeconds}s (esSync.requestTimeout)`, { cause: err });
  if (err instanceof errors.ConnectionError || err instanceof errors.NoLivingConnectionsError) {
    return new UpstreamUnavailableError(`Elasticsearch unreachable at ${endpoint}: ${err.message}`, { cause: err });
  }
  if (err instanceof errors.RequestAbortedError) return new UpstreamUnavailableError('search aborted: the server is shutting down', { cause: err });
  if (err instanceof errors.ProductNotSupportedError) return new UpstreamDataError(`${endpoint} did not answer as Elasticsearch (no X-Elastic-Product header)`, { cause: err });
  if (err instanceof errors.DeserializationError) return new UpstreamDataError('malformed Elasticsearch response: not valid JSON', { cause: err });
  return new UpstreamDataError(`Elasticsearch search failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** Run one _search; resolves to the response body, rejects with a classified AppError. */
export async function searchEs(client: Client, endpoint: string, index: string, body: Record<string, unknown>, opts: { signal?: AbortSignal; timeoutSeconds: number }): Promise<unknown> {
  try {
    // The body is built by buildMetricsSearch; the client's request types are stricter than we need here.
    return await client.search({ index, ...body } as Parameters<Client['search']>[0], { signal: opts.signal });
  } catch (err) {
    throw classifyEsError(err, endpoint, opts.timeoutSeconds);
  }
}

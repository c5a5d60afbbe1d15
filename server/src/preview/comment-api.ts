// The one preview comment on a merge request / pull request: created once, then edited in place.
// GitLab Notes API (PRIVATE-TOKEN) and GitHub issue comments (Bearer); Node's fetch with a timeout, retried on
// 5xx, 429 and network errors. Tokens go only into request headers (never logged, never in errors).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { UpstreamDataError, UpstreamUnavailableError } from '../errors.js';
import type { PreviewsConfig } from './config-schema.js';
import type { PreviewEvent } from './events.js';

const TRIES = 3;

export interface CommentRef { source: PreviewEvent['source']; project: string; number: number }

/** What an edit found: the comment was deleted meanwhile (then a new one is made). */
export class CommentGoneError extends Error {}

interface Call { method: 'POST' | 'PUT' | 'PATCH'; url: string; headers: Record<string, string>; body: string }

function call(cfg: PreviewsConfig, t: CommentRef, body: string, id?: string): Call {
  const json = JSON.stringify({ body });
  if (t.source === 'gitlab') {
    if (!cfg.gitlab.token) throw new UpstreamDataError('previews.gitlab.token is not set: cannot comment on GitLab');
    const base = `${cfg.gitlab.url.replace(/\/+$/, '')}/projects/${encodeURIComponent(t.project)}/merge_requests/${t.number}/notes`;
    return { method: id ? 'PUT' : 'POST', url: id ? `${base}/${encodeURIComponent(id)}` : base, headers: { 'PRIVATE-TOKEN': cfg.gitlab.token, 'content-type': 'application/json' }, body: json };
  }
  if (!cfg.github.token) throw new UpstreamDataError('previews.github.token is not set: cannot comment on GitHub');
  const [owner, repo] = t.project.split('/').map(encodeURIComponent) as [string, string];
  const base = `${cfg.github.url.replace(/\/+$/, '')}/repos/${owner}/${repo}/issues`;
  return {
    method: id ? 'PATCH' : 'POST',
    url: id ? `${base}/comments/${encodeURIComponent(id)}` : `${base}/${t.number}/comments`,
    headers: {
      authorization: `Bearer ${cfg.github.token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28',
      'user-agent': 'gitfleet', 'content-type': 'application/json',
    },
    body: json,
  };
}

/**
 * Create the comment (no id) or edit it (id); returns the comment's id. An edit of a comment that is gone
 * throws CommentGoneError; other failures UpstreamUnavailableError (after retries) or UpstreamDataError.
 */
export async function upsertComment(cfg: PreviewsConfig, t: CommentRef, body: string, id: string | undefined, log: Logger, signal?: AbortSignal): Promise<string> {
  const c = call(cfg, t, body, id);
  let lastProblem = '';
  for (let i = 0; i < TRIES; i++) {
    if (i > 0) await sleep(500 * 2 ** (i - 1), undefined, { signal });
    let res: Response;
    try {
      res = await fetch(c.url, { method: c.method, headers: c.headers, body: c.body, signal: AbortSignal.any([AbortSignal.timeout(cfg.apiTimeout * 1000), ...(signal ? [signal] : [])]) });
    } catch (err) {
      if (signal?.aborted) throw err;
      lastProblem = (err as Error).name === 'TimeoutError' ? `no answer in ${cfg.apiTimeout} s` : (err as Error).message;
      log.warn({ source: t.source, method: c.method, attempt: i + 1, problem: lastProblem }, 'preview comment request failed');
      continue;
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 500 || res.status === 429) {
      lastProblem = `HTTP ${res.status}`;
      log.warn({ source: t.source, method: c.method, attempt: i + 1, status: res.status }, 'preview comment request failed');
      continue;
    }
    if (id && res.status === 404) throw new CommentGoneError(`comment ${id} is gone`);
    if (res.status < 200 || res.status > 299) throw new UpstreamDataError(`${t.source} answered ${c.method} with HTTP ${res.status}: ${text.slice(0, 200)}`);
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch { throw new UpstreamDataError(`${t.source} answered with something other than JSON`); }
    const got = (parsed as { id?: unknown } | null)?.id;
    if ((typeof got !== 'number' || !Number.isSafeInteger(got)) && typeof got !== 'string') throw new UpstreamDataError(`${t.source} answered without a comment id`);
    return String(got);
  }
  throw new UpstreamUnavailableError(`${t.source} comment API unavailable: ${lastProblem}`);
}

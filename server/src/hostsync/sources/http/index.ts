// Source "http": a JSON endpoint listing hosts (optionally across pages linked by a "next" URL in the body).
import { z } from 'zod';
import { UpstreamDataError } from '../../../errors.js';
import { ensureOk, requestJson } from '../../../cmdb/http-json.js';
import { itemsOf, objectFieldOptions, recordFromObject } from '../../flatten.js';
import type { SourceRecord, SourceType } from '../../source.js';

export const id = 'http';

const MAX_PAGES = 10_000;

const options = {
  url: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string()).default({}),
  authHeader: z.string().regex(/^[A-Za-z0-9-]+$/).default('Authorization'),
  authValue: z.string().min(1).optional(),
  /** Dotted path to the list in the answer (default: the answer, or its `hosts`). */
  itemsPath: z.string().min(1).optional(),
  /** Dotted path to the next page's URL in the answer; absent/empty = last page. */
  nextPath: z.string().min(1).optional(),
  /** Seconds per request (the whole run is bounded by the source's `timeout`). */
  requestTimeout: z.number().int().min(1).max(3600).default(60),
  ...objectFieldOptions,
};

function at(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const k of path.split('.')) cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

export const source: SourceType<typeof options> = {
  id,
  options,
  defaultMap: { env: { field: 'env' }, apps: { field: 'apps' }, labels: ['labels.*'] },
  create(o) {
    const headers: Record<string, string> = { ...o.headers };
    if (o.authValue) headers[o.authHeader] = o.authValue;
    return {
      type: id,
      async list(signal) {
        const out: SourceRecord[] = [];
        const seen = new Set<string>();
        let url: string | undefined = o.url;
        for (let page = 0; url; page++) {
          if (page >= MAX_PAGES || seen.has(url)) throw new UpstreamDataError(`http source: paging does not end (page ${page}, ${url})`);
          seen.add(url);
          const what = `http source ${new URL(url).host}`;
          const res = await requestJson(url, { method: 'GET', headers, signal, timeoutMs: o.requestTimeout * 1000, what });
          ensureOk(res, what);
          const items = itemsOf(res.body, o.itemsPath, what);
          const base = out.length;
          items.forEach((item, i) => out.push(recordFromObject(item, base + i, o, what)));
          const next = o.nextPath ? at(res.body, o.nextPath) : undefined;
          if (next !== undefined && next !== null && next !== '' && typeof next !== 'string') throw new UpstreamDataError(`${what}: ${o.nextPath} must be a URL string`);
          if (typeof next === 'string' && next) {
            const resolved: URL = new URL(next, url);
            if (resolved.origin !== new URL(o.url).origin) throw new UpstreamDataError(`${what}: next page ${resolved.origin} is on another origin`);
            url = resolved.toString();
          } else url = undefined;
        }
        return out;
      },
    };
  },
};

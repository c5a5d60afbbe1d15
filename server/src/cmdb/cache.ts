// A short-lived answer cache around a remote CMDB provider (`inventory.cacheTtl`): successes only, concurrent lookups shared.
import type { CmdbProvider, HostQuery, TargetHost } from './provider.js';

interface Entry { expires: number; answer: Promise<TargetHost[]> }

/** Wrap a provider so that an answer for (env, app) is reused for ttlSeconds; failures are never cached. */
export function withCache(inner: CmdbProvider, ttlSeconds: number, now: () => number = Date.now): CmdbProvider {
  const entries = new Map<string, Entry>();
  return {
    id: inner.id,
    resolveHosts(query: HostQuery, signal?: AbortSignal) {
      const key = `${query.env}\u0000${query.app}`;
      const hit = entries.get(key);
      if (hit && hit.expires > now()) return hit.answer.then((hosts) => hosts.map((h) => ({ ...h })));
      const answer = inner.resolveHosts(query, signal);
      const entry = { expires: now() + ttlSeconds * 1000, answer };
      entries.set(key, entry);
      answer.catch(() => { if (entries.get(key) === entry) entries.delete(key); });
      return answer.then((hosts) => hosts.map((h) => ({ ...h })));
    },
    invalidate() {
      entries.clear();
      inner.invalidate?.();
    },
  };
}

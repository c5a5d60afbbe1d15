// Explicit registry of CMDB providers: one folder per provider under providers/, each listed here.
import { ConfigError } from '../errors.js';
import { withCache } from './cache.js';
import type { CmdbProvider, ProviderDeps, ProviderFactory } from './provider.js';
import * as bkcmdb from './providers/bkcmdb/index.js';
import * as builtin from './providers/builtin/index.js';
import * as http from './providers/http/index.js';

export const providers: ReadonlyMap<string, ProviderFactory> = new Map([
  [builtin.id, builtin.create],
  [http.id, http.create],
  [bkcmdb.id, bkcmdb.create],
]);

/** The configured provider (remote ones behind the answer cache when cacheTtl > 0); an unknown id is a ConfigError naming the known ones. */
export function createProvider(deps: ProviderDeps): CmdbProvider {
  const id = deps.config.inventory.provider;
  const factory = providers.get(id);
  if (!factory) throw new ConfigError([`inventory.provider: unknown provider ${JSON.stringify(id)}; known: ${[...providers.keys()].join(', ')}`]);
  const provider = factory(deps);
  // The built-in inventory is a local query: caching it would only hide fresh changes (new-host converge).
  const ttl = deps.config.inventory.cacheTtl;
  return ttl > 0 && id !== builtin.id ? withCache(provider, ttl) : provider;
}

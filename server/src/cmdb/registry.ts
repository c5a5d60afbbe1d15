// Explicit registry of CMDB providers: one folder per provider under providers/, each listed here.
import { ConfigError } from '../errors.js';
import type { CmdbProvider, ProviderDeps, ProviderFactory } from './provider.js';
import * as builtin from './providers/builtin/index.js';

export const providers: ReadonlyMap<string, ProviderFactory> = new Map([
  [builtin.id, builtin.create],
]);

/** The configured provider; an unknown id is a ConfigError naming the known ones. */
export function createProvider(deps: ProviderDeps): CmdbProvider {
  const id = deps.config.inventory.provider;
  const factory = providers.get(id);
  if (!factory) throw new ConfigError([`inventory.provider: unknown provider ${JSON.stringify(id)}; known: ${[...providers.keys()].join(', ')}`]);
  return factory(deps);
}

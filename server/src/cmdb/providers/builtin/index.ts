// The built-in inventory (SQLite) as a CMDB provider.
import { listHosts } from '../../../db/hosts.js';
import type { CmdbProvider, ProviderFactory } from '../../provider.js';

export const id = 'builtin';

export const create: ProviderFactory = ({ db }): CmdbProvider => ({
  id,
  async resolveHosts({ env, app }) {
    const hosts = await listHosts(db, { env, app });
    return hosts.map((h) => ({ ip: h.ip, hostname: h.hostname, port: h.port, user: h.user }));
  },
});

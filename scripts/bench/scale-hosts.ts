// The benchmark's inventory: n hosts in one env/app, inserted with the inventory's own repository function in one
// transaction (there is no bulk endpoint; one POST per host would also start a new-host converge for each).
import { insertHost } from '../../server/src/db/hosts.js';
import type { Db } from '../../server/src/db/connection.js';

/** The i-th bench host's IP (i from 0): 10.0.0.1, 10.0.0.2, …. */
export const benchIp = (i: number) => `10.${((i + 1) >> 16) & 255}.${((i + 1) >> 8) & 255}.${(i + 1) & 255}`;

export async function insertBenchHosts(db: Db, n: number, env: string, app: string): Promise<string[]> {
  const ips = Array.from({ length: n }, (_, i) => benchIp(i));
  const now = new Date().toISOString();
  await db.tx(async (q) => {
    for (const ip of ips) await insertHost(q, { ip, env, apps: [app], labels: {} }, { source: 'manual' }, now);
  });
  return ips;
}

// What the built-in inventory knows about hosts, by address: the facts templates read (README "Templates and secrets").
import type { Queryable } from './connection.js';
import type { HostInfo } from '../templating/vars.js';

// A host's apps in one column, sorted, joined by the unit separator (each dialect's aggregate; as db/hosts.ts).
const APPS = {
  sqlite: '(SELECT group_concat(app, char(31)) FROM (SELECT app FROM host_apps a WHERE a.host_id = h.id ORDER BY app))',
  postgres: '(SELECT string_agg(app, chr(31) ORDER BY app) FROM host_apps a WHERE a.host_id = h.id)',
};

interface Row { ip: string; hostname: string | null; env: string; labels: string; source: string; facts: string | null; apps: string | null }

/** Inventory records of these addresses (absent ones are left out: an external CMDB's hosts may not be stored). */
export async function hostInfoByIp(q: Queryable, ips: string[]): Promise<Map<string, HostInfo>> {
  const out = new Map<string, HostInfo>();
  for (let i = 0; i < ips.length; i += 500) {
    const part = ips.slice(i, i + 500);
    const rows = await q.all<Row>(
      `SELECT h.ip, h.hostname, h.env, h.labels, h.source, h.facts,
        ${APPS[q.dialect]} AS apps
       FROM hosts h WHERE h.ip IN (${part.map(() => '?').join(',')})`, part);
    for (const r of rows) {
      out.set(r.ip, {
        ip: r.ip, hostname: r.hostname, env: r.env, source: r.source,
        apps: r.apps ? r.apps.split('\u001f') : [],
        labels: JSON.parse(r.labels) as Record<string, string>,
        facts: r.facts ? (JSON.parse(r.facts) as Record<string, unknown>) : null,
      });
    }
  }
  return out;
}

// Built-in inventory storage: hosts and their apps. Every parameter bound.
import type { Param, Queryable } from './connection.js';

export interface HostInput {
  ip: string;
  hostname?: string | null;
  env: string;
  apps: string[];
  port?: number | null;
  user?: string | null;
  labels?: Record<string, string>;
}

export interface Host {
  id: number;
  ip: string;
  hostname: string | null;
  env: string;
  apps: string[];
  port: number | null;
  user: string | null;
  labels: Record<string, string>;
  source: string;
  sourceUid: string | null;
  hash: string | null;
  identity: string | null;
  metrics: Record<string, unknown> | null;
  metricsAt: string | null;
  facts?: Record<string, unknown> | null;
  factsAt: string | null;
  factsVia: string | null;
  createdAt: string;
  updatedAt: string;
}

interface HostRow {
  id: number; ip: string; hostname: string | null; env: string; port: number | null; user: string | null;
  labels: string; source: string; source_uid: string | null; hash: string | null; identity: string | null;
  facts: string | null; facts_at: string | null; facts_via: string | null; metrics: string | null; metrics_at: string | null;
  created_at: string; updated_at: string; apps: string | null;
}

export interface HostFilter { env?: string; app?: string; ip?: string; source?: string; limit?: number; offset?: number }

// A host's apps in one column, sorted, joined by the unit separator (each dialect's aggregate).
const APPS = {
  sqlite: '(SELECT group_concat(app, char(31)) FROM (SELECT app FROM host_apps a WHERE a.host_id = h.id ORDER BY app))',
  postgres: '(SELECT string_agg(app, chr(31) ORDER BY app) FROM host_apps a WHERE a.host_id = h.id)',
};
const selectFor = (q: Queryable) => `SELECT h.*, ${APPS[q.dialect]} AS apps FROM hosts h`;

function toHost(r: HostRow, withFacts: boolean): Host {
  const host: Host = {
    id: r.id, ip: r.ip, hostname: r.hostname, env: r.env,
    apps: r.apps ? r.apps.split('\u001f') : [],
    port: r.port, user: r.user, labels: JSON.parse(r.labels) as Record<string, string>,
    source: r.source, sourceUid: r.source_uid, hash: r.hash, identity: r.identity,
    metrics: r.metrics ? (JSON.parse(r.metrics) as Record<string, unknown>) : null, metricsAt: r.metrics_at,
    factsAt: r.facts_at, factsVia: r.facts_via,
    createdAt: r.created_at, updatedAt: r.updated_at,
  };
  if (withFacts) host.facts = r.facts ? (JSON.parse(r.facts) as Record<string, unknown>) : null;
  return host;
}

function whereOf(f: HostFilter): { sql: string; params: Param[] } {
  const where: string[] = [];
  const params: Param[] = [];
  if (f.env) { where.push('h.env = ?'); params.push(f.env); }
  if (f.ip) { where.push('h.ip = ?'); params.push(f.ip); }
  if (f.source) { where.push('h.source = ?'); params.push(f.source); }
  if (f.app) { where.push('EXISTS (SELECT 1 FROM host_apps a WHERE a.host_id = h.id AND a.app = ?)'); params.push(f.app); }
  return { sql: where.length ? ` WHERE ${where.join(' AND ')}` : '', params };
}

export async function listHosts(q: Queryable, f: HostFilter = {}): Promise<Host[]> {
  const { sql: where, params } = whereOf(f);
  let sql = `${selectFor(q)}${where} ORDER BY h.id`;
  if (f.limit !== undefined) { sql += ' LIMIT ? OFFSET ?'; params.push(f.limit, f.offset ?? 0); }
  return (await q.all<HostRow>(sql, params)).map((r) => toHost(r, false));
}

export async function countHosts(q: Queryable, f: HostFilter = {}): Promise<number> {
  const { sql: where, params } = whereOf(f);
  const row = await q.get<{ n: number }>(`SELECT count(*) AS n FROM hosts h${where}`, params);
  return row?.n ?? 0;
}

export async function getHost(q: Queryable, id: number, withFacts = true): Promise<Host | undefined> {
  const r = await q.get<HostRow>(`${selectFor(q)} WHERE h.id = ?`, [id]);
  return r && toHost(r, withFacts);
}

export async function getHostByIp(q: Queryable, ip: string): Promise<Host | undefined> {
  const r = await q.get<HostRow>(`${selectFor(q)} WHERE h.ip = ?`, [ip]);
  return r && toHost(r, false);
}

export async function getHostByIdentity(q: Queryable, identity: string): Promise<Host | undefined> {
  const r = await q.get<HostRow>(`${selectFor(q)} WHERE h.identity = ?`, [identity]);
  return r && toHost(r, false);
}

export interface HostMeta { source?: string; sourceUid?: string | null; hash?: string | null; identity?: string | null }

async function setApps(q: Queryable, id: number, apps: string[]): Promise<void> {
  await q.run('DELETE FROM host_apps WHERE host_id = ?', [id]);
  for (const app of new Set(apps)) await q.run('INSERT INTO host_apps (host_id, app) VALUES (?, ?)', [id, app]);
}

export async function insertHost(q: Queryable, h: HostInput, meta: HostMeta, now: string): Promise<number> {
  const id = await q.insert(
    `INSERT INTO hosts (ip, hostname, env, port, "user", labels, source, source_uid, hash, identity, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [h.ip, h.hostname ?? null, h.env, h.port ?? null, h.user ?? null, JSON.stringify(h.labels ?? {}),
      meta.source ?? 'manual', meta.sourceUid ?? null, meta.hash ?? null, meta.identity ?? null, now, now],
  );
  await setApps(q, id, h.apps);
  return id;
}

export async function updateHost(q: Queryable, id: number, h: HostInput, meta: HostMeta, now: string): Promise<boolean> {
  const r = await q.run(
    `UPDATE hosts SET ip = ?, hostname = ?, env = ?, port = ?, "user" = ?, labels = ?, hash = COALESCE(?, hash), updated_at = ? WHERE id = ?`,
    [h.ip, h.hostname ?? null, h.env, h.port ?? null, h.user ?? null, JSON.stringify(h.labels ?? {}), meta.hash ?? null, now, id],
  );
  if (r.changes === 0) return false;
  await setApps(q, id, h.apps);
  return true;
}

export async function deleteHost(q: Queryable, id: number): Promise<boolean> {
  return (await q.run('DELETE FROM hosts WHERE id = ?', [id])).changes > 0;
}

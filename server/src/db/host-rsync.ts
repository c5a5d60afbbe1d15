// The rsync each host runs, as its last push saw it (deploy/host-prepare.ts asks).
import type { Queryable } from './connection.js';

export interface HostRsync { versionLine: string; version: string | null; supported: boolean; problem: string | null; checkedAt: string }

type Row = { ip: string; version_line: string; supported: number; problem: string | null; checked_at: string };

const view = (r: Row): HostRsync => ({
  versionLine: r.version_line, version: /version\s+v?(\d+\.\d+\.\d+\S*)/.exec(r.version_line)?.[1] ?? null,
  supported: r.supported === 1, problem: r.problem, checkedAt: r.checked_at,
});

export async function hostRsyncByIp(q: Queryable, ips?: string[]): Promise<Map<string, HostRsync>> {
  const rows = ips === undefined ? await q.all<Row>('SELECT * FROM host_rsync')
    : ips.length === 0 ? [] : await q.all<Row>(`SELECT * FROM host_rsync WHERE ip IN (${ips.map(() => '?').join(',')})`, ips);
  return new Map(rows.map((r) => [r.ip, view(r)]));
}

export async function setHostRsync(q: Queryable, ip: string, versionLine: string, problem: string | undefined, now: string): Promise<void> {
  await q.run(`INSERT INTO host_rsync (ip, version_line, supported, problem, checked_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (ip) DO UPDATE SET version_line = excluded.version_line, supported = excluded.supported, problem = excluded.problem, checked_at = excluded.checked_at`,
  [ip, versionLine, problem ? 0 : 1, problem ?? null, now]);
}

// The API's shapes as the dashboard reads them (from server/src/deploy/types.ts, db/hosts.ts, hostsync, essync).
export type DeploymentStatus = 'queued' | 'running' | 'succeeded' | 'partial' | 'failed' | 'interrupted' | 'held';
export type HostPushStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'aborted' | 'skipped';

export interface HostPushView {
  unit: string; ip: string; hostname: string | null; status: HostPushStatus; exitCode: number | null; reason: string | null;
  filesChanged: number | null; changes: string[]; stderrTail: string | null; attempts: number; durationMs: number | null;
  startedAt: string | null; finishedAt: string | null;
}
export interface UnitView { unit: string; commit: string | null; status: string; reason: string | null; hostCount: number; startedAt: string | null; finishedAt: string | null }
export interface DeploymentView {
  id: number; trigger: string; actor: string | null; branch: string; before: string | null; after: string | null;
  request: { kind: string; dryRun?: boolean; units?: string[]; commit?: string; hosts?: string[] };
  units: string[]; status: DeploymentStatus; error: string | null;
  createdAt: string; startedAt: string | null; finishedAt: string | null;
  unitResults?: UnitView[]; hosts?: HostPushView[];
}
export interface Paged<T> { items: T[]; total: number; limit: number; offset: number }
export interface UnitListItem {
  unit: string; inRepo: boolean; lastCommit: string | null; lastDeployedAt: string | null; deployedHosts: number; upToDate: boolean;
  failing: { since: string; failures: number; lastDeploymentId: number; lastReason: string | null } | null;
  drift: { in_sync: number; drifted: number; unreachable: number; error: number; checkedAt?: string } | null;
}
export interface Host {
  id: number; ip: string; hostname: string | null; env: string; apps: string[]; source: string; labels: Record<string, string>;
  facts?: Record<string, unknown> | null; factsAt: string | null; factsVia: string | null; metricsAt: string | null; createdAt: string; updatedAt: string;
  rsync?: { versionLine: string; problem: string | null; checkedAt: string } | null;
}
export type CellState = 'in_sync' | 'behind' | 'drifted' | 'failed' | 'unreachable';
/** GET /api/v1/matrix: columnar; cell (h, u) is at h × units.length + u in `state` and `commit` (-1: none). */
export interface Matrix {
  head: string | null;
  units: Array<{ unit: string; target: string | null }>;
  ips: string[];
  hostnames: Array<string | null>;
  commits: string[];
  states: CellState[];
  state: number[];
  commit: number[];
}
export interface Session { open: boolean; signedIn: boolean; actor: string | null; csrfToken: string | null; expiresAt: string | null }

// Deployment requests, statuses and result shapes shared by the deployer, the API and the records.
/** held: done, except units a sync window holds (they run in a deployment of their own when it lets them). */
export type DeploymentStatus = 'queued' | 'running' | 'succeeded' | 'partial' | 'failed' | 'interrupted' | 'held';
export type UnitStatus = 'pending' | 'running' | 'succeeded' | 'partial' | 'failed' | 'no_hosts' | 'held';
export type HostPushStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'aborted' | 'skipped';

export type Trigger = 'gitlab' | 'github' | 'poller' | 'manual' | 'converge' | 'rollback' | 'recovery' | 'api' | 'self-heal';

/** Deploy what changed on the branch since the last processed commit (webhooks, poller). */
export interface PushRequest {
  kind: 'push';
  trigger: Trigger;
  actor?: string;
  /** From the payload: hints only (the server's own git diff decides). */
  before?: string;
  after?: string;
}

/** Full sync of selected units (manual /sync, converge of a new host, rollback to a commit). */
export interface SyncRequest {
  kind: 'sync';
  trigger: Trigger;
  actor?: string;
  /** Unit keys "mod/env/app", or a selection resolved against the repo at run time. */
  units?: string[];
  select?: { env: string; app: string; mod?: string };
  /** Restrict to these IPs (converge of one host). */
  hosts?: string[];
  /** Deploy this commit instead of the branch head (rollback). */
  commit?: string;
  /** Releases units sync windows held in these deployments (README "Sync windows"): a unit gone from the repo since is removed, as its push would have. */
  releaseOf?: number[];
  /** A manual sync that went ahead although a sync window blocked it: who, why, which windows (README "Sync windows"). */
  override?: { actor: string; reason: string; windows: string[] };
  /** Report what would change on each host, change nothing. */
  dryRun?: boolean;
  /** Go ahead with removals the deletion circuit breaker held. */
  confirmDeletions?: boolean;
  /** Every file through rsync (no probe, no shell writes): a full, rebuilt push of the unit. */
  force?: boolean;
}

export type DeployRequest = (PushRequest | SyncRequest) & { resumeOf?: number };

export interface HostPushView {
  unit: string; ip: string; hostname: string | null; status: HostPushStatus; exitCode: number | null; reason: string | null;
  filesChanged: number | null; changes: string[]; stderrTail: string | null; attempts: number; durationMs: number | null;
  startedAt: string | null; finishedAt: string | null;
  /** Templated units: the first 16 hex digits of the SHA-256 of what this host's templates rendered to. */
  renderHash?: string;
}

export interface UnitView { unit: string; commit: string | null; status: UnitStatus; reason: string | null; hostCount: number; startedAt: string | null; finishedAt: string | null }

export interface DeploymentView {
  id: number; trigger: Trigger; actor: string | null; branch: string; before: string | null; after: string | null;
  request: DeployRequest; units: string[]; status: DeploymentStatus; error: string | null;
  createdAt: string; startedAt: string | null; finishedAt: string | null;
  unitResults?: UnitView[]; hosts?: HostPushView[];
  /** On the 'finished' event: every unit that failed had failed in its previous run too (notified already). */
  repeatFailure?: boolean;
}

/** A recorded state change, for live views (events/live-bus.ts): the record itself is read from the API. */
export type DeployChange =
  | { kind: 'deployment'; id: number; status: DeploymentStatus }
  | { kind: 'unit'; deploymentId: number; unit: string; status: UnitStatus }
  | { kind: 'host'; deploymentId: number; unit: string; ip: string; status: HostPushStatus | 'running' };

export const FINAL_STATUSES: ReadonlySet<DeploymentStatus> = new Set(['succeeded', 'partial', 'failed', 'interrupted', 'held']);

// Domain types of the ES metrics sync: tasks, runs (execution logs) and per-host results.

export type RunStatus = 'running' | 'success' | 'partial' | 'failed';
export type HostStatus = 'success' | 'failed' | 'not_in_pool' | 'no_data';
/** What started a run: its cron schedule, a manual list of IPs, or an uploaded file of IPs. */
export type RunTrigger = 'schedule' | 'manual' | 'upload';

export interface EsSyncTask {
  id: number;
  name: string;
  description: string;
  /** null = the configured esSync.endpoint (follows config changes). */
  esEndpoint: string | null;
  indexPattern: string;
  cron: string;
  timeRange: string;
  enabled: boolean;
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What a task stores; validated by parseTaskInput. */
export type TaskInput = Pick<EsSyncTask, 'name' | 'description' | 'esEndpoint' | 'indexPattern' | 'cron' | 'timeRange' | 'enabled' | 'createdBy'>;

/** Metrics of one host over the run's window, in percent (0-100; CPU is normalised by core count). */
export interface HostMetrics {
  cpuMax: number | null;
  cpuAvg: number | null;
  memMax: number | null;
  memAvg: number | null;
  diskMax: number | null;
  diskAvg: number | null;
  /** Documents in the host's bucket (CPU, memory and filesystem samples together). */
  dataPoints: number;
  /** Time of the newest sample, ISO. */
  lastSampleAt: string | null;
  /** host.name as Elasticsearch knows it. */
  esHostname: string | null;
}

export interface HostResult {
  ip: string;
  hostname: string | null;
  status: HostStatus;
  error: string | null;
  metrics: HostMetrics | null;
}

export interface RunCounts {
  totalHosts: number;
  successCount: number;
  failedCount: number;
  notInPoolCount: number;
  noDataCount: number;
}

export interface RunRecord extends RunCounts {
  id: number;
  taskId: number;
  taskName: string;
  trigger: RunTrigger;
  status: RunStatus;
  timeRange: string;
  esEndpoint: string;
  indexPattern: string;
  requests: number;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
}

export interface RunHostRow extends HostMetricsColumns {
  ip: string;
  hostname: string | null;
  status: HostStatus;
  error: string | null;
}

export type HostMetricsColumns = { [K in 'cpuMax' | 'cpuAvg' | 'memMax' | 'memAvg' | 'diskMax' | 'diskAvg']: number | null } & {
  dataPoints: number | null;
  lastSampleAt: string | null;
};

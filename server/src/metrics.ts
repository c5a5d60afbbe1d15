// Prometheus metrics, one registry per context (no global default registry, so tests stay independent).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  deployments: Counter<'status' | 'trigger'>;
  hostPushes: Counter<'status'>;
  pushDuration: Histogram<'status'>;
  queueDepth: Gauge<string>;
  sshConnectionsOpen: Gauge<string>;
  sshConnections: Counter<'event'>;
  probes: Counter<'result'>;
  shellWrites: Counter<'result'>;
  sshOpenDuration: Histogram<string>;
  unitDrift: Gauge<'unit' | 'state'>;
  unitFailing: Gauge<'unit'>;
  /** Cluster: host pushes queued and not yet claimed, per data centre ('' = hosts without one). */
  hostQueueDepth: Gauge<'dc'>;
  /** Cluster: leases that expired and were returned to the queue (a worker or coordinator died or stalled). */
  leaseExpiries: Counter<'kind' | 'dc'>;
  /** 1 while this process leads (runs the scheduled duties), else 0: cluster/leader.ts. */
  leader: Gauge<'node'>;
  leaderChanges: Counter<string>;
}

export function createMetrics(withDefaults = true): Metrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'gitfleet_process_' });
  const registers = [registry];
  return {
    registry,
    deployments: new Counter({ name: 'gitfleet_deployments_total', help: 'Deployments finished, by final status and trigger', labelNames: ['status', 'trigger'], registers }),
    hostPushes: new Counter({ name: 'gitfleet_host_pushes_total', help: 'Host pushes finished, by status', labelNames: ['status'], registers }),
    pushDuration: new Histogram({ name: 'gitfleet_host_push_duration_seconds', help: 'Duration of one host push including retries', labelNames: ['status'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers }),
    queueDepth: new Gauge({ name: 'gitfleet_deploy_queue_depth', help: 'Deployments queued and not yet started', registers }),
    hostQueueDepth: new Gauge({ name: 'gitfleet_host_queue_depth', help: 'Cluster: host pushes queued and not yet claimed, per data centre', labelNames: ['dc'], registers }),
    leaseExpiries: new Counter({ name: 'gitfleet_lease_expiries_total', help: 'Cluster: expired leases returned to the queue, by kind (host_push, deployment) and data centre', labelNames: ['kind', 'dc'], registers }),
    sshConnectionsOpen: new Gauge({ name: 'gitfleet_ssh_connections_open', help: 'SSH master connections currently open', registers }),
    sshConnections: new Counter({ name: 'gitfleet_ssh_connections_total', help: 'SSH master connection events: opened, reused, closed, failed', labelNames: ['event'], registers }),
    probes: new Counter({ name: 'gitfleet_probes_total', help: 'Probes of hosts before rsync: in_sync (no rsync), differs (rsync on those paths), unknown (full rsync), timeout, failed (connection)', labelNames: ['result'], registers }),
    shellWrites: new Counter({ name: 'gitfleet_shell_writes_total', help: 'Probed differences written through the host shell instead of rsync: done, partial (rsync finished), unknown (rsync did it all), timeout, failed (connection)', labelNames: ['result'], registers }),
    unitDrift: new Gauge({ name: 'gitfleet_unit_hosts', help: 'Hosts of a unit by drift state at the last drift check', labelNames: ['unit', 'state'], registers }),
    unitFailing: new Gauge({ name: 'gitfleet_unit_failing_runs', help: 'Runs in a row a unit has failed (0 once it succeeds again)', labelNames: ['unit'], registers }),
    leader: new Gauge({ name: 'gitfleet_leader', help: 'This process leads (1) and runs the scheduled duties, or not (0)', labelNames: ['node'], registers }),
    leaderChanges: new Counter({ name: 'gitfleet_leader_changes_total', help: 'Times this process gained or lost leadership', registers }),
    sshOpenDuration: new Histogram({ name: 'gitfleet_ssh_connection_open_seconds', help: 'Time to open an SSH master connection', buckets: [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10], registers }),
  };
}

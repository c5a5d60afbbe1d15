// Prometheus counters of the ES metrics sync, registered on the server's own registry.
import { Counter, type Registry } from 'prom-client';

export interface EsSyncStats {
  runs: Counter<'status' | 'trigger'>;
  requests: Counter<string>;
  skipped: Counter<string>;
}

export function createEsSyncStats(registry: Registry): EsSyncStats {
  const registers = [registry];
  return {
    runs: new Counter({ name: 'gitfleet_es_sync_runs_total', help: 'ES metrics sync runs finished, by status and trigger', labelNames: ['status', 'trigger'], registers }),
    requests: new Counter({ name: 'gitfleet_es_sync_requests_total', help: 'Aggregation searches sent to Elasticsearch', registers }),
    skipped: new Counter({ name: 'gitfleet_es_sync_skipped_runs_total', help: 'Scheduled runs skipped because the previous run of the task was still active', registers }),
  };
}

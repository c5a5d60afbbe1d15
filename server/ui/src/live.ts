// The live stream: one EventSource on /api/v1/events; each event marks the queries it touches stale (batched over
// 150 ms), so pages re-read the API within a second of a change, without polling. The browser reconnects by itself
// (the server's `retry:`), sending Last-Event-ID; after a reconnect everything is re-read (changes may have been missed).
import type { QueryClient, QueryKey } from '@tanstack/react-query';
import { useEffect, useState } from 'react';

interface Wire { type: string; data: Record<string, unknown> }

export function keysFor(e: Wire): QueryKey[] {
  const d = e.data;
  switch (e.type) {
    case 'deployment': return [['deployments'], ['deployment', d.id], ['units']];
    case 'unit': return [['deployment', d.deploymentId], ['units'], ['unit', d.unit]];
    case 'host': return [['deployment', d.deploymentId], ...(d.status === 'running' ? [] : [['matrix'], ['unit', d.unit], ['hosts']])];
    case 'drift': return [['units'], ['matrix'], ['unit', d.unit]];
    case 'hostsync.run': return [['hostSync'], ['hosts']];
    case 'essync.run': return [['esSync']];
    case 'inventory': return [['hosts'], ['matrix']];
    case 'window': return [['windows'], ['units'], ['deployments']];
    default: return [];
  }
}

export function useLiveEvents(qc: QueryClient, enabled: boolean): 'connecting' | 'live' | 'down' {
  const [state, setState] = useState<'connecting' | 'live' | 'down'>('connecting');
  useEffect(() => {
    if (!enabled) return;
    const es = new EventSource('/api/v1/events');
    let opened = 0;
    const pending = new Map<string, QueryKey>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      timer = undefined;
      for (const k of pending.values()) void qc.invalidateQueries({ queryKey: k });
      pending.clear();
    };
    es.onopen = () => {
      setState('live');
      if (opened++ > 0) void qc.invalidateQueries();
    };
    es.onerror = () => setState(es.readyState === EventSource.CLOSED ? 'down' : 'down');
    es.onmessage = (m) => {
      let e: Wire;
      try { e = JSON.parse(m.data as string) as Wire; } catch { return; }
      if (e.type === 'resync') { void qc.invalidateQueries(); return; }
      for (const k of keysFor(e)) pending.set(JSON.stringify(k), k);
      timer ??= setTimeout(flush, 150);
    };
    return () => { es.close(); if (timer) clearTimeout(timer); };
  }, [qc, enabled]);
  return state;
}

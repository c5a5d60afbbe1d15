// Live events across nodes (PostgreSQL): what this node's LiveBus publishes goes out on topic gitfleet_live; what
// other nodes send comes into the local bus marked remote, so it is never sent again (no echo). A dashboard on any
// API node thus sees every node's changes. Lost notifications cost a refetch: after a LISTEN reconnect the bus
// publishes 'resync'.
import type { Logger } from 'pino';
import type { LiveBus, LiveEvent, LiveEventType } from '../events/live-bus.js';
import { MAX_PAYLOAD_BYTES, type Channel } from './channel.js';

export const LIVE_TOPIC = 'gitfleet_live';

const TYPES: ReadonlySet<string> = new Set<LiveEventType>(['deployment', 'unit', 'host', 'drift', 'hostsync.run', 'essync.run', 'inventory', 'window']);

/** Fields kept when an event's data is too big to send: what a client needs to know which record to re-read. */
const ID_FIELDS = ['id', 'deploymentId', 'unit', 'ip', 'status', 'change', 'source', 'taskId', 'runId', 'name', 'origin'];

/** Events waiting to be sent while the database is slow or away: beyond this the oldest are dropped (hints only). */
const MAX_QUEUED = 1000;

export interface WireEvent { node: string; type: LiveEventType; at: string; data: Record<string, unknown> }

/** The notification payload of an event: its data replaced by `{truncated: true}` plus its ids when too big. */
export function encodeLive(node: string, e: Pick<LiveEvent, 'type' | 'at' | 'data'>, maxBytes = MAX_PAYLOAD_BYTES): string {
  const full = JSON.stringify({ node, type: e.type, at: e.at, data: e.data });
  if (Buffer.byteLength(full, 'utf8') <= maxBytes) return full;
  const data: Record<string, unknown> = { truncated: true };
  for (const k of ID_FIELDS) {
    const v = e.data[k];
    if ((typeof v === 'number' || typeof v === 'boolean') || (typeof v === 'string' && v.length <= 256)) data[k] = v;
  }
  return JSON.stringify({ node, type: e.type, at: e.at, data });
}

/** A payload from the channel, or null when it is not one of ours. */
export function decodeLive(payload: string): WireEvent | null {
  let v: unknown;
  try { v = JSON.parse(payload); } catch { return null; }
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (typeof o.node !== 'string' || typeof o.type !== 'string' || !TYPES.has(o.type) || typeof o.at !== 'string') return null;
  if (!o.data || typeof o.data !== 'object' || Array.isArray(o.data)) return null;
  return { node: o.node, type: o.type as LiveEventType, at: o.at, data: o.data as Record<string, unknown> };
}

export interface LiveBridge {
  stop(): void;
  /** Sent since start / received from other nodes / dropped (queue full or send failed). */
  readonly counts: { sent: number; received: number; dropped: number };
}

/** Bridge `bus` and `channel` for node `node` (its id: cluster/node.ts). */
export function startLiveBridge(o: { bus: LiveBus; channel: Channel; node: string; log: Logger }): LiveBridge {
  const counts = { sent: 0, received: 0, dropped: 0 };
  const queue: string[] = [];
  let sending = false;
  let stopped = false;
  let warned = 0;
  const problem = (err: unknown, msg: string) => {
    // At most one warning a minute: a database outage must not flood the log once per event.
    if (Date.now() - warned < 60_000) return;
    warned = Date.now();
    o.log.warn({ err, dropped: counts.dropped }, msg);
  };
  // One NOTIFY at a time: events of this node arrive elsewhere in the order they happened here.
  const pump = async () => {
    if (sending) return;
    sending = true;
    while (queue.length && !stopped) {
      const payload = queue.shift()!;
      try {
        await o.channel.notify(LIVE_TOPIC, payload);
        counts.sent++;
      } catch (err) {
        counts.dropped++;
        problem(err, 'live bridge: an event could not be sent to the other nodes');
      }
    }
    sending = false;
  };
  const unsubscribe = o.bus.subscribe((e) => {
    if (e.remote !== undefined || e.type === 'resync' || stopped) return; // relayed, or about this node's own listening
    queue.push(encodeLive(o.node, e));
    if (queue.length > MAX_QUEUED) {
      queue.shift();
      counts.dropped++;
      problem(undefined, 'live bridge: events are queued faster than the database takes them; dropping the oldest');
    }
    void pump();
  });
  const unlisten = o.channel.listen(LIVE_TOPIC, (payload) => {
    const w = decodeLive(payload);
    if (!w || w.node === o.node) return; // ours (this node's listener hears its own notifications) or not ours
    counts.received++;
    o.bus.publish(w.type, w.data, { remote: w.node, at: w.at });
  });
  const unreconnect = o.channel.onReconnect(() => o.bus.resync('event stream reconnected to the database'));
  return {
    counts,
    stop() {
      stopped = true;
      unsubscribe();
      unlisten();
      unreconnect();
    },
  };
}

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

/** Events waiting to be sent while the database is slow or away: beyond this they are dropped for a resync. */
const MAX_QUEUED = 10_000;

export interface WireEvent { type: LiveEventType; at: string; data: Record<string, unknown> }
/**
 * A notification on gitfleet_live: this node's events in order, as many as fit (a burst of thousands goes out in few
 * NOTIFYs), or `resync` when this node dropped events the others should have had.
 */
export type WireMessage = { node: string; events: WireEvent[] } | { node: string; resync: true };

/** One event for the wire: its data replaced by `{truncated: true}` plus its ids when it is too big to send. */
export function encodeEvent(e: Pick<LiveEvent, 'type' | 'at' | 'data'>, maxBytes = MAX_PAYLOAD_BYTES - 200): string {
  const full = JSON.stringify({ type: e.type, at: e.at, data: e.data });
  if (Buffer.byteLength(full, 'utf8') <= maxBytes) return full;
  const data: Record<string, unknown> = { truncated: true };
  for (const k of ID_FIELDS) {
    const v = e.data[k];
    if ((typeof v === 'number' || typeof v === 'boolean') || (typeof v === 'string' && v.length <= 256)) data[k] = v;
  }
  return JSON.stringify({ type: e.type, at: e.at, data });
}

/** The payload carrying encoded events (encodeEvent's output) of `node`. */
export function encodeBatch(node: string, encoded: string[]): string {
  return `{"node":${JSON.stringify(node)},"events":[${encoded.join(',')}]}`;
}

function decodeEvent(v: unknown): WireEvent | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (typeof o.type !== 'string' || !TYPES.has(o.type) || typeof o.at !== 'string') return null;
  if (!o.data || typeof o.data !== 'object' || Array.isArray(o.data)) return null;
  return { type: o.type as LiveEventType, at: o.at, data: o.data as Record<string, unknown> };
}

/** A payload from the channel, or null when it is not one of ours (malformed events in a batch are left out). */
export function decodeLive(payload: string): WireMessage | null {
  let v: unknown;
  try { v = JSON.parse(payload); } catch { return null; }
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (typeof o.node !== 'string') return null;
  if (o.resync === true) return { node: o.node, resync: true };
  if (!Array.isArray(o.events)) return null;
  return { node: o.node, events: o.events.map(decodeEvent).filter((e): e is WireEvent => e !== null) };
}

export interface LiveBridge {
  stop(): void;
  /** Events sent since start / received from other nodes / dropped (queue full or a failed send); notifications sent. */
  readonly counts: { sent: number; received: number; dropped: number; notifications: number };
}

/** Bridge `bus` and `channel` for node `node` (its id: cluster/node.ts). */
export function startLiveBridge(o: { bus: LiveBus; channel: Channel; node: string; log: Logger }): LiveBridge {
  const counts = { sent: 0, received: 0, dropped: 0, notifications: 0 };
  let queue: string[] = [];
  /** Events were dropped here: the other nodes are told to resync before anything else is sent. */
  let owesResync = false;
  let sending = false;
  let stopped = false;
  let warned = 0;
  const problem = (err: unknown, msg: string) => {
    // At most one warning a minute: a database outage must not flood the log once per event.
    if (Date.now() - warned < 60_000) return;
    warned = Date.now();
    o.log.warn({ err, dropped: counts.dropped }, msg);
  };
  const budget = MAX_PAYLOAD_BYTES - Buffer.byteLength(encodeBatch(o.node, []), 'utf8');
  /** The oldest queued events that fit in one payload (at least one: encodeEvent keeps each one small enough). */
  const take = (): string[] => {
    let bytes = 0;
    let n = 0;
    while (n < queue.length) {
      const b = Buffer.byteLength(queue[n]!, 'utf8') + (n ? 1 : 0);
      if (n && bytes + b > budget) break;
      bytes += b;
      n++;
    }
    return queue.splice(0, n);
  };
  // One NOTIFY at a time: events of this node arrive elsewhere in the order they happened here.
  const pump = async () => {
    if (sending) return;
    sending = true;
    while ((queue.length || owesResync) && !stopped) {
      const resync = owesResync;
      const batch = resync ? [] : take();
      try {
        await o.channel.notify(LIVE_TOPIC, resync ? JSON.stringify({ node: o.node, resync: true }) : encodeBatch(o.node, batch));
        counts.notifications++;
        if (resync) owesResync = false;
        else counts.sent += batch.length;
      } catch (err) {
        counts.dropped += batch.length;
        owesResync = true;
        problem(err, 'live bridge: events could not be sent to the other nodes');
        // The store is away or refusing: wait a little instead of spinning through the queue.
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    sending = false;
  };
  const unsubscribe = o.bus.subscribe((e) => {
    if (e.remote !== undefined || e.type === 'resync' || stopped) return; // relayed, or about this node's own listening
    queue.push(encodeEvent(e, budget));
    if (queue.length > MAX_QUEUED) {
      counts.dropped += queue.length;
      queue = [];
      owesResync = true;
      problem(undefined, 'live bridge: events are queued faster than the database takes them; the other nodes will resync');
    }
    void pump();
  });
  const unlisten = o.channel.listen(LIVE_TOPIC, (payload) => {
    const m = decodeLive(payload);
    if (!m || m.node === o.node) return; // ours (this node's listener hears its own notifications) or not ours
    if ('resync' in m) {
      o.bus.resync(`node ${m.node} dropped events`);
      return;
    }
    for (const w of m.events) {
      counts.received++;
      o.bus.publish(w.type, w.data, { remote: m.node, at: w.at });
    }
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

// Wake-up hints for workers (topic gitfleet_work): "there is new pending work", sent after the commit that made it.
// A hint only: it may be lost (a worker reconnecting, the database busy), so workers poll as well (cluster.pollMs).
import type { Channel } from './channel.js';

export const WORK_TOPIC = 'gitfleet_work';

export interface WorkHint {
  kind: 'deployment' | 'host';
  /** The data centre of the work (a host push's host), or null: any worker. */
  dc: string | null;
}

/** Tell the workers there is work; resolves false (never rejects) when the hint could not be sent. */
export async function announceWork(channel: Channel, what: WorkHint): Promise<boolean> {
  try {
    await channel.notify(WORK_TOPIC, JSON.stringify({ kind: what.kind, dc: what.dc }));
    return true;
  } catch {
    return false;
  }
}

/** Parse a hint; null when it is not one. */
export function parseWork(payload: string): WorkHint | null {
  let v: unknown;
  try { v = JSON.parse(payload); } catch { return null; }
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (o.kind !== 'deployment' && o.kind !== 'host') return null;
  if (o.dc !== null && typeof o.dc !== 'string') return null;
  return { kind: o.kind, dc: o.dc };
}

/** Call `cb` for each hint from any node, this one included; returns the unsubscribe. */
export function onWork(channel: Channel, cb: (what: WorkHint) => void): () => void {
  return channel.listen(WORK_TOPIC, (payload) => {
    const w = parseWork(payload);
    if (w) cb(w);
  });
}

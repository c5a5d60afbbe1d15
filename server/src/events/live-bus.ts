// The live event bus: state changes (deployments, units, host pushes, drift, host-sync and ES-sync runs, inventory)
// fanned out to dashboards over server-sent events. In-process, best effort: a notification that something changed,
// never the record itself (clients re-read the API), so a lost event costs a refresh, not a wrong state.
import { randomBytes } from 'node:crypto';

export type LiveEventType =
  | 'deployment' | 'unit' | 'host' | 'drift' | 'hostsync.run' | 'essync.run' | 'inventory' | 'window';

export interface LiveEvent {
  /** `<boot>.<seq>`: the boot part tells a client that reconnects after a restart that it missed everything. */
  id: string;
  /** 'resync': this process may have missed changes (see resync()); clients re-read everything. */
  type: LiveEventType | 'resync';
  at: string;
  data: Record<string, unknown>;
  /** The id of the cluster node whose change this is, when another process published it (cluster/live-bridge.ts). */
  remote?: string;
}

export interface PublishOptions {
  /** Another node's event, relayed: marked so that the bridge does not send it back out. */
  remote?: string;
  /** The time it happened there (else now). */
  at?: string;
}

type Listener = (e: LiveEvent) => void;

/** Where a reconnecting client stands: events it missed, or 'gap' when they are no longer kept (refetch all). */
export type Replay = { events: LiveEvent[] } | 'gap';

export class LiveBus {
  /** Differs on every start: sequence numbers of an earlier process mean nothing now. */
  readonly boot = randomBytes(4).toString('hex');
  private seq = 0;
  private readonly recent: LiveEvent[] = [];
  private readonly listeners = new Set<Listener>();

  constructor(private readonly keep = 1000, private readonly clock: () => Date = () => new Date()) {}

  /** Record and deliver an event; a throwing listener never reaches the publisher (deploys must not fail on it). */
  publish(type: LiveEventType, data: Record<string, unknown>, opts: PublishOptions = {}): LiveEvent {
    return this.record(type, data, opts);
  }

  /**
   * Tell every client to re-read everything: changes of other nodes may have been missed (their notifications were
   * lost while this node's listening connection was down). Kept like any event, so that a client reconnecting with an
   * earlier Last-Event-ID gets it in its replay.
   */
  resync(reason: string): LiveEvent {
    return this.record('resync', { reason }, {});
  }

  private record(type: LiveEvent['type'], data: Record<string, unknown>, opts: PublishOptions): LiveEvent {
    const e: LiveEvent = { id: `${this.boot}.${++this.seq}`, type, at: opts.at ?? this.clock().toISOString(), data };
    if (opts.remote !== undefined) e.remote = opts.remote;
    this.recent.push(e);
    if (this.recent.length > this.keep) this.recent.splice(0, this.recent.length - this.keep);
    for (const l of this.listeners) {
      try { l(e); } catch { /* a listener's own problem (e.g. a closed socket) */ }
    }
    return e;
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Events published since start: a change counter (e.g. to tell whether a cached answer may be stale). */
  get published(): number {
    return this.seq;
  }

  get clients(): number {
    return this.listeners.size;
  }

  /** Events after `lastId` (the client's Last-Event-ID). */
  since(lastId: string): Replay {
    const m = /^([0-9a-f]{8})\.(\d{1,15})$/.exec(lastId);
    if (!m || m[1] !== this.boot) return 'gap';
    const n = Number(m[2]);
    if (n >= this.seq) return { events: [] };
    const first = this.recent[0];
    if (!first || Number(first.id.split('.')[1]) > n + 1) return 'gap';
    return { events: this.recent.filter((e) => Number(e.id.split('.')[1]) > n) };
  }
}

// A small pub/sub between the processes sharing one store: PostgreSQL LISTEN/NOTIFY, or an in-process emitter on
// SQLite (one process). Notifications are hints (wake up, re-read): they are lost while a listener is disconnected,
// so after a reconnect onReconnect callbacks run and the caller re-reads what it may have missed.
import type { Logger } from 'pino';
import type { Db } from '../db/connection.js';
import { connectDedicated } from '../db/postgres.js';

export interface Channel {
  /**
   * Send `payload` to every listener of `topic` in every process, this one included (on PostgreSQL too: the listening
   * connection is not the sending one). Rejects a bad topic or a payload over MAX_PAYLOAD_BYTES.
   */
  notify(topic: string, payload: string): Promise<void>;
  /** Call `cb` for each notification on `topic` (a throwing cb is the cb's problem); returns the unsubscribe. */
  listen(topic: string, cb: (payload: string) => void): () => void;
  /** `cb` runs after the listening connection came back: notifications sent meanwhile are lost (never on SQLite). */
  onReconnect(cb: () => void): () => void;
  /** Resolves once every listen() so far is in effect (its LISTEN done), or at once when disconnected. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more (default build): the same limit on both stores. */
export const MAX_PAYLOAD_BYTES = 7999;

const TOPIC = /^[a-z_][a-z0-9_]{0,62}$/;

function checkTopic(topic: string): void {
  if (!TOPIC.test(topic)) throw new Error(`channel topic ${JSON.stringify(topic)}: lower-case letters, digits and _, starting with a letter or _ (at most 63)`);
}

function checkPayload(topic: string, payload: string): void {
  const bytes = Buffer.byteLength(payload, 'utf8');
  if (bytes > MAX_PAYLOAD_BYTES) throw new Error(`channel ${topic}: payload of ${bytes} bytes is over the limit of ${MAX_PAYLOAD_BYTES} (send a small hint, the receiver re-reads the store)`);
}

/** Deliver to each listener on its own: one throwing listener does not keep the payload from the others. */
function deliver(set: Set<(p: string) => void> | undefined, payload: string, log?: Logger): void {
  for (const cb of set ?? []) {
    try { cb(payload); } catch (err) { log?.warn({ err }, 'channel listener failed'); }
  }
}

/** SQLite: one process, so in-process delivery; asynchronous, as on PostgreSQL (a listener never runs inside notify). */
export class LocalChannel implements Channel {
  private readonly topics = new Map<string, Set<(p: string) => void>>();
  private closed = false;

  constructor(private readonly log?: Logger) {}

  async notify(topic: string, payload: string): Promise<void> {
    checkTopic(topic);
    checkPayload(topic, payload);
    if (this.closed) throw new Error('channel closed');
    setImmediate(() => deliver(this.topics.get(topic), payload, this.log));
  }

  listen(topic: string, cb: (payload: string) => void): () => void {
    checkTopic(topic);
    return subscribe(this.topics, topic, cb);
  }

  onReconnect(): () => void {
    return () => undefined;
  }

  async ready(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    this.topics.clear();
  }
}

function subscribe(topics: Map<string, Set<(p: string) => void>>, topic: string, cb: (p: string) => void, first?: () => void, last?: () => void): () => void {
  let set = topics.get(topic);
  if (!set) {
    set = new Set();
    topics.set(topic, set);
    first?.();
  }
  const own = set;
  // Wrapped: the same function may listen twice, and each unsubscribe removes its own registration.
  const entry = (p: string) => cb(p);
  own.add(entry);
  return () => {
    if (!own.delete(entry) || own.size > 0 || topics.get(topic) !== own) return;
    topics.delete(topic);
    last?.();
  };
}

type ListenClient = Awaited<ReturnType<typeof connectDedicated>>;

export interface PgChannelOptions {
  url: string;
  /** The pool: NOTIFY goes through `get` (on PostgreSQL `run` takes the global write lock; a hint needs none). */
  db: Db;
  log: Logger;
  /** Shown in pg_stat_activity as application_name `gitfleet listen <name>` (boot: the node id; cut at 63 bytes). */
  name?: string;
  /** Reconnect delay: doubling from minMs to maxMs while the database does not answer. */
  backoff?: { minMs: number; maxMs: number };
  /**
   * The listening connection is asked `SELECT 1` this often and dropped (then reopened) when it does not answer
   * within as long: a connection cut silently (a firewall's state gone, a frozen peer) hears nothing and reports
   * nothing, and TCP keepalives take minutes to notice. Default 15 s.
   */
  pingMs?: number;
}

/**
 * PostgreSQL: one dedicated connection (application_name `gitfleet listen <name>`) LISTENs on every topic in use; NOTIFY
 * goes through the pool. When the listening connection drops it is reopened with backoff, LISTENs again, and the
 * onReconnect callbacks run.
 */
export class PgChannel implements Channel {
  private readonly topics = new Map<string, Set<(p: string) => void>>();
  private readonly reconnected = new Set<() => void>();
  private client: ListenClient | null = null;
  /** LISTEN/UNLISTEN run one after another on the listening connection. */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private readonly backoff: { minMs: number; maxMs: number };

  private readonly purpose: string;
  private readonly pingMs: number;
  /** Ends the current connection's ping. */
  private unping: () => void = () => undefined;

  private constructor(private readonly o: PgChannelOptions) {
    // application_name takes printable ASCII only (others become ?): keep it legible.
    this.purpose = o.name ? `listen ${o.name.replace(/[^\x20-\x7e]/g, '_')}` : 'listen';
    this.backoff = o.backoff ?? { minMs: 100, maxMs: 5000 };
    this.delayMs = this.backoff.minMs;
    this.pingMs = o.pingMs ?? 15_000;
  }

  /** Connects the listening connection (a failure here fails the caller: the start). */
  static async open(o: PgChannelOptions): Promise<PgChannel> {
    const ch = new PgChannel(o);
    ch.attach(await connectDedicated(o.url, ch.purpose));
    return ch;
  }

  async notify(topic: string, payload: string): Promise<void> {
    checkTopic(topic);
    checkPayload(topic, payload);
    if (this.closed) throw new Error('channel closed');
    await this.o.db.get('SELECT pg_notify(?, ?)', [topic, payload]);
  }

  listen(topic: string, cb: (payload: string) => void): () => void {
    checkTopic(topic);
    return subscribe(this.topics, topic, cb, () => this.command(`LISTEN ${topic}`), () => this.command(`UNLISTEN ${topic}`));
  }

  onReconnect(cb: () => void): () => void {
    const entry = () => cb();
    this.reconnected.add(entry);
    return () => this.reconnected.delete(entry);
  }

  ready(): Promise<void> {
    return this.chain;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.client = null;
    this.topics.clear();
    this.unping();
    await c?.end().catch(() => undefined);
  }

  /** Topics are checked identifiers (TOPIC), so they go into the statement as they are. */
  private command(sql: string): void {
    const c = this.client;
    if (!c) return; // LISTENed again on reconnect
    this.chain = this.chain.then(() => c.query(sql)).then(() => undefined, (err: unknown) => {
      // A broken connection: its 'error'/'end' handler reconnects, which LISTENs again.
      if (this.client === c) this.o.log.warn({ err, sql }, 'channel: LISTEN/UNLISTEN failed');
    });
  }

  private attach(c: ListenClient): void {
    this.client = c;
    c.on('notification', (n) => deliver(this.topics.get(n.channel), n.payload ?? '', this.o.log));
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      clearInterval(ping);
      c.removeAllListeners('notification');
      c.end().catch(() => undefined);
      if (this.client !== c || this.closed) return;
      this.client = null;
      this.o.log.warn({ err }, 'channel: the listening connection dropped; reconnecting');
      this.schedule();
    };
    c.on('error', onLost);
    c.on('end', () => onLost());
    let pinging = false;
    const ping = setInterval(() => {
      if (pinging) return;
      pinging = true;
      const silent = setTimeout(() => {
        // end() would wait for the peer that does not answer: close the socket itself (its queries fail with it).
        (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        onLost(new Error(`the listening connection did not answer within ${this.pingMs} ms`));
      }, this.pingMs);
      c.query('SELECT 1').then(() => undefined, () => undefined).finally(() => { clearTimeout(silent); pinging = false; });
    }, this.pingMs);
    ping.unref();
    this.unping = () => clearInterval(ping);
  }

  private schedule(): void {
    if (this.closed) return;
    const ms = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.backoff.maxMs);
    this.timer = setTimeout(() => void this.reconnect(), ms);
  }

  private async reconnect(): Promise<void> {
    let c: ListenClient | undefined;
    try {
      c = await connectDedicated(this.o.url, this.purpose);
      c.on('error', () => undefined); // until attach(): a failure shows as a rejected query below
      // Every topic in use, including those listen() added while we were awaiting (attach follows synchronously).
      const done = new Set<string>();
      for (let todo = [...this.topics.keys()]; todo.length; todo = [...this.topics.keys()].filter((t) => !done.has(t))) {
        for (const topic of todo) { await c.query(`LISTEN ${topic}`); done.add(topic); }
      }
    } catch (err) {
      await c?.end().catch(() => undefined);
      this.o.log.debug({ err }, 'channel: reconnect failed');
      this.schedule();
      return;
    }
    if (this.closed) { await c.end().catch(() => undefined); return; }
    this.delayMs = this.backoff.minMs;
    this.attach(c);
    this.o.log.info('channel: listening again');
    for (const cb of this.reconnected) {
      try { cb(); } catch (err) { this.o.log.warn({ err }, 'channel: reconnect callback failed'); }
    }
  }
}

/** The channel of a store: PostgreSQL when db.url is set, else in-process. */
export async function openChannel(o: { url?: string; db: Db; log: Logger; name?: string }): Promise<Channel> {
  return o.url ? PgChannel.open({ url: o.url, db: o.db, log: o.log, name: o.name }) : new LocalChannel(o.log);
}

// The deployment feed on the server's event stream (GET /api/v1/events): an event only says that something changed,
// so the feed re-reads the API then (as the dashboard does), and on every (re)connect (events may have been missed).
// No stream (an older server: 404, or not text/event-stream): it polls, as pollingFeed. A server that goes away
// (restart) is waited for — reads and the stream are retried — for up to reconnectForMs, then exit 3 as before.
import { setTimeout as sleep } from 'node:timers/promises';
import { apiUrl, type ApiClient } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import { getDeployment, listDeployments, type DeploymentFeed } from './feed.js';
import type { Settings } from './settings.js';
import { isFinal } from './views.js';

export interface StreamFeedOptions {
  /** Polling interval without a stream (and while it is down). */
  pollMs: number;
  /** Re-read this often even with a live stream (a lost event costs at most this). */
  safetyMs: number;
  /** How long an unreachable server is waited for before giving up (exit 3). */
  reconnectForMs: number;
  /** One line on stderr: the server went away, came back. */
  note: (line: string) => void;
}

export const STREAM_DEFAULTS: Omit<StreamFeedOptions, 'note'> = { pollMs: 1000, safetyMs: 30_000, reconnectForMs: 5 * 60_000 };

interface Wire { type: string; data: Record<string, unknown> }

/** One connection loop to GET /api/v1/events for the life of a follow; `wait` resolves on a matching event. */
class EventStream {
  /** 'stream': connected; 'down': reconnecting; 'none': the server has no stream (poll). */
  state: 'connecting' | 'stream' | 'down' | 'none' = 'connecting';
  private pending = false;
  private wake: (() => void) | null = null;

  constructor(private readonly settings: Settings, private readonly headers: Record<string, string>, private readonly match: (e: Wire) => boolean, private readonly signal: AbortSignal) {
    void this.run();
  }

  /** Until something matching happened (or at once if it did since the last call), or timeoutMs passed. */
  async wait(timeoutMs: number): Promise<void> {
    if (this.pending) { this.pending = false; return; }
    const ac = new AbortController();
    const woken = new Promise<void>((r) => { this.wake = () => { ac.abort(); r(); }; });
    await Promise.race([woken, sleep(timeoutMs, undefined, { signal: AbortSignal.any([ac.signal, this.signal]) }).catch(() => undefined)]);
    this.wake = null;
    this.pending = false;
  }

  private changed(): void {
    this.pending = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    let retryMs = 1000;
    while (!this.signal.aborted) {
      try {
        const res = await fetch(apiUrl(this.settings.server, 'api/v1/events'), {
          headers: { ...this.headers, accept: 'text/event-stream', ...(this.settings.token ? { authorization: `Bearer ${this.settings.token}` } : {}) },
          redirect: 'error', signal: this.signal,
        });
        if (res.status === 404 || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
          await res.body?.cancel();
          this.state = 'none';
          return; // an older server: poll
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        this.state = 'stream';
        this.changed(); // (re)connected: whatever happened meanwhile is re-read
        let buf = '';
        for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
          buf += chunk;
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
            if (!data) continue;
            try {
              const e = JSON.parse(data) as Wire;
              if (e.type === 'resync' || this.match(e)) this.changed();
            } catch { /* not ours: ignore */ }
          }
        }
      } catch {
        if (this.signal.aborted) return;
      }
      this.state = 'down';
      this.changed(); // the next read finds out whether the server is back (and retries it if not)
      await sleep(retryMs, undefined, { signal: this.signal }).catch(() => undefined);
      retryMs = Math.min(retryMs * 2, 5000);
    }
  }
}

/** The feed on the event stream, polling where there is none; `headers` as the API client's (actor, user agent). */
export function streamFeed(api: ApiClient, settings: Settings, headers: Record<string, string>, opts: StreamFeedOptions): DeploymentFeed {
  /** read(), retried while the server is unreachable, up to reconnectForMs. */
  let reached = false; // a server never reached is an error at once (exit 3), as before; one that went away is waited for
  async function readRetrying<T>(read: () => Promise<T>, signal: AbortSignal): Promise<T> {
    let since: number | null = null;
    for (;;) {
      try {
        const v = await read();
        if (since !== null) opts.note('gitfleet: reconnected\n');
        reached = true;
        return v;
      } catch (err) {
        const down = err instanceof CliError && (err.exitCode === EXIT.unreachable || (err.exitCode === EXIT.server && /HTTP 50[234]/.test(err.message)));
        if (!down || !reached || signal.aborted) throw err;
        if (since === null) {
          since = Date.now();
          opts.note(`gitfleet: ${err.message}; retrying for up to ${Math.round(opts.reconnectForMs / 1000)} s\n`);
        } else if (Date.now() - since > opts.reconnectForMs) throw err;
        await sleep(opts.pollMs, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) throw err;
      }
    }
  }

  async function* changes<T>(read: () => Promise<T>, done: (v: T) => boolean, match: (e: Wire) => boolean, outer?: AbortSignal): AsyncIterable<T> {
    const ac = new AbortController();
    const signal = outer ? AbortSignal.any([outer, ac.signal]) : ac.signal;
    const stream = new EventStream(settings, headers, match, signal);
    let last: string | undefined;
    try {
      for (;;) {
        if (signal.aborted) return;
        const v = await readRetrying(read, signal);
        const text = JSON.stringify(v);
        if (text !== last) {
          last = text;
          yield v;
        }
        if (done(v)) return;
        await stream.wait(stream.state === 'stream' ? opts.safetyMs : opts.pollMs);
        // A push to many hosts sends an event per host: one read for what came within 100 ms.
        if (stream.state === 'stream') await sleep(100, undefined, { signal }).catch(() => undefined);
      }
    } finally {
      ac.abort(); // closes the stream
    }
  }

  const deploymentEvent = (e: Wire) => e.type === 'deployment' || e.type === 'unit' || e.type === 'host' || e.type === 'window';
  return {
    follow: (id, signal) => changes(() => getDeployment(api, id), isFinal,
      (e) => deploymentEvent(e) && (e.data.id === id || e.data.deploymentId === id || e.type === 'window'), signal),
    watchList: (filter, signal) => changes(async () => (await listDeployments(api, filter)).items, () => false, deploymentEvent, signal),
  };
}

// GET /events: the live bus as server-sent events. Heartbeat comments keep proxies from closing an idle stream;
// `retry:` sets the browser's reconnect delay; Last-Event-ID replays what a reconnecting client missed (or tells it
// to refetch everything); a client that stops reading is dropped once its unsent bytes pass a bound, so a slow
// dashboard never grows the server's memory.
import { requireScope } from '../http/middleware/auth.js';
import { Router } from 'express';
import type { LiveBus, LiveEvent } from './live-bus.js';

export interface SseOptions {
  heartbeatMs: number;
  retryMs: number;
  /** Unsent bytes a client may have queued before it is dropped (it reconnects and replays). */
  maxBufferedBytes: number;
}

export const SSE_DEFAULTS: SseOptions = { heartbeatMs: 15_000, retryMs: 2_000, maxBufferedBytes: 256 * 1024 };

/** One SSE frame: the default `message` event carrying { type, at, data }. */
export function frame(e: { type: LiveEvent['type'] | 'hello' | 'resync'; at: string; data: Record<string, unknown>; id?: string }): string {
  return `${e.id ? `id: ${e.id}\n` : ''}data: ${JSON.stringify({ type: e.type, at: e.at, data: e.data })}\n\n`;
}

export function createEventRoutes(bus: LiveBus, opts: SseOptions = SSE_DEFAULTS, onDrop?: () => void): Router {
  const r = Router();
  r.get('/events', requireScope('read'), (req, res) => {
    res.status(200).set({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // nginx: do not buffer the stream
    });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    let open = true;
    let unsubscribe = () => {};
    let heartbeat: NodeJS.Timeout | undefined;
    const close = () => {
      if (!open) return;
      open = false;
      unsubscribe();
      clearInterval(heartbeat);
    };
    const send = (chunk: string) => {
      if (!open) return;
      if (res.writableLength > opts.maxBufferedBytes) {
        close();
        onDrop?.();
        res.destroy();
        return;
      }
      res.write(chunk);
    };
    send(`retry: ${opts.retryMs}\n\n`);
    const now = () => new Date().toISOString();
    const last = req.get('last-event-id') ?? (typeof req.query.lastEventId === 'string' ? req.query.lastEventId : undefined);
    if (last) {
      const replay = bus.since(last);
      if (replay === 'gap') send(frame({ type: 'resync', at: now(), data: {} }));
      else for (const e of replay.events) send(frame(e));
    }
    send(frame({ type: 'hello', at: now(), data: { boot: bus.boot } }));
    if (!open) return;
    unsubscribe = bus.subscribe((e) => send(frame(e)));
    heartbeat = setInterval(() => send(`: ping\n\n`), opts.heartbeatMs);
    req.on('close', close);
  });
  return r;
}

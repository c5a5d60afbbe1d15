// A loopback HTTP server that speaks an upstream's documented shapes: routes by "METHOD /path", records every call,
// answers 599 to anything unexpected, and can tell which routes were never used.
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  raw: string;
  /** Parsed JSON body, or undefined. */
  json: any;
}

export interface FakeReply { status?: number; body?: unknown; headers?: Record<string, string>; delayMs?: number; raw?: string }
export type FakeHandler = (req: FakeRequest) => FakeReply | Promise<FakeReply>;

export interface FakeUpstream {
  url: string;
  calls: FakeRequest[];
  unexpected: FakeRequest[];
  route(key: string, handler: FakeHandler): void;
  unused(): string[];
  close(): Promise<void>;
}

export async function startFake(): Promise<FakeUpstream> {
  const routes = new Map<string, { handler: FakeHandler; used: boolean }>();
  const calls: FakeRequest[] = [];
  const unexpected: FakeRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const raw = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try { json = raw ? JSON.parse(raw) : undefined; } catch { json = undefined; }
      const fr: FakeRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, headers: req.headers, raw, json };
      calls.push(fr);
      const route = routes.get(`${fr.method} ${fr.path}`);
      if (!route) {
        unexpected.push(fr);
        res.writeHead(599, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `unexpected ${fr.method} ${fr.path}` }));
        return;
      }
      route.used = true;
      try {
        const reply = await route.handler(fr);
        if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
        if (res.destroyed) return;
        const text = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers }).end(text);
      } catch (err) {
        res.writeHead(598).end(String(err));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    calls, unexpected,
    route(key, handler) { routes.set(key, { handler, used: false }); },
    unused: () => [...routes].filter(([, r]) => !r.used).map(([k]) => k),
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

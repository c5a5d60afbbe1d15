// A loopback webhook receiver for notification tests: records every request, answers from a script (default 200 {}).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Received { method: string; url: string; headers: IncomingHttpHeaders; body: any; at: number }
export type Answer = { status: number; body?: string; headers?: Record<string, string> } | 'hang';

export interface Receiver {
  url: string;
  requests: Received[];
  /** Answers for the next requests, in order; afterwards `fallback`. */
  script: Answer[];
  fallback: Answer;
  /** Resolves once `n` requests have arrived (rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const hung: Array<() => void> = [];
  const waiters: Array<() => boolean> = [];
  const r: Receiver = {
    url: '', requests: [], script: [], fallback: { status: 200, body: '{}' },
    waitFor(n, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (r.requests.length < n) return false;
          clearTimeout(timer);
          resolve(r.requests.slice(0, n));
          return true;
        };
        const timer = setTimeout(() => reject(new Error(`receiver: ${r.requests.length} of ${n} requests after ${timeoutMs} ms`)), timeoutMs);
        if (!check()) waiters.push(check);
      });
    },
    close: () => new Promise((res) => {
      for (const h of hung) h();
      server.closeAllConnections();
      server.close(() => res());
    }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      let body: unknown = text;
      try { body = JSON.parse(text); } catch { /* keep text */ }
      r.requests.push({ method: req.method!, url: req.url!, headers: req.headers, body, at: Date.now() });
      for (const w of waiters.splice(0)) if (!w()) waiters.push(w);
      const answer = r.script.shift() ?? r.fallback;
      if (answer === 'hang') {
        hung.push(() => res.destroy());
        return;
      }
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body ?? '{}');
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const addr = server.address();
  r.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return r;
}

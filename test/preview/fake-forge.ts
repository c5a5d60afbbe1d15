// A loopback stand-in for the GitLab Notes API and the GitHub issue comments API, speaking their documented
// shapes: create answers 201 with the note/comment (its `id`), edit answers 200; a wrong token gets 401 and
// any other route 404 (recorded as unexpected, so tests can assert there were none).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface ForgeRequest { method: string; path: string; headers: IncomingHttpHeaders; body: any; at: number }

export interface FakeForge {
  url: string;
  requests: ForgeRequest[];
  unexpected: ForgeRequest[];
  /** Current text of each comment by id. */
  comments: Map<number, string>;
  /** Status answered to the next n requests (5xx to test retries). */
  failNext: number[];
  waitFor(pred: (r: ForgeRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeForge(o: { gitlabToken: string; githubToken: string }): Promise<FakeForge> {
  let nextId = 500;
  const waiters: Array<() => boolean> = [];
  const f: FakeForge = {
    url: '', requests: [], unexpected: [], comments: new Map(), failNext: [],
    waitFor(pred, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`fake forge: condition not met after ${timeoutMs} ms; requests: ${JSON.stringify(f.requests.map((r) => `${r.method} ${r.path}`))}`)), timeoutMs);
        const check = () => { if (pred(f.requests)) { clearTimeout(timer); resolve(); return true; } return false; };
        if (!check()) waiters.push(check);
      });
    },
    close: () => new Promise((res) => { server.closeAllConnections(); server.close(() => res()); }),
  };
  const note = (id: number, body: string) => ({
    id, type: null, body, attachment: null, author: { id: 1, username: 'gitfleet-bot', name: 'gitfleet' }, created_at: '2026-11-30T09:00:00.000Z',
    updated_at: '2026-11-30T09:00:00.000Z', system: false, noteable_id: 99120, noteable_type: 'MergeRequest', project_id: 4242, resolvable: false, confidential: false, internal: false, noteable_iid: 7,
  });
  const issueComment = (id: number, body: string) => ({
    id, node_id: `IC_kwDO${id}`, url: `https://api.github.com/repos/acme/fleet-config/issues/comments/${id}`,
    html_url: `https://github.com/acme/fleet-config/pull/12#issuecomment-${id}`, body, user: { login: 'gitfleet-bot', id: 77, type: 'Bot' },
    created_at: '2026-11-30T09:00:00Z', updated_at: '2026-11-30T09:00:00Z', issue_url: 'https://api.github.com/repos/acme/fleet-config/issues/12', author_association: 'NONE',
  });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      let body: any = text;
      try { body = JSON.parse(text); } catch { /* keep text */ }
      const r: ForgeRequest = { method: req.method!, path: req.url!, headers: req.headers, body, at: Date.now() };
      f.requests.push(r);
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
        for (const w of waiters.splice(0)) if (!w()) waiters.push(w);
      };
      const fail = f.failNext.shift();
      if (fail) return send(fail, { message: 'stand-in failure' });
      let m: RegExpExecArray | null;
      if ((m = /^\/api\/v4\/projects\/(\d+)\/merge_requests\/(\d+)\/notes(?:\/(\d+))?$/.exec(r.path))) {
        if (req.headers['private-token'] !== o.gitlabToken) return send(401, { message: '401 Unauthorized' });
        if (r.method === 'POST' && !m[3] && typeof body?.body === 'string') { const id = nextId++; f.comments.set(id, body.body); return send(201, note(id, body.body)); }
        if (r.method === 'PUT' && m[3] && typeof body?.body === 'string') {
          if (!f.comments.has(Number(m[3]))) return send(404, { message: '404 Not found' });
          f.comments.set(Number(m[3]), body.body);
          return send(200, note(Number(m[3]), body.body));
        }
      }
      if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(?:(\d+)\/comments|comments\/(\d+))$/.exec(r.path))) {
        if (req.headers.authorization !== `Bearer ${o.githubToken}` || req.headers.accept !== 'application/vnd.github+json') return send(401, { message: 'Bad credentials' });
        if (r.method === 'POST' && m[3] && typeof body?.body === 'string') { const id = nextId++; f.comments.set(id, body.body); return send(201, issueComment(id, body.body)); }
        if (r.method === 'PATCH' && m[4] && typeof body?.body === 'string') {
          if (!f.comments.has(Number(m[4]))) return send(404, { message: 'Not Found' });
          f.comments.set(Number(m[4]), body.body);
          return send(200, issueComment(Number(m[4]), body.body));
        }
      }
      f.unexpected.push(r);
      send(404, { message: 'not a route of the stand-in' });
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const addr = server.address();
  f.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return f;
}

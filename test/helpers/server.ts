// A real gitfleet server in-process on port 0 with a temp data dir; logs captured for assertions.
import { Writable } from 'node:stream';
import { parseConfig, type Config } from '../../server/src/config.js';
import { createLogger } from '../../server/src/log.js';
import { startServer, type RunningServer, type StartOptions } from '../../server/src/boot.js';
import { testDbConfig } from './store.js';

export interface TestServer extends RunningServer {
  url: string;
  logs: Array<Record<string, unknown>>;
  /** fetch against the server with JSON helpers and the API token if one is configured. */
  api(path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
}

/** Merge nested config objects (tests pass only what they change). */
function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && typeof a[k] === 'object' && a[k] !== null ? merge(a[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export async function startTestServer(dataDir: string, raw: Record<string, unknown> = {}, opts: StartOptions = {}): Promise<TestServer> {
  // GITFLEET_TEST_STORE=postgres: a fresh database per server unless the test names one (test/helpers/store.ts).
  const store = raw.db ? {} : await testDbConfig(dataDir);
  // GITFLEET_TEST_CLUSTER=1 (with the PostgreSQL store): the server runs in cluster mode, one process as api + worker.
  const cluster = process.env.GITFLEET_TEST_CLUSTER === '1' ? { cluster: { enabled: true, pollMs: 100, leaseSeconds: 5 } } : {};
  const config: Config = parseConfig(merge({ dataDir, server: { port: 0 }, repo: { pollInterval: 0 }, log: { level: 'debug' }, ...store, ...cluster }, raw));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const running = await startServer(config, createLogger(config.log.level, sink), opts);
  const url = `http://127.0.0.1:${running.port}`;
  const token = config.api.tokens[0];
  return {
    ...running, url, logs,
    async api(path, init = {}) {
      const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) };
      let body: string | undefined;
      if (init.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      }
      const res = await fetch(url + path, { method: init.method ?? 'GET', headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try { parsed = JSON.parse(text); } catch { /* not JSON */ }
      return { status: res.status, body: parsed, headers: res.headers };
    },
  };
}

/**
 * GET /sync?query (must answer 200), and what each host saw in the logs meanwhile: rsync runs, probe verdicts,
 * shell writes, and its recorded changes (sorted).
 */
export async function syncObserved(s: TestServer, query: string) {
  const mark = s.logs.length;
  const r = await s.api(`/sync?${query}`);
  if (r.status !== 200) throw new Error(`sync answered ${r.status}: ${JSON.stringify(r.body)}`);
  const logs = s.logs.slice(mark);
  const forHost = (ip: string, msg: string) => logs.filter((l) => l.msg === msg && l.host === ip);
  const host = (ip: string) => r.body.hosts.find((h: { ip: string }) => h.ip === ip);
  return {
    body: r.body,
    host,
    changes: (ip: string): string[] => [...host(ip).changes].sort(),
    rsyncs: (ip: string) => forHost(ip, 'exec').filter((l) => l.file === 'rsync').length,
    probe: (ip: string) => forHost(ip, 'probed').map((l) => l.probe),
    written: (ip: string) => forHost(ip, 'wrote through the shell').map((l) => l.shellWrite),
  };
}

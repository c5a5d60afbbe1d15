// A loopback Elasticsearch for tests and the benchmark: answers POST /<index>/_search host-metrics aggregations
// computed from per-IP samples, in the documented shapes; anything else is recorded as unexpected and refused.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { isIP } from 'node:net';

/** Samples of one host: fractions 0-1, as Metricbeat stores them (scaled_float, three decimals). */
export interface FakeHost { cpu: number[]; mem: number[]; disk: number[]; hostName?: string; lastSeen?: string }

export interface SearchCall { index: string; body: any; headers: IncomingMessage['headers']; at: number }
export interface Reply { status: number; body: unknown; headers?: Record<string, string>; raw?: string; omitProductHeader?: boolean }

export interface FakeEs {
  url: string;
  hosts: Map<string, FakeHost>;
  searches: SearchCall[];
  unexpected: string[];
  /** Requests in flight right now and the most ever seen at once. */
  inFlight: number;
  maxInFlight: number;
  /** Delay before each search answer (ms). */
  delayMs: number;
  /** Basic credentials the fake demands ("user:pass"); unset = no auth required. */
  requireBasic?: string;
  /** Scripted answer instead of the computed one (return undefined to compute). */
  override?: (call: SearchCall) => Reply | undefined;
  close(): Promise<void>;
}

const PRODUCT = { 'x-elastic-product': 'Elasticsearch' };
const round3 = (v: number) => Math.round(v * 1000) / 1000;

export function esError(status: number, type: string, reason: string): Reply {
  return { status, body: { error: { root_cause: [{ type, reason }], type, reason }, status } };
}

/** Check the request is the batched aggregation the contract describes; a reason when it is not. */
function shapeProblem(body: any): string | null {
  const terms = body?.aggs?.per_host?.terms;
  if (body?.size !== 0) return 'size must be 0';
  if (!terms || !Array.isArray(terms.include)) return 'aggs.per_host.terms.include missing';
  if (!(terms.size >= terms.include.length) || terms.size < 1) return 'terms.size must be >= number of IPs and > 0';
  const filter = body?.query?.bool?.filter;
  const ipTerms = Array.isArray(filter) ? filter.find((f: any) => f.terms && f.terms[terms.field])?.terms[terms.field] : undefined;
  if (!Array.isArray(ipTerms)) return 'no terms filter on the IP field';
  if (!ipTerms.every((ip: unknown) => typeof ip === 'string' && isIP(ip))) return 'a non-IP term';
  if (!Array.isArray(filter) || !filter.some((f: any) => f.range)) return 'no time range filter';
  return null;
}

function bucket(ip: string, h: FakeHost) {
  const stat = (xs: number[]) => (xs.length ? { max: round3(Math.max(...xs)), avg: xs.map(round3).reduce((a, b) => a + b, 0) / xs.length } : { max: null, avg: null });
  const cpu = stat(h.cpu);
  const mem = stat(h.mem);
  const disk = stat(h.disk);
  const docs = h.cpu.length + h.mem.length + h.disk.length;
  const last = h.lastSeen ?? '2025-03-14T01:59:50.000Z';
  return {
    key: ip, doc_count: docs,
    max_cpu: { value: cpu.max }, avg_cpu: { value: cpu.avg }, max_mem: { value: mem.max }, avg_mem: { value: mem.avg },
    max_disk: { value: disk.max }, avg_disk: { value: disk.avg },
    host_name: { doc_count_error_upper_bound: 0, sum_other_doc_count: 0, buckets: h.hostName ? [{ key: h.hostName, doc_count: docs }] : [] },
    last_seen: { value: Date.parse(last), value_as_string: last },
  };
}

/** The answer a real cluster gives: buckets only for requested IPs with documents, ordered by doc_count. */
function compute(fake: FakeEs, body: any): Reply {
  const problem = shapeProblem(body);
  if (problem) return esError(400, 'x_content_parse_exception', `fake-es: ${problem}`);
  const include: string[] = body.aggs.per_host.terms.include;
  const buckets = include.filter((ip) => fake.hosts.has(ip)).map((ip) => bucket(ip, fake.hosts.get(ip)!))
    .filter((b) => b.doc_count > 0).sort((a, b) => b.doc_count - a.doc_count).slice(0, body.aggs.per_host.terms.size);
  return {
    status: 200,
    body: {
      took: 3, timed_out: false, _shards: { total: 2, successful: 2, skipped: 0, failed: 0 },
      hits: { total: { value: buckets.length, relation: 'eq' }, max_score: null, hits: [] },
      aggregations: { per_host: { doc_count_error_upper_bound: 0, sum_other_doc_count: 0, buckets } },
    },
  };
}

export async function startFakeEs(hosts: Record<string, FakeHost> = {}): Promise<FakeEs> {
  let server!: Server;
  const timers = new Set<NodeJS.Timeout>();
  const fake: FakeEs = {
    url: '', hosts: new Map(Object.entries(hosts)), searches: [], unexpected: [], inFlight: 0, maxInFlight: 0, delayMs: 0,
    close: () => new Promise<void>((res) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      server.close(() => res());
    }),
  };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const m = /^\/([^/]+)\/_search$/.exec(url.pathname);
      const send = (r: Reply) => {
        // The client refuses any 2xx without the product header (errata), so every success carries it.
        const headers = { 'content-type': 'application/json', ...(r.status < 300 && !r.omitProductHeader ? PRODUCT : {}), ...(r.headers ?? {}) };
        res.writeHead(r.status, headers).end(r.raw ?? JSON.stringify(r.body));
      };
      if (req.method !== 'POST' || !m) {
        fake.unexpected.push(`${req.method} ${url.pathname}`);
        send(esError(400, 'fake_es_unexpected_route', `unexpected ${req.method} ${url.pathname}`));
        return;
      }
      if (fake.requireBasic && req.headers.authorization !== `Basic ${Buffer.from(fake.requireBasic).toString('base64')}`) {
        send({ ...esError(401, 'security_exception', 'unable to authenticate user [gitfleet] for REST request [/_search]'), headers: { 'www-authenticate': 'Basic realm="security"' } });
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        send(esError(400, 'parsing_exception', 'request body is not JSON'));
        return;
      }
      const call: SearchCall = { index: decodeURIComponent(m[1]!), body, headers: req.headers, at: Date.now() };
      fake.searches.push(call);
      fake.inFlight++;
      fake.maxInFlight = Math.max(fake.maxInFlight, fake.inFlight);
      const answer = () => {
        fake.inFlight--;
        if (res.destroyed) return;
        send(fake.override?.(call) ?? compute(fake, body));
      };
      if (fake.delayMs > 0) {
        const timer = setTimeout(() => { timers.delete(timer); answer(); }, fake.delayMs);
        timers.add(timer);
      } else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const addr = server.address();
  fake.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return fake;
}

/** A URL on which nothing listens (a port just released). */
export async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  const addr = s.address();
  await new Promise<void>((res) => s.close(() => res()));
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

// A gitfleet server wired to a fake Elasticsearch, with inventory hosts seeded through the API.
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { startFakeEs, type FakeEs, type FakeHost } from './fake-es.js';

export const TOKEN = 'es-sync-test-token-0123456789';

export interface EsHarness { es: FakeEs; server: TestServer; dataDir: string; close(): Promise<void> }

/** Inventory hosts live in an env/app with no units, so nothing is ever pushed to them. */
export async function addHost(server: TestServer, ip: string, hostname?: string): Promise<void> {
  const res = await server.api('/api/v1/hosts', { method: 'POST', body: { ip, hostname, env: 'estest', apps: ['metrics-only'] } });
  if (res.status !== 201) throw new Error(`seeding host ${ip}: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function startEsHarness(opts: { hosts?: Record<string, FakeHost>; inventory?: Array<[string, string?]>; esSync?: Record<string, unknown> } = {}): Promise<EsHarness> {
  const dir = await tempDir('gf-essync-');
  const es = await startFakeEs(opts.hosts);
  const server = await startTestServer(dir.path, { api: { tokens: [TOKEN] }, esSync: { endpoint: es.url, maxRetries: 0, requestTimeout: 2, ...opts.esSync } });
  for (const [ip, hostname] of opts.inventory ?? []) await addHost(server, ip, hostname);
  return {
    es, server, dataDir: dir.path,
    async close() {
      await server.stop();
      await es.close();
      await dir.cleanup();
    },
  };
}

/** Poll until fn returns something truthy. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** multipart/form-data upload of one file through fetch. */
export async function upload(server: TestServer, path: string, content: string | Buffer, field = 'file', filename = 'ips.txt'): Promise<{ status: number; body: any }> {
  const form = new FormData();
  form.append(field, new Blob([typeof content === 'string' ? content : new Uint8Array(content)]), filename);
  const res = await fetch(server.url + path, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: form });
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body };
}

/** A host as GET /api/v1/hosts?ip= returns it. */
export async function hostByIp(server: TestServer, ip: string): Promise<any> {
  const res = await server.api(`/api/v1/hosts?ip=${encodeURIComponent(ip)}`);
  return res.body.items[0];
}

// A fake BlueKing CMDB behind the API gateway: list_hosts (set_cond/module_cond with $eq, paging ≤ 500 sorted by
// bk_host_id), list_hosts_topo, resource_watch (host, host_relation) with cursors, gateway auth header checks.
// Shapes copied from the BlueKing contract (envelope, gateway errors, host attributes).
import { startFake, type FakeRequest, type FakeUpstream } from './fake-upstream.js';

export interface FakeBkHost {
  bk_host_id: number;
  bk_host_innerip: string;
  bk_host_name?: string;
  bk_cloud_id?: number;
  bk_os_type?: string | null;
  bk_cpu?: number | null;
  bk_mem?: number | null;
  bk_disk?: number | null;
  set: string;
  modules: string[];
}

export interface FakeBkCmdb {
  fake: FakeUpstream;
  /** Gateway stage URL to configure as baseUrl. */
  baseUrl: string;
  hosts: FakeBkHost[];
  bizId: number;
  /** Override the next replies of list_hosts / list_hosts_topo (errors, malformed bodies). */
  failNext: Array<{ status?: number; body?: unknown; raw?: string }>;
  /** Record an event (as CMDB would on a change). */
  emit(resource: 'host' | 'host_relation', type: 'create' | 'update' | 'delete', detail: Record<string, unknown>): void;
  /** Lose events (as after the ~3 h retention): every cursor handed out so far becomes invalid (code 1103007). */
  expireCursors(): void;
  pageRequests: Array<{ start: number; limit: number; sort?: string }>;
  close(): Promise<void>;
}

export const BK_AUTH = { bk_app_code: 'gitfleet', bk_app_secret: 'test-app-secret-not-real', bk_username: 'svc-gitfleet' };

const ok = (data: unknown) => ({ body: { result: true, code: 0, message: 'success', permission: null, request_id: 'req-0001', data } });
const bizError = (code: number, message: string) => ({ body: { result: false, code, message, permission: null, request_id: 'req-err', data: null } });

export async function startFakeBkCmdb(opts: { bizId?: number; hosts?: FakeBkHost[] } = {}): Promise<FakeBkCmdb> {
  const fake = await startFake();
  const bizId = opts.bizId ?? 7;
  const hosts: FakeBkHost[] = opts.hosts ?? [];
  const failNext: FakeBkCmdb['failNext'] = [];
  const pageRequests: FakeBkCmdb['pageRequests'] = [];
  const events: Array<{ seq: number; resource: string; type: string; detail: Record<string, unknown> }> = [];
  let seq = 0;
  let epoch = 0;
  const cursorOf = (n: number) => Buffer.from(`cursor-${epoch}-${n}`).toString('base64');
  const parse = (c: string) => { const [, e, n] = Buffer.from(c, 'base64').toString().split('-'); return { epoch: Number(e), n: Number(n) }; };

  const auth = (req: FakeRequest) => {
    const h = req.headers['x-bkapi-authorization'];
    let a: Record<string, unknown> | undefined;
    try { a = typeof h === 'string' ? JSON.parse(h) : undefined; } catch { a = undefined; }
    if (!a || a.bk_app_code !== BK_AUTH.bk_app_code || a.bk_app_secret !== BK_AUTH.bk_app_secret) {
      return { status: 400, body: { code: 1640001, data: null, code_name: 'INVALID_ARGS', message: 'app code or secret invalid', result: false } };
    }
    if (!a.bk_username) return { status: 400, body: { code: 1640001, data: null, code_name: 'INVALID_ARGS', message: 'user authentication failed', result: false } };
    return undefined;
  };
  const page = (req: FakeRequest, sortRequired: boolean) => {
    const p = req.json?.page;
    pageRequests.push({ start: p?.start, limit: p?.limit, sort: p?.sort });
    if (!p || typeof p.start !== 'number' || typeof p.limit !== 'number' || p.limit < 1 || p.limit > 500) return { err: bizError(1199006, "'page.limit' data parameter verification does not pass") };
    if (sortRequired && p.sort !== 'bk_host_id') return { err: bizError(1199006, 'sort missing') };
    return { start: p.start as number, limit: p.limit as number };
  };
  const flat = (h: FakeBkHost, fields: string[]) => {
    const { set: _s, modules: _m, ...attrs } = h;
    const out: Record<string, unknown> = {};
    for (const f of fields) out[f] = (attrs as Record<string, unknown>)[f] ?? null;
    return out;
  };
  const condMatch = (cond: unknown, value: string | string[]) => {
    if (!Array.isArray(cond)) return true;
    return cond.every((c: any) => {
      // Gateway-style operators are accepted but match nothing (contract errata).
      if (c.operator !== '$eq' && c.operator !== '$ne') return false;
      const vals = Array.isArray(value) ? value : [value];
      return c.operator === '$eq' ? vals.includes(c.value) : !vals.includes(c.value);
    });
  };

  fake.route(`POST /api/bk-cmdb/prod/api/v3/hosts/app/${bizId}/list_hosts`, (req) => {
    const denied = auth(req); if (denied) return denied;
    const f = failNext.shift(); if (f) return f;
    const p = page(req, true); if (p.err) return p.err;
    const fields: string[] = req.json.fields ?? [];
    let list = hosts.filter((h) => condMatch(req.json.set_cond, h.set) && condMatch(req.json.module_cond, h.modules));
    const rules = req.json.host_property_filter?.rules ?? [];
    list = list.filter((h) => rules.every((r: any) => r.operator === 'equal' && (h as any)[r.field] === r.value));
    list.sort((a, b) => a.bk_host_id - b.bk_host_id);
    return ok({ count: list.length, info: list.slice(p.start, p.start! + p.limit!).map((h) => flat(h, fields)) });
  });
  fake.route(`POST /api/bk-cmdb/prod/api/v3/hosts/app/${bizId}/list_hosts_topo`, (req) => {
    const denied = auth(req); if (denied) return denied;
    const f = failNext.shift(); if (f) return f;
    const p = page(req, false); if (p.err) return p.err;
    const fields: string[] = req.json.fields ?? [];
    const list = hosts.slice().sort((a, b) => a.bk_host_id - b.bk_host_id);
    return ok({
      count: list.length,
      info: list.slice(p.start, p.start! + p.limit!).map((h) => ({
        host: flat(h, fields),
        topo: [{ bk_set_id: h.set.length, bk_set_name: h.set, module: h.modules.map((m, i) => ({ bk_module_id: 100 + i, bk_module_name: m })) }],
      })),
    });
  });
  for (const resource of ['host', 'host_relation']) {
    fake.route(`POST /api/bk-cmdb/prod/api/v3/event/watch/resource/${resource}`, async (req) => {
      const denied = auth(req); if (denied) return denied;
      if (resource === 'host' && !Array.isArray(req.json?.bk_fields)) return bizError(1199006, 'bk_fields required for host');
      let after: number;
      if (req.json?.bk_cursor) {
        const c = parse(req.json.bk_cursor);
        if (c.epoch !== epoch || !Number.isInteger(c.n)) return bizError(1103007, 'event chain node not exist');
        after = c.n;
      } else after = seq; // from now
      // Long-poll briefly for new events.
      for (let i = 0; i < 10 && !events.some((e) => e.seq > after && e.resource === resource); i++) await new Promise((r) => setTimeout(r, 50));
      const found = events.filter((e) => e.seq > after && e.resource === resource).slice(0, 200);
      if (req.json?.bk_cursor && parse(req.json.bk_cursor).epoch !== epoch) return bizError(1103007, 'event chain node not exist');
      if (!found.length) {
        return ok({ bk_watched: false, bk_events: [{ bk_cursor: cursorOf(Math.max(after, seq)), bk_resource: resource, bk_event_type: '', bk_detail: null }] });
      }
      return ok({ bk_watched: true, bk_events: found.map((e) => ({ bk_cursor: cursorOf(e.seq), bk_resource: e.resource, bk_event_type: e.type, bk_detail: e.detail })) });
    });
  }
  return {
    fake, baseUrl: `${fake.url}/api/bk-cmdb/prod`, hosts, bizId, failNext, pageRequests,
    emit(resource, type, detail) { events.push({ seq: ++seq, resource, type, detail }); },
    expireCursors() { epoch++; },
    close: () => fake.close(),
  };
}

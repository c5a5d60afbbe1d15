// BlueKing CMDB client (API gateway or legacy ESB): envelope checks, paging by bk_host_id, resource_watch. Used by the
// bkcmdb provider and the bkcmdb host-sync source.
import { isIP } from 'node:net';
import { UpstreamDataError, UpstreamUnavailableError } from '../errors.js';
import { ensureOk, excerpt, isRecord, requestJson } from './http-json.js';

export interface BkCmdbConnection {
  /** Gateway: `https://bkapi.example.com/api/bk-cmdb/prod`; ESB: `https://paas.example.com` (the client adds `/api/c/compapi/v2/cc/<api>/`). */
  baseUrl: string;
  mode: 'apigw' | 'esb';
  appCode: string;
  appSecret: string;
  username?: string;
  accessToken?: string;
  bkToken?: string;
  supplierAccount: string;
  tenantId?: string;
  /** Use the public `/api/v3/open/...` copies of the gateway resources (CMDB ≥ 3.14.7). */
  openApi: boolean;
  timeoutMs: number;
  pageSize: number;
}

export interface BkHost { bk_host_id: number; bk_host_innerip?: string | null; bk_host_name?: string | null; [k: string]: unknown }
export interface BkTopoHost { host: BkHost; sets: Array<{ id: number; name: string; modules: Array<{ id: number; name: string }> }> }
/** `type` null: a cursor-only entry (CMDB answers `bk_watched: false` with the latest cursor and no event). */
export interface BkWatchEvent { cursor: string; resource: string; type: 'create' | 'update' | 'delete' | null; detail: Record<string, unknown> | null }
export type BkWatchResult = { expired: true } | { expired: false; watched: boolean; events: BkWatchEvent[] };

/** CMDB: the event cursor no longer exists (watch chain expired) — fall back to a full listing. */
export const CURSOR_EXPIRED_CODE = 1103007;
/** CMDB: no permission (IAM). */
const NO_PERMISSION_CODE = 9900403;
const MAX_PAGE = 500;
const MAX_RESTARTS = 2;

/** The first inner IPv4/IPv6 of a comma-joined `bk_host_innerip`, or undefined. */
export function firstInnerIp(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.split(',').map((s) => s.trim()).find((s) => isIP(s) !== 0);
}

class BkBusinessError extends UpstreamDataError {
  constructor(readonly bkCode: number, message: string) {
    super(message);
  }
}

export class BkCmdbClient {
  constructor(private readonly conn: BkCmdbConnection) {
    if (conn.pageSize < 1 || conn.pageSize > MAX_PAGE) throw new Error(`page size must be 1-${MAX_PAGE}`);
  }

  /** One API call; returns `data` of a successful envelope. `gatewayPath` is below `/api/v3` (e.g. `/hosts/app/7/list_hosts`). */
  async call(api: string, gatewayPath: string, body: Record<string, unknown>, signal?: AbortSignal, timeoutMs?: number): Promise<unknown> {
    const c = this.conn;
    const what = `bkcmdb ${api}`;
    const headers: Record<string, string> = {};
    let url: string;
    let payload: Record<string, unknown>;
    const base = c.baseUrl.replace(/\/+$/, '');
    if (c.mode === 'apigw') {
      url = `${base}/api/v3${c.openApi ? '/open' : ''}${gatewayPath}`;
      const auth: Record<string, string> = { bk_app_code: c.appCode, bk_app_secret: c.appSecret };
      if (c.username) auth.bk_username = c.username;
      if (c.accessToken) auth.access_token = c.accessToken;
      if (c.bkToken) auth.bk_token = c.bkToken;
      headers['x-bkapi-authorization'] = JSON.stringify(auth);
      if (c.tenantId) headers['x-bk-tenant-id'] = c.tenantId;
      payload = body;
    } else {
      url = `${base}/api/c/compapi/v2/cc/${api}/`;
      payload = { bk_app_code: c.appCode, bk_app_secret: c.appSecret, bk_supplier_account: c.supplierAccount, ...body };
      if (c.username) payload.bk_username = c.username;
      if (c.bkToken) payload.bk_token = c.bkToken;
    }
    const res = await requestJson(url, { method: 'POST', headers, body: payload, signal, timeoutMs: timeoutMs ?? c.timeoutMs, what });
    const env = res.body;
    // Errors of the gateway itself: non-200 with code_name.
    if (isRecord(env) && typeof env.code_name === 'string' && res.status !== 200) {
      const detail = `gateway error ${String(env.code)} ${env.code_name}: ${String(env.message ?? '')}`;
      // 1640001 INVALID_ARGS: missing or wrong app/user credentials — an authentication refusal, not bad data.
      if (Number(env.code) === 1640001) throw new UpstreamUnavailableError(`${what}: HTTP ${res.status}: ${detail} (authentication refused)`);
      ensureOk(res, what, detail);
    }
    ensureOk(res, what);
    if (!isRecord(env) || typeof env.result !== 'boolean') throw new UpstreamDataError(`${what}: not a CMDB envelope: ${excerpt(res.text)}`);
    const requestId = typeof env.request_id === 'string' ? ` (request_id ${env.request_id})` : '';
    if (!env.result) {
      const code = Number(env.code ?? env.bk_error_code);
      const message = String(env.message ?? env.bk_error_msg ?? '');
      if (code === NO_PERMISSION_CODE) throw new UpstreamUnavailableError(`${what}: no permission (code ${code}): ${message}${requestId}`);
      throw new BkBusinessError(code, `${what}: CMDB error ${code}: ${message}${requestId}`);
    }
    return env.data;
  }

  /** Every page of a list API: `start += limit` until `count`, restarted if the total changes under us (offset paging would skip hosts). */
  private async pages<T>(api: string, path: string, body: Record<string, unknown>, sort: boolean, parse: (row: unknown, i: number) => T, key: (t: T) => number, signal?: AbortSignal): Promise<T[]> {
    const limit = this.conn.pageSize;
    for (let attempt = 0; ; attempt++) {
      const out = new Map<number, T>();
      let total: number | undefined;
      let changed = false;
      for (let start = 0; total === undefined || start < total; start += limit) {
        const page = sort ? { start, limit, sort: 'bk_host_id' } : { start, limit };
        const data = await this.call(api, path, { ...body, page }, signal);
        if (!isRecord(data) || typeof data.count !== 'number' || !Array.isArray(data.info)) {
          throw new UpstreamDataError(`bkcmdb ${api}: data must be {count, info[]}`);
        }
        if (total !== undefined && data.count !== total) { changed = true; break; }
        total = data.count;
        data.info.forEach((row, i) => { const t = parse(row, start + i); out.set(key(t), t); });
        if (data.info.length === 0 && start < total) { changed = true; break; }
      }
      if (!changed && out.size >= (total ?? 0)) return [...out.values()];
      if (!changed) throw new UpstreamDataError(`bkcmdb ${api}: listing incomplete (${out.size} unique hosts of ${total})`);
      if (attempt >= MAX_RESTARTS) throw new UpstreamDataError(`bkcmdb ${api}: host count kept changing while paging; listing not trusted`);
    }
  }

  /** `list_biz_hosts`: flat hosts of a business, optionally narrowed by set/module conditions (`$eq`). */
  listBizHosts(bizId: number, opts: { setCond?: unknown[]; moduleCond?: unknown[]; hostFilter?: unknown; fields: string[] }, signal?: AbortSignal): Promise<BkHost[]> {
    const body: Record<string, unknown> = { bk_biz_id: bizId, fields: opts.fields };
    if (opts.setCond) body.set_cond = opts.setCond;
    if (opts.moduleCond) body.module_cond = opts.moduleCond;
    if (opts.hostFilter) body.host_property_filter = opts.hostFilter;
    return this.pages('list_biz_hosts', `/hosts/app/${bizId}/list_hosts`, body, true, (row, i) => parseHost(row, `list_biz_hosts info[${i}]`), (h) => h.bk_host_id, signal);
  }

  /** `list_biz_hosts_topo`: every host of a business with the sets and modules it sits in. */
  listBizHostsTopo(bizId: number, fields: string[], signal?: AbortSignal): Promise<BkTopoHost[]> {
    const parse = (row: unknown, i: number): BkTopoHost => {
      const where = `list_biz_hosts_topo info[${i}]`;
      if (!isRecord(row) || !Array.isArray(row.topo)) throw new UpstreamDataError(`bkcmdb ${where}: must be {host, topo[]}`);
      const host = parseHost(row.host, `${where}.host`);
      const sets = row.topo.map((s, j) => {
        if (!isRecord(s) || typeof s.bk_set_name !== 'string' || !Array.isArray(s.module ?? [])) throw new UpstreamDataError(`bkcmdb ${where}.topo[${j}]: bad set`);
        const modules = ((s.module ?? []) as unknown[]).map((m, k) => {
          if (!isRecord(m) || typeof m.bk_module_name !== 'string') throw new UpstreamDataError(`bkcmdb ${where}.topo[${j}].module[${k}]: bad module`);
          return { id: Number(m.bk_module_id), name: m.bk_module_name };
        });
        return { id: Number(s.bk_set_id), name: s.bk_set_name, modules };
      });
      return { host, sets };
    };
    // list_biz_hosts_topo sorts by bk_host_id itself and takes no `sort`.
    return this.pages('list_biz_hosts_topo', `/hosts/app/${bizId}/list_hosts_topo`, { bk_biz_id: bizId, fields }, false, parse, (h) => h.host.bk_host_id, signal);
  }

  /** `resource_watch` on host or host_relation: events after `cursor` (or from `startFrom`, unix seconds). Long-polls up to ~20 s. */
  async watch(resource: 'host' | 'host_relation', opts: { cursor?: string; startFrom?: number; fields?: string[] }, signal?: AbortSignal): Promise<BkWatchResult> {
    const body: Record<string, unknown> = { bk_resource: resource, bk_event_types: ['create', 'update', 'delete'] };
    if (opts.fields) body.bk_fields = opts.fields;
    if (opts.cursor) body.bk_cursor = opts.cursor;
    else if (opts.startFrom !== undefined) body.bk_start_from = opts.startFrom;
    let data: unknown;
    try {
      data = await this.call('resource_watch', `/event/watch/resource/${resource}`, body, signal, Math.max(this.conn.timeoutMs, 40_000));
    } catch (err) {
      if (err instanceof BkBusinessError && err.bkCode === CURSOR_EXPIRED_CODE) return { expired: true };
      throw err;
    }
    if (!isRecord(data) || !Array.isArray(data.bk_events)) throw new UpstreamDataError('bkcmdb resource_watch: data must be {bk_watched, bk_events[]}');
    const events = data.bk_events.map((e, i): BkWatchEvent => {
      if (!isRecord(e) || typeof e.bk_cursor !== 'string') throw new UpstreamDataError(`bkcmdb resource_watch bk_events[${i}]: no bk_cursor`);
      const type = e.bk_event_type ?? '';
      if (type !== '' && type !== 'create' && type !== 'update' && type !== 'delete') throw new UpstreamDataError(`bkcmdb resource_watch bk_events[${i}]: bad bk_event_type`);
      return { cursor: e.bk_cursor, resource: String(e.bk_resource ?? resource), type: type === '' ? null : type, detail: isRecord(e.bk_detail) ? e.bk_detail : null };
    });
    return { expired: false, watched: data.bk_watched === true, events };
  }
}

function parseHost(row: unknown, where: string): BkHost {
  if (!isRecord(row)) throw new UpstreamDataError(`bkcmdb ${where}: not an object`);
  const id = row.bk_host_id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) throw new UpstreamDataError(`bkcmdb ${where}: bk_host_id must be an integer`);
  return row as BkHost;
}

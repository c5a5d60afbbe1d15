// Config of the CMDB providers (the `inventory` section): provider choice, answer cache, and each provider's settings.
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import type { BkCmdbConnection } from './bkcmdb-client.js';

const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL');
const headerName = z.string().regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name');

/** BlueKing CMDB connection: every key optional here so that secrets may come from the environment; checked when used. */
export const bkConnectionSchema = z.strictObject({
  baseUrl: httpUrl.optional(),
  mode: z.enum(['apigw', 'esb']).optional(),
  appCode: z.string().min(1).optional(),
  appSecret: z.string().min(1).optional(),
  username: z.string().min(1).optional(),
  accessToken: z.string().min(1).optional(),
  bkToken: z.string().min(1).optional(),
  supplierAccount: z.string().min(1).optional(),
  tenantId: z.string().min(1).optional(),
  openApi: z.boolean().optional(),
  /** Seconds per request. */
  timeout: z.number().int().min(1).max(600).optional(),
  pageSize: z.number().int().min(1).max(500).optional(),
});
export type BkConnectionConfig = z.infer<typeof bkConnectionSchema>;

/** Merge connection settings (first wins) and check the required keys; `where` names the config keys in errors. */
export function resolveBkConnection(where: string, ...layers: Array<BkConnectionConfig | undefined>): BkCmdbConnection {
  const m: BkConnectionConfig = {};
  for (const layer of layers.slice().reverse()) Object.assign(m, Object.fromEntries(Object.entries(layer ?? {}).filter(([, v]) => v !== undefined)));
  const problems: string[] = [];
  if (!m.baseUrl) problems.push(`${where}.baseUrl: required (the API gateway stage URL, e.g. https://bkapi.example.com/api/bk-cmdb/prod)`);
  if (!m.appCode) problems.push(`${where}.appCode: required`);
  if (!m.appSecret) problems.push(`${where}.appSecret: required (or set GITFLEET_BKCMDB_APP_SECRET)`);
  if (!m.username && !m.accessToken && !m.bkToken) problems.push(`${where}.username: one of username, accessToken, bkToken is required`);
  if (problems.length) throw new ConfigError(problems);
  return {
    baseUrl: m.baseUrl!, mode: m.mode ?? 'apigw', appCode: m.appCode!, appSecret: m.appSecret!, username: m.username,
    accessToken: m.accessToken, bkToken: m.bkToken, supplierAccount: m.supplierAccount ?? '0', tenantId: m.tenantId,
    openApi: m.openApi ?? false, timeoutMs: (m.timeout ?? 30) * 1000, pageSize: m.pageSize ?? 500,
  };
}

export const httpProviderSchema = z.strictObject({
  /** `{env}` and `{app}` are replaced (URL-encoded), e.g. https://cmdb.example.com/api/hosts?env={env}&app={app}. */
  url: httpUrl.optional(),
  /** Extra request headers (not secret). */
  headers: z.record(headerName, z.string()).default({}),
  /** Header that carries the credential, e.g. Authorization or X-Api-Key. */
  authHeader: headerName.default('Authorization'),
  /** Its value, e.g. "Bearer abc…" (or GITFLEET_CMDB_HTTP_AUTH). */
  authValue: z.string().min(1).optional(),
  timeout: z.number().int().min(1).max(600).default(20),
}).prefault({});

export const bkProviderSchema = bkConnectionSchema.extend({
  bizId: z.number().int().min(1).optional(),
  /** Inventory env → CMDB set name (bk_set_name); an env not listed uses its own name. */
  envSets: z.record(z.string(), z.string().min(1)).default({}),
  /** App → CMDB module name (bk_module_name); an app not listed uses its own name. */
  appModules: z.record(z.string(), z.string().min(1)).default({}),
  /** Only hosts of this cloud area (bk_cloud_id); unset = all. */
  cloudId: z.number().int().min(0).optional(),
}).prefault({});

export const cmdbConfigSchema = z.strictObject({
  provider: z.string().min(1).default('builtin'),
  /** Seconds a remote provider's answer may be reused; 0 = ask every time. Never applies to builtin. */
  cacheTtl: z.number().int().min(0).max(3600).default(0),
  http: httpProviderSchema,
  bkcmdb: bkProviderSchema,
});

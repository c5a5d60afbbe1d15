// The only reader of config files and environment: a frozen, typed Config or a ConfigError listing every problem.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { POSIX_NAME_RE, SEGMENT_RE } from './util/validate.js';
import { cmdbConfigSchema } from './cmdb/config-schema.js';
import { hostSyncConfigSchema } from './hostsync/config-schema.js';
import { esSyncConfigSchema } from './essync/config-schema.js';
import { agentsConfigSchema } from './agents/config-schema.js';
import { modifyConfigSchema } from './fssync/config-schema.js';
import { notificationsConfigSchema } from './notify/config-schema.js';
import { syncWindowsConfigSchema } from './windows/config-schema.js';
import { dryRunDiffConfigSchema } from './deploy/diff-config-schema.js';
import { previewsConfigSchema } from './preview/config-schema.js';
import { secretsConfigSchema } from './templating/config-schema.js';
import { auditConfigSchema } from './audit/config-schema.js';
import { clusterConfigSchema } from './cluster/config-schema.js';

const noSpaces = z.string().min(1).regex(/^[^\s'"]+$/, 'must not contain spaces or quotes');
const posixName = z.string().regex(POSIX_NAME_RE, 'must be a POSIX user/group name');
const seconds = (def: number, max = 86_400) => z.number().int().min(0).max(max).default(def);
const unitKey = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*\/[A-Za-z0-9_][A-Za-z0-9._-]*\/[A-Za-z0-9_][A-Za-z0-9._-]*$/, 'must be <mod>/<env>/<app>');

const sshSchema = z.strictObject({
  user: posixName.default('root'),
  port: z.number().int().min(1).max(65535).default(22),
  identityFile: noSpaces.optional(),
  knownHostsFile: noSpaces.optional(),
  hostKeyPolicy: z.enum(['strict', 'accept-new']).default('strict'),
  connectTimeout: z.number().int().min(1).max(300).default(10),
  kexAlgorithms: z.string().regex(/^[A-Za-z0-9@.,+-]+$/, 'must be a comma-separated list of algorithm names').optional(),
  /** Reuse of SSH connections (ControlMaster); see README "Connection reuse". */
  reuse: z.boolean().default(true),
  idleTimeout: seconds(300),
  maxConnections: z.number().int().min(1).max(100_000).default(200),
  keepAliveInterval: z.number().int().min(1).max(300).default(5),
  keepAliveCountMax: z.number().int().min(1).max(100).default(3),
  keepWarm: z.boolean().default(false),
  /** With keepWarm: hosts that received a unit within this many seconds are kept connected. */
  keepWarmWindow: z.number().int().min(1).max(30 * 86_400).default(3600),
  /** Before rsync to a host with an open connection, ask it which files differ (README "Connection reuse"). */
  probe: z.boolean().default(true),
  /** After the probe, write a few small differing files through its shell instead of starting rsync. */
  shellWrites: z.boolean().default(true),
  /** The rsync command run on hosts (rsync --rsync-path): a path, or e.g. `sudo rsync` for a non-root deploy user. */
  rsyncPath: z.string().regex(/^[A-Za-z0-9_./=-]+( [A-Za-z0-9_./=-]+)*$/, 'must be a program and plain words separated by single spaces').default('rsync'),
});

const deploySchema = z.strictObject({
  concurrency: z.number().int().min(1).max(1000).default(20),
  hostTimeout: z.number().int().min(1).max(86_400).default(120),
  retries: z.number().int().min(0).max(10).default(2),
  retryBackoff: z.number().min(0).max(600).default(2),
  queueSize: z.number().int().min(1).max(100_000).default(1000),
  owner: posixName.optional(),
  group: posixName.optional(),
  /** Per-unit overrides keyed by "<mod>/<env>/<app>". */
  units: z.record(unitKey, z.strictObject({ owner: posixName.optional(), group: posixName.optional() })).default({}),
  ssh: sshSchema.prefault({}),
  /** Files a push overwrites or removes are kept on the host, per deployment, so it can be undone there. */
  backups: z.strictObject({
    enabled: z.boolean().default(true),
    dir: z.string().regex(/^\/[A-Za-z0-9._/-]+$/, 'must be an absolute path of plain characters').refine((p) => !p.split('/').includes('..'), 'must not contain ..').default('/var/lib/gitfleet/backups'),
    keep: z.number().int().min(1).max(1000).default(5),
  }).prefault({}),
  /** Deletion circuit breaker: a push removing more than this is held for confirmation. */
  deletion: z.strictObject({
    maxFiles: z.number().int().min(0).default(25),
    maxPercent: z.number().min(0).max(100).default(50),
  }).prefault({}),
});

const driftSchema = z.strictObject({
  /** Seconds between drift checks of every unit; 0 = off. */
  interval: z.number().int().min(0).max(7 * 86_400).default(0),
  /** Push drifted hosts back to git (per unit: `selfHeal` in the unit's .gitfleet.yaml wins). */
  selfHeal: z.boolean().default(false),
});

const days = (d: number) => z.number().int().min(0).max(36_500).default(d);
const retentionSchema = z.strictObject({
  /** Finished deployments older than this many days go (with their unit and host rows); 0 = keep forever. */
  deployments: days(90),
  /** Finished host-sync, upstream-sync and agent-collection runs. */
  runs: days(30),
  /** Webhook delivery keys (redelivery detection). */
  webhookDeliveries: days(30),
  /** Seconds between prunes (the first one a minute after start). */
  interval: z.number().int().min(60).max(7 * 86_400).default(3600),
});

export const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    shutdownGrace: z.number().int().min(1).max(3600).default(30),
    trustProxy: z.boolean().default(false),
  }).prefault({}),
  dataDir: z.string().min(1).default('./data'),
  /** The store (README "PostgreSQL"): absent = SQLite in dataDir/gitfleet.db; a postgres:// URL = that database. */
  db: z.strictObject({
    url: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// or postgresql:// URL').optional(),
  }).prefault({}),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
  repo: z.strictObject({
    url: z.string().min(1).optional(),
    branch: z.string().regex(/^[A-Za-z0-9._/-]+$/).refine((b) => !b.startsWith('-') && !b.includes('..'), 'not a safe branch name').default('main'),
    pollInterval: seconds(60),
  }).prefault({}),
  webhook: z.strictObject({
    maxBodyBytes: z.number().int().min(1024).max(26_214_400).default(5_242_880),
    gitlab: z.strictObject({
      token: z.string().min(1).optional(),
      signingSecret: z.string().min(1).optional(),
      toleranceSeconds: z.number().int().min(1).max(3600).default(300),
    }).prefault({}),
    github: z.strictObject({ secret: z.string().min(1).optional() }).prefault({}),
  }).prefault({}),
  api: z.strictObject({
    /** Admin tokens (named config-1, config-2, … in the audit log); scoped tokens are made through /api/v1/tokens. */
    tokens: z.array(z.string().min(16, 'API tokens must be at least 16 characters')).default([]),
    /** Run the API without tokens on a non-loopback address (README "Tokens and scopes"); warned at every start. */
    open: z.boolean().default(false),
  }).prefault({}),
  audit: auditConfigSchema.prefault({}),
  inventory: cmdbConfigSchema.extend({
    envAliases: z.record(z.string().regex(SEGMENT_RE), z.string().regex(SEGMENT_RE)).default({}),
  }).prefault({}),
  deploy: deploySchema.prefault({}),
  drift: driftSchema.prefault({}),
  retention: retentionSchema.prefault({}),
  hostSync: hostSyncConfigSchema.prefault({}),
  esSync: esSyncConfigSchema.prefault({}),
  agents: agentsConfigSchema.prefault({}),
  modify: modifyConfigSchema.prefault({}),
  notifications: notificationsConfigSchema.prefault({}),
  /** Sync windows (README "Sync windows"): deny/allow periods for automatic and manual deployments. */
  syncWindows: syncWindowsConfigSchema,
  dryRunDiff: dryRunDiffConfigSchema.prefault({}),
  previews: previewsConfigSchema.prefault({}),
  secrets: secretsConfigSchema.prefault({}),
  /** Several processes on one PostgreSQL database (README "Scale-out"). */
  cluster: clusterConfigSchema,
});

export type Config = z.infer<typeof configSchema> & { configFile?: string; dataDir: string };

/** Secrets and a few deployment-specific values may come from the environment (they win over the file). */
const ENV_OVERRIDES: Array<[string, string[], (v: string) => unknown]> = [
  ['GITFLEET_PORT', ['server', 'port'], Number],
  ['GITFLEET_HOST', ['server', 'host'], String],
  ['GITFLEET_DATA_DIR', ['dataDir'], String],
  ['GITFLEET_DB_URL', ['db', 'url'], String],
  ['GITFLEET_ROLE', ['cluster', 'role'], String],
  ['GITFLEET_DC', ['cluster', 'dc'], String],
  ['GITFLEET_REPO_URL', ['repo', 'url'], String],
  ['GITFLEET_LOG_LEVEL', ['log', 'level'], String],
  ['GITFLEET_GITLAB_TOKEN', ['webhook', 'gitlab', 'token'], String],
  ['GITFLEET_GITLAB_SIGNING_SECRET', ['webhook', 'gitlab', 'signingSecret'], String],
  ['GITFLEET_GITHUB_SECRET', ['webhook', 'github', 'secret'], String],
  ['GITFLEET_API_TOKENS', ['api', 'tokens'], (v) => v.split(',').map((s) => s.trim()).filter(Boolean)],
  ['GITFLEET_AGENT_TOKEN', ['agents', 'token'], String],
  ['GITFLEET_CMDB_HTTP_AUTH', ['inventory', 'http', 'authValue'], String],
  ['GITFLEET_BKCMDB_APP_SECRET', ['inventory', 'bkcmdb', 'appSecret'], String],
  ['GITFLEET_ALIYUN_ACCESS_KEY_ID', ['hostSync', 'aliyun', 'accessKeyId'], String],
  ['GITFLEET_ALIYUN_ACCESS_KEY_SECRET', ['hostSync', 'aliyun', 'accessKeySecret'], String],
  ['GITFLEET_UPSTREAM_AUTH', ['hostSync', 'upstream', 'authValue'], String],
  ['GITFLEET_ES_USERNAME', ['esSync', 'auth', 'username'], String],
  ['GITFLEET_ES_PASSWORD', ['esSync', 'auth', 'password'], String],
  ['GITFLEET_ES_API_KEY', ['esSync', 'auth', 'apiKey'], String],
  ['GITFLEET_NOTIFY_URL', ['notifications', 'targets', 'default', 'url'], String],
  ['GITFLEET_NOTIFY_AUTH', ['notifications', 'targets', 'default', 'headers', 'Authorization'], String],
  ['GITFLEET_NOTIFY_SECRET', ['notifications', 'targets', 'default', 'secret'], String],
  ['GITFLEET_PREVIEWS_GITLAB_TOKEN', ['previews', 'gitlab', 'token'], String],
  ['GITFLEET_PREVIEWS_GITHUB_TOKEN', ['previews', 'github', 'token'], String],
];

/**
 * Conventional variables that process managers and PaaS set: used only where the file says nothing,
 * and below their GITFLEET_* forms (which win over the file).
 */
const ENV_FALLBACKS: Array<[string, string[], (v: string) => unknown]> = [
  ['PORT', ['server', 'port'], Number],
  ['HOST', ['server', 'host'], String],
];

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof cur[key] !== 'object' || cur[key] === null) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

function getPath(obj: unknown, path: PropertyKey[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/** Validate a raw object (from YAML plus env) into a Config; throws ConfigError naming each key and value. */
export function parseConfig(raw: unknown, baseDir = process.cwd()): Config {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(root)';
      if (issue.code === 'unrecognized_keys') return `${key === '(root)' ? '' : `${key}: `}unknown key(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      if (issue.code === 'invalid_key') {
        const parent = issue.path.slice(0, -1).join('.');
        return `${parent}: key ${JSON.stringify(issue.path[issue.path.length - 1])} ${issue.issues.map((i) => i.message).join('; ')}`;
      }
      const value = getPath(raw, issue.path);
      // Credentials, and URLs (they may carry them: bot webhooks, https://user:token@…), are never printed.
      const shown = /token|secret|password|apikey|authvalue|accesskey|url$|endpoint/i.test(key) ? '(hidden)' : JSON.stringify(value);
      return `${key}: ${issue.message} (got ${shown})`;
    });
    throw new ConfigError(problems);
  }
  const cfg = result.data;
  // Several processes need the shared store: on SQLite there is one process and it does everything.
  if (cfg.cluster.role !== 'all' && !cfg.db.url) throw new ConfigError([`cluster.role: ${cfg.cluster.role} needs db.url (PostgreSQL); with SQLite one process does everything (role all)`]);
  if (cfg.cluster.enabled && !cfg.db.url) throw new ConfigError(['cluster.enabled: needs db.url (PostgreSQL): processes share work through the store']);
  return Object.freeze({ ...cfg, dataDir: resolve(baseDir, cfg.dataDir) }) as Config;
}

/** Read `--config FILE` / GITFLEET_CONFIG (optional), apply env overrides, validate. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const idx = argv.indexOf('--config');
  const file = idx >= 0 ? argv[idx + 1] : env.GITFLEET_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`config file ${file}: ${(err as Error).message}`]);
    }
    try {
      raw = (parseYaml(text) ?? {}) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError([`config file ${file}: not valid YAML: ${(err as Error).message}`]);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError([`config file ${file}: top level must be a mapping`]);
  }
  const problems: string[] = [];
  const fromEnv = ENV_FALLBACKS.filter(([, path]) => getPath(raw, path) === undefined).concat(ENV_OVERRIDES);
  for (const [name, path, conv] of fromEnv) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const converted = conv(v);
    if (typeof converted === 'number' && Number.isNaN(converted)) problems.push(`${name}: not a number (got ${JSON.stringify(v)})`);
    setPath(raw, path, converted);
  }
  if (problems.length) throw new ConfigError(problems);
  for (const [flag, path] of [['--role', ['cluster', 'role']], ['--dc', ['cluster', 'dc']]] as const) {
    const i = argv.indexOf(flag);
    if (i < 0) continue;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new ConfigError([`${flag}: needs a value`]);
    setPath(raw, [...path], v);
  }
  const cfg = parseConfig(raw);
  return file ? Object.freeze({ ...cfg, configFile: resolve(file) }) : cfg;
}

// PURE: the agent report (the collector's JSON document) as a zod schema, and parseReport with clear messages.
import { isIP } from 'node:net';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { SEGMENT_RE } from '../util/validate.js';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Plugin names: short lowercase words that cannot collide with the other keys of stored facts. */
export const PLUGIN_NAME_RE = /^[a-z][a-z0-9_]{0,31}$/;
export const RESERVED_FACT_KEYS = new Set(['collector', 'collectedAt', 'receivedAt', 'hostname', 'ip', 'identity', 'errors', 'via']);

const text = (max = 512) => z.string().max(max);
const ntext = (max = 512) => text(max).nullable();
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const ncount = count.nullable();
const segment = z.string().regex(SEGMENT_RE, 'must be a name like "prod" (letters, digits, . _ -)');
const ip = z.string().max(64).refine((v) => isIP(v) !== 0, 'must be an IPv4 or IPv6 address');
/** Plugins report declared fields with these types; extra fields from newer collectors are kept. */
const loose = z.looseObject;

const basic = loose({
  hostname: text(253),
  os: loose({ id: ntext(), versionId: ntext(), name: ntext(), prettyName: ntext(), codename: ntext() }),
  kernel: loose({ name: ntext(), release: ntext(), version: ntext() }),
  arch: ntext(64),
  uptimeSeconds: ncount,
  bootTime: ncount,
  loadAverage: z.array(z.number().min(0).nullable()).max(3),
});

const cpu = loose({
  model: ntext(), vendor: ntext(), arch: ntext(64),
  cores: ncount, available: ncount, sockets: ncount, physicalCores: ncount,
  mhz: z.number().min(0).nullable(), hypervisor: z.boolean().nullable(),
});

const memory = loose({ totalBytes: count, availableBytes: ncount, freeBytes: ncount, swapTotalBytes: ncount, swapFreeBytes: ncount });

const disks = loose({
  source: text(32),
  devices: z.array(loose({
    name: text(128), sizeBytes: count, model: ntext(), vendor: ntext(), serial: ntext(),
    rotational: z.boolean().nullable(), removable: z.boolean().nullable(),
  })).max(4096),
  filesystems: z.array(loose({
    device: text(4096), mountpoint: text(4096), type: ntext(64), readOnly: z.boolean().nullable(),
    sizeBytes: count, usedBytes: count, availableBytes: count,
  })).max(4096),
});

const network = loose({
  source: text(32),
  interfaces: z.array(loose({
    name: text(64), mac: ntext(64), type: ntext(32), state: ntext(32), mtu: ncount,
    addresses: z.array(loose({ family: z.enum(['ipv4', 'ipv6']), address: text(64), prefix: ncount, scope: ntext(32) })).max(1024),
  })).max(4096),
  defaultRoute: loose({ gateway: ntext(64), interface: ntext(64) }).nullable(),
  ipv4Local: z.array(text(64)).max(1024).optional(),
});

const board = loose({
  source: text(32), manufacturer: ntext(), model: ntext(), version: ntext(), serial: ntext(), uuid: ntext(),
  board: loose({ manufacturer: ntext(), model: ntext(), serial: ntext() }).nullable(),
  chassisType: ncount,
  bios: loose({ vendor: ntext(), version: ntext(), date: ntext() }).nullable(),
  virtualization: ntext(64),
  unreadable: z.array(text(64)).max(64),
});

/** A plugin's outcome: its data, or the error it reported (the other plugins still count). */
const result = <T extends z.ZodType>(data: T) => z.discriminatedUnion('status', [
  z.strictObject({ status: z.literal('ok'), data }),
  z.strictObject({ status: z.literal('error'), error: text(4000) }),
]);

/** The plugins this server knows; a newer collector's extra plugins are accepted as plain objects. */
export const KNOWN_PLUGINS = { basic, cpu, memory, disks, network, board } as const;

export const reportSchema = z.strictObject({
  schema: z.literal(1),
  collector: z.strictObject({ version: text(32), via: z.enum(['agent', 'ssh', 'local']) }),
  collectedAt: text(40),
  hostname: z.string().min(1).max(253),
  ip: ip.nullable(),
  identity: z.strictObject({
    id: z.string().regex(UUID_RE, 'must be a lowercase UUID'),
    pinnedHostname: ntext(253),
    pinnedAt: ntext(40),
    new: z.boolean(),
  }).nullable(),
  identityError: text(1000).optional(),
  inventory: z.strictObject({ env: segment.nullable(), apps: z.array(segment).max(256) }).optional(),
  plugins: z.object({
    basic: result(basic).optional(), cpu: result(cpu).optional(), memory: result(memory).optional(),
    disks: result(disks).optional(), network: result(network).optional(), board: result(board).optional(),
  }).catchall(result(z.record(z.string(), z.unknown()))).superRefine((plugins, c) => {
    const names = Object.keys(plugins);
    if (names.length > 64) c.addIssue({ code: 'custom', message: 'at most 64 plugins' });
    for (const n of names) {
      if (!PLUGIN_NAME_RE.test(n) || RESERVED_FACT_KEYS.has(n)) c.addIssue({ code: 'custom', path: [n], message: `plugin name must match ${PLUGIN_NAME_RE.source} and not be one of ${[...RESERVED_FACT_KEYS].join(', ')}` });
    }
  }),
});

export type AgentReport = z.infer<typeof reportSchema>;
export type PluginOutcome = { status: 'ok'; data: Record<string, unknown> } | { status: 'error'; error: string };

/** Validate a parsed JSON value as a report; throws ValidationError naming the first problems by path. */
export function parseReport(value: unknown): AgentReport {
  const r = reportSchema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.slice(0, 5).map((i) => `${['report', ...i.path.map(String)].join('.')}: ${i.message}`);
  const more = r.error.issues.length > 5 ? ` (and ${r.error.issues.length - 5} more)` : '';
  throw new ValidationError(`invalid agent report: ${problems.join('; ')}${more}`, 'report');
}

/** Names of the plugins that reported an error. */
export function failedPlugins(report: AgentReport): string[] {
  return Object.entries(report.plugins as Record<string, PluginOutcome>).filter(([, o]) => o.status === 'error').map(([n]) => n);
}

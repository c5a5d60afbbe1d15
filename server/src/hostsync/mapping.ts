// PURE: how a source record becomes an inventory host (env, apps, labels), configurable per source, and its hash.
import { createHash } from 'node:crypto';
import type { HostInput } from '../db/hosts.js';
import { parseHostInput } from '../inventory/host-input.js';
import { HOSTNAME_RE, SEGMENT_RE } from '../util/validate.js';
import type { MapConfig } from './map-config.js';
import type { SourceRecord } from './source.js';

// The schema lives in map-config.ts so that source.ts (which this file uses) can name MapConfig without a circle.
export { mapConfigSchema, type MapConfig } from './map-config.js';

export interface HostMapping {
  env: { field: string[]; values: Record<string, string>; default?: string; onlyMapped: boolean };
  apps: { field: string[]; split: string; values: Record<string, string>; default: string[]; onlyMapped: boolean };
  labels: string[];
  skipWithoutEnv: boolean;
  include: Record<string, string[]>;
  exclude: Record<string, string[]>;
}

const list = (v: string | string[] | undefined, def: string[]) => (v === undefined ? def : typeof v === 'string' ? [v] : v);

/** Source-type defaults overlaid with the configured map (key by key). */
export function resolveMapping(defaults: MapConfig, configured: MapConfig = {}): HostMapping {
  const env = { ...defaults.env, ...configured.env };
  const apps = { ...defaults.apps, ...configured.apps };
  return {
    env: { field: list(env.field, ['env']), values: env.values ?? {}, default: env.default, onlyMapped: env.onlyMapped ?? false },
    apps: { field: list(apps.field, ['apps']), split: apps.split ?? ',', values: apps.values ?? {}, default: apps.default ?? [], onlyMapped: apps.onlyMapped ?? false },
    labels: configured.labels ?? defaults.labels ?? [],
    skipWithoutEnv: configured.skipWithoutEnv ?? defaults.skipWithoutEnv ?? false,
    include: configured.include ?? defaults.include ?? {},
    exclude: configured.exclude ?? defaults.exclude ?? {},
  };
}

export type MapResult =
  | { kind: 'host'; uid: string; host: HostInput; hash: string }
  | { kind: 'skip'; uid: string; reason: string }
  | { kind: 'error'; uid: string; error: string };

const LABEL_MAX = 256;

function labelsOf(fields: Record<string, string>, specs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (key: string, value: string | undefined) => {
    if (value === undefined || value === '' || !SEGMENT_RE.test(key) || key.includes('..')) return;
    out[key] = value.length > LABEL_MAX ? value.slice(0, LABEL_MAX) : value;
  };
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq > 0) put(spec.slice(0, eq), fields[spec.slice(eq + 1)]);
    else if (spec.endsWith('*')) {
      const prefix = spec.slice(0, -1);
      for (const [k, v] of Object.entries(fields)) if (k.startsWith(prefix) && k.length > prefix.length) put(k.slice(prefix.length), v);
    } else put(spec, fields[spec]);
  }
  return out;
}

/** Canonical hash of the fields that matter for the inventory (what the host would look like once stored). */
export function hashHost(h: HostInput): string {
  const labels = Object.fromEntries(Object.entries(h.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const canon = JSON.stringify([h.ip, h.hostname ?? null, h.env, [...h.apps].sort(), h.port ?? null, h.user ?? null, labels]);
  return createHash('sha1').update(canon).digest('hex');
}

/** One record → a validated host with its hash, a deliberate skip, or a per-record error. */
export function mapRecord(rec: SourceRecord, m: HostMapping): MapResult {
  const uid = rec.uid;
  for (const [field, values] of Object.entries(m.include)) {
    if (!values.includes(rec.fields[field] ?? '')) return { kind: 'skip', uid, reason: `${field} not in include list` };
  }
  for (const [field, values] of Object.entries(m.exclude)) {
    if (values.includes(rec.fields[field] ?? '')) return { kind: 'skip', uid, reason: `${field} in exclude list` };
  }
  let env: string | undefined;
  for (const f of m.env.field) {
    const raw = rec.fields[f];
    if (raw === undefined || raw === '') continue;
    env = m.env.values[raw] ?? (m.env.onlyMapped ? undefined : raw);
    if (env) break;
  }
  env ||= m.env.default;
  if (!env) {
    if (m.skipWithoutEnv) return { kind: 'skip', uid, reason: 'no env' };
    return { kind: 'error', uid, error: `no env: field(s) ${m.env.field.join(', ')} empty and no default` };
  }
  const apps = new Set<string>();
  for (const f of m.apps.field) {
    for (const part of (rec.fields[f] ?? '').split(m.apps.split)) {
      const raw = part.trim();
      if (!raw) continue;
      const mapped = raw in m.apps.values ? m.apps.values[raw]! : m.apps.onlyMapped ? '' : raw;
      if (mapped) apps.add(mapped);
    }
  }
  if (apps.size === 0) for (const a of m.apps.default) apps.add(a);
  if (!rec.ip) return { kind: 'error', uid, error: 'no IP address' };
  try {
    const host = parseHostInput({
      // A name the inventory would reject (e.g. with "_") is dropped rather than failing the record.
      ip: rec.ip, hostname: rec.hostname && HOSTNAME_RE.test(rec.hostname) ? rec.hostname : null, env, apps: [...apps],
      port: rec.port ?? null, user: rec.user ?? null, labels: labelsOf(rec.fields, m.labels),
    });
    return { kind: 'host', uid, host, hash: hashHost(host) };
  } catch (err) {
    return { kind: 'error', uid, error: (err as Error).message };
  }
}

// PURE: the variables a template sees, merged lowest first: values files (repo → mod → env → the unit's own),
// then host facts under `host.`, then the host's own values file (which may also correct `host.` facts).
// Secrets sit apart under `secrets.` (from the encrypted values files, same order).
import { parse as parseYaml } from 'yaml';

/** Top-level names gitfleet fills itself: a values file may not set them (the per-host file may set `host`). */
export const RESERVED = ['host', 'unit', 'secrets'] as const;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export type Values = Record<string, unknown>;

const isMap = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Refuse keys that mean something to JavaScript objects, anywhere in the tree. */
function checkKeys(v: unknown, file: string, at: string): void {
  if (Array.isArray(v)) v.forEach((x, i) => checkKeys(x, file, `${at}[${i}]`));
  else if (isMap(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (FORBIDDEN_KEYS.has(k)) throw new Error(`${file}: key "${at ? `${at}.` : ''}${k}" is not allowed`);
      checkKeys(x, file, at ? `${at}.${k}` : k);
    }
  }
}

/**
 * A values file's text → a mapping. Errors name the file and the key, never a value (the file may be secret).
 * `allow` lists reserved top-level names this file may set.
 */
export function parseValues(file: string, text: string, allow: readonly string[] = []): Values {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    const pos = (err as { linePos?: Array<{ line: number }> }).linePos?.[0]?.line;
    throw new Error(`${file}: not valid YAML${pos ? ` (line ${pos})` : ''}`);
  }
  if (raw === null || raw === undefined) return {};
  if (!isMap(raw)) throw new Error(`${file}: must be a mapping of names to values`);
  checkKeys(raw, file, '');
  for (const k of RESERVED) if (k in raw && !allow.includes(k)) throw new Error(`${file}: "${k}" is a reserved name (gitfleet sets it)`);
  return raw;
}

/** Deep merge: mappings merge key by key, anything else (lists included) is replaced by the later layer. */
export function mergeValues(...layers: Values[]): Values {
  const out: Values = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) out[k] = isMap(v) && isMap(out[k]) ? mergeValues(out[k] as Values, v) : v;
  }
  return out;
}

/** What the inventory knows of a host (the built-in hosts table and agent facts; external CMDBs give ip/hostname). */
export interface HostInfo {
  ip: string;
  hostname?: string | null;
  env?: string | null;
  apps?: string[];
  source?: string | null;
  labels?: Record<string, string>;
  facts?: Record<string, unknown> | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((a, k) => (isMap(a) ? a[k] : undefined), o);
const FACT_META = new Set(['via', 'collector', 'collectedAt', 'receivedAt', 'identity', 'identityError', 'errors']);

/** `host.*`: inventory fields, CMDB custom fields (`labels`, and `idc` from the `idc` label), agent facts. */
export function hostFacts(h: HostInfo): Values {
  const labels = { ...(h.labels ?? {}) };
  const facts: Values = {};
  for (const [k, v] of Object.entries(h.facts ?? {})) if (!FACT_META.has(k)) facts[k] = v;
  return {
    ip: h.ip,
    hostname: h.hostname ?? null,
    env: h.env ?? null,
    apps: h.apps ?? [],
    source: h.source ?? null,
    idc: labels.idc ?? null,
    labels,
    cpus: num(get(facts, 'cpu', 'available')) ?? num(get(facts, 'cpu', 'cores')),
    memory_mb: num(get(facts, 'memory', 'totalBytes')) === null ? null : Math.floor(num(get(facts, 'memory', 'totalBytes'))! / 1048576),
    os: (get(facts, 'basic', 'os', 'id') as string | undefined) ?? null,
    os_version: (get(facts, 'basic', 'os', 'versionId') as string | undefined) ?? null,
    facts,
  };
}

/** One host's variables: values, then `unit`, `host` (facts, then the host file's `host:` corrections), then the host file. */
export function hostVariables(o: { values: Values; unit: Values; host: HostInfo; hostValues?: Values; secrets: Values }): Values {
  const { host: hostFix, ...hostRest } = o.hostValues ?? {};
  const merged = mergeValues(o.values, hostRest);
  const host = isMap(hostFix) ? mergeValues(hostFacts(o.host), hostFix) : hostFacts(o.host);
  return { ...merged, unit: o.unit, host, secrets: o.secrets };
}
